"""Hand-computed cases, so a wrong metric definition fails loudly."""

import math

import pytest

from newsrag.eval.metrics import (
    answer_contains,
    citation_scores,
    dedupe,
    detokenize_ptb,
    mrr_at_k,
    multihop_metrics,
    multihop_relevant,
    ndcg_at_k,
    normalize_answer,
    pearson,
    recall_at_k,
    refusal_scores,
    retrieval_report,
    rouge_scores,
    spearman,
    unigram_precision,
)

# --- retrieval -------------------------------------------------------------


def test_gold_at_rank_three():
    ranked = ["a", "b", "gold", "c"]
    assert recall_at_k(ranked, "gold", 1) == 0.0
    assert recall_at_k(ranked, "gold", 5) == 1.0
    assert mrr_at_k(ranked, "gold", 10) == pytest.approx(1 / 3)
    assert ndcg_at_k(ranked, "gold", 10) == pytest.approx(0.5)  # 1/log2(4)


def test_duplicates_keep_first_occurrence():
    assert dedupe(["a", "a", "b", "a", "gold"]) == ["a", "b", "gold"]
    assert mrr_at_k(["a", "a", "a", "b", "gold"], "gold", 10) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "a", "a", "a", "a", "gold"], "gold", 2) == 1.0


def test_beyond_k_scores_zero():
    ranked = ["a", "b", "c", "d", "e", "gold"]
    assert recall_at_k(ranked, "gold", 5) == 0.0
    assert mrr_at_k(ranked, "gold", 5) == 0.0
    assert ndcg_at_k(ranked, "gold", 5) == 0.0
    assert mrr_at_k(ranked, "gold", 6) == pytest.approx(1 / 6)


def test_report_averages_three_queries():
    ranked = [["g1", "x"], ["x", "g2", "y"], ["x", "y", "z"]]
    report = retrieval_report(ranked, ["g1", "g2", "g3"])
    assert set(report) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert report["recall@1"] == pytest.approx(1 / 3)
    assert report["recall@5"] == pytest.approx(2 / 3)
    assert report["recall@10"] == pytest.approx(2 / 3)
    assert report["mrr@10"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert report["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0) / 3)


def test_report_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        retrieval_report([["a"]], ["a", "b"])


# --- answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The 2,000 officers!", "2000 officers"),
        ("\u201cA step in the right direction,\u201d he said", "step in right direction he said"),
        ("Kilmarnock\u2019s   manager", "kilmarnocks manager"),
        ("1,000,000 people", "1000000 people"),
        ("\u00a3330million", "330 million"),
        ("$1.2 million.", "1.2 million"),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_answer_contains_surface_forms():
    assert answer_contains("About 2000 agents would remain in the state.", ["2,000"])
    assert answer_contains("Kilmarnock's new manager", ["Kilmarnock\u2019s"])
    assert answer_contains("RBS lost \u00a3446 million.", ["\u00a3446million"])
    assert answer_contains("It was a step in right direction.", ["a step in the right direction"])
    assert answer_contains("Who? Tom Homan.", ["Homan", "Tom Homan"])


def test_answer_contains_needs_whole_tokens():
    assert not answer_contains("It happened in 1930.", ["30"])
    assert not answer_contains("It sold for $12 million.", ["$1.2 million"])
    assert not answer_contains("anything", [])
    assert not answer_contains("anything", ["the"])  # normalises to nothing


# --- citations and refusals ------------------------------------------------


def test_citation_precision_and_recall():
    score = citation_scores(
        ["Homan said 700 officers would leave.", "Frey spoke.", "Seven hundred left."], ["700"]
    )
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == 1.0
    assert (score.cited, score.supporting) == (3, 1)


def test_citations_without_support_or_without_citations():
    assert citation_scores(["Frey spoke."], ["700"]).recall == 0.0
    empty = citation_scores([], ["700"])
    assert (empty.precision, empty.recall, empty.cited) == (0.0, 0.0, 0)


def test_refusal_precision_recall():
    score = refusal_scores([(True, True), (True, False), (False, True), (False, False), (True, True)])
    assert (score.refused, score.unanswerable, score.correct) == (3, 3, 2)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)


def test_refusal_nothing_refused():
    score = refusal_scores([(False, True), (False, False)])
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)


# --- ROUGE and detokenisation -----------------------------------------------


def test_rouge_identical_and_disjoint():
    same = rouge_scores([["The club confirmed the manager."]], [["The club confirmed the manager."]])
    assert same == pytest.approx({"rouge1": 100.0, "rouge2": 100.0, "rougeLsum": 100.0})
    disjoint = rouge_scores([["apples bananas cherries"]], [["trains planes boats"]])
    assert disjoint == pytest.approx({"rouge1": 0.0, "rouge2": 0.0, "rougeLsum": 0.0})
    both = rouge_scores([["apples bananas"], ["trains planes"]], [["apples bananas"], ["ships boats"]])
    assert both["rouge1"] == pytest.approx(50.0)


def test_rouge_hand_case():
    # unigrams 2 of 3 shared -> F1 2/3; bigrams 1 of 2 shared -> 1/2; LCS "the cat" -> 2/3
    scores = rouge_scores([["the cat sat"]], [["the cat ran"]])
    assert scores["rouge1"] == pytest.approx(200 / 3)
    assert scores["rouge2"] == pytest.approx(50.0)
    assert scores["rougeLsum"] == pytest.approx(200 / 3)


def test_rougelsum_sees_sentence_boundaries():
    # Swapped sentences: one joined sequence has LCS 2 of 4 tokens, per-sentence union LCS covers all 4.
    scores = rouge_scores([["apple pie", "river boat"]], [["river boat", "apple pie"]])
    assert scores["rougeLsum"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("tokenized", "expected"),
    [
        (
            "gary locke will be confirmed as kilmarnock 's permanent manager on friday .",
            "gary locke will be confirmed as kilmarnock's permanent manager on friday.",
        ),
        ("he said `` i 'm happy '' , and left .", 'he said "i\'m happy", and left.'),
        ("-lrb- cnn -rrb- the club , which is 12 % up", "(cnn) the club, which is 12% up"),
        ("they do n't know and ca n't say", "they don't know and can't say"),
        ("Locke 's side won ; fans cheered !", "Locke's side won; fans cheered!"),
    ],
)
def test_detokenize_ptb(tokenized, expected):
    assert detokenize_ptb(tokenized) == expected


# --- correlation and claim-support baseline ---------------------------------


def test_pearson_and_spearman_hand_case():
    # deviations (-1.5,-.5,.5,1.5) and (-1.5,.5,-.5,1.5): 4 / sqrt(5 * 5) = 0.8
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3, 4], [1, 10, 100, 1000]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [1, 10, 100, 1000]) < 0.9
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_correlation_rejects_bad_input():
    with pytest.raises(ValueError):
        pearson([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        spearman([1.0], [1.0])
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_unigram_precision():
    assert unigram_precision("locke 's deal .", "Gary Locke\u2019s three-year deal") == 1.0
    assert unigram_precision("The moon landing", "the landing") == pytest.approx(2 / 3)
    assert unigram_precision("", "anything") == 0.0


# --- MultiHop-RAG -------------------------------------------------------------


def test_multihop_relevance_ignores_spaces_and_newlines():
    chunk = "In its first week the Harbor City tram\ncarried 52,000 riders."
    assert multihop_relevant(chunk, ["Harbor City tram carried 52,000 riders"])
    assert multihop_relevant(chunk, ["HarborCity tram carried52,000"])
    assert multihop_relevant("x", ["no", "x"])
    assert not multihop_relevant(chunk, ["Harbor City bus carried 52,000 riders"])


def test_multihop_only_top_ten_counts():
    retrieved = [[f"noise {i}" for i in range(10)] + ["the fact"]]
    assert multihop_metrics(retrieved, [["the fact"]]) == {
        "hits@4": 0.0,
        "hits@10": 0.0,
        "map@10": 0.0,
        "mrr@10": 0.0,
    }


def test_multihop_hits_map_mrr():
    facts = [["fact one", "fact two"], ["fact three"]]
    retrieved = [
        ["noise", "fact two here", "noise", "fact one and fact two"],  # ranks 2 (new: two) and 4 (new: one)
        ["noise"] * 5 + ["fact three"],  # rank 6
    ]
    m = multihop_metrics(retrieved, facts)
    assert m["hits@4"] == pytest.approx(0.5)
    assert m["hits@10"] == pytest.approx(1.0)
    assert m["mrr@10"] == pytest.approx((1 / 2 + 1 / 6) / 2)
    assert m["map@10"] == pytest.approx(((1 / 2 + 1 / 4) / 2 + (1 / 6) / 1) / 2)


def test_multihop_credits_a_repeated_fact_once_like_the_official_script():
    assert multihop_metrics([["fact"]], [["fact", "fact"]])["map@10"] == pytest.approx(0.5)


def test_multihop_rejects_null_queries():
    with pytest.raises(ValueError, match="null"):
        multihop_metrics([["x"]], [[]])
