"""The likelihood signal of faithfulness (rag/likelihood.py): the real SmolLM2 GGUF through llama-cpp-python."""

from __future__ import annotations

import pytest

from newsrag.index.terms import english_stemmer
from newsrag.rag.likelihood import (
    LikelihoodCache,
    SentenceLikelihood,
    SourceLikelihood,
    novel_tokens,
    word_tokens,
)

ARTICLE = (
    "The harbour ferry between Kirkwall and Stromness will stop running on 3 March for six weeks of "
    "repairs, the island council said on Tuesday. Council leader Morag Flett said 2,000 passengers a "
    "week would have to take the bus instead. The repairs will cost £4.5 million."
)
FAITHFUL = "The harbour ferry will stop running on 3 March for six weeks of repairs."
CHANGED_NUMBER = "The harbour ferry will stop running on 3 March for nineteen weeks of repairs."
INVENTED_NAME = "Council leader Duncan Rowe said 2,000 passengers a week would have to take the bus."
FAITHFUL_QUOTE = "Council leader Morag Flett said 2,000 passengers a week would have to take the bus."


@pytest.fixture(scope="module")
def likelihood() -> SourceLikelihood:
    return SourceLikelihood(threads=1)


def means(likelihood: SourceLikelihood, source: str, sentences: list[str]) -> list[float]:
    """Each sentence's mean token log-probability after the source."""
    return [read.mean for read in likelihood.read(source, sentences)]


def test_a_sentence_the_article_states_is_likelier_than_a_changed_one(likelihood):
    faithful, changed = means(likelihood, ARTICLE, [FAITHFUL]), means(likelihood, ARTICLE, [CHANGED_NUMBER])
    assert faithful[0] > changed[0]
    quote, invented = (
        means(likelihood, ARTICLE, [FAITHFUL_QUOTE]),
        means(likelihood, ARTICLE, [INVENTED_NAME]),
    )
    assert quote[0] > invented[0]


def test_one_score_per_sentence_read_in_turn_after_the_article(likelihood):
    scores = means(likelihood, ARTICLE, [FAITHFUL, FAITHFUL_QUOTE])
    assert len(scores) == 2 and all(s < 0 for s in scores)
    assert means(likelihood, ARTICLE, []) == []


def test_each_sentences_token_log_probabilities_are_what_its_score_averages(likelihood):
    each = likelihood.token_logprobs(ARTICLE, [FAITHFUL, CHANGED_NUMBER])
    assert [len(a) for a in each] == [
        len(likelihood._tokens(FAITHFUL)),
        len(likelihood._tokens(" " + CHANGED_NUMBER)),
    ]
    assert all((a < 0).all() for a in each)
    assert means(likelihood, ARTICLE, [FAITHFUL, CHANGED_NUMBER]) == pytest.approx(
        [a.mean() for a in each], abs=1e-6
    )
    # The changed word is where the model is surprised: the changed sentence's least likely token is rarer.
    assert each[1].min() < each[0].min()


def test_a_words_tokens_stay_together_and_punctuation_stands_alone():
    pieces = ["Council", " leader", " Mor", "ag", " Fl", "ett", "'s", " 2", ",", "000", " passengers", "."]
    assert word_tokens(pieces) == [[0], [1], [2, 3], [4, 5], [6], [7], [8], [9], [10], [11]]
    assert word_tokens([]) == []


def test_the_new_words_are_those_whose_stems_the_source_lacks():
    stems = {"council", "leader", "morag", "flett", "passeng"}
    pieces = [" Council", " leader", " Dun", "can", " Rowe", " said", " passengers", " were", " angry", "."]
    # "said" and "were" are stopwords, never new; "passengers" is the source's "passenger"
    assert novel_tokens(pieces, stems, english_stemmer()) == [2, 3, 4, 8]


def test_an_invented_word_is_less_likely_than_the_sentence_around_it(likelihood):
    faithful, invented, changed = likelihood.read(ARTICLE, [FAITHFUL, INVENTED_NAME, CHANGED_NUMBER])
    assert faithful.novel == faithful.mean  # every word of it is the article's
    assert invented.novel < invented.mean  # "Duncan Rowe"
    assert changed.novel < changed.mean  # "nineteen"
    assert means(likelihood, ARTICLE, [FAITHFUL, INVENTED_NAME, CHANGED_NUMBER]) == pytest.approx(
        [faithful.mean, invented.mean, changed.mean], abs=1e-6
    )


def test_a_source_kept_from_the_call_before_gives_the_scores_of_a_fresh_read(likelihood):
    """The article stays in the KV cache between two summaries of it: the second summary's scores must
    be those of a model that read the article for it alone."""
    means(likelihood, ARTICLE, [FAITHFUL, CHANGED_NUMBER, INVENTED_NAME])  # a longer reply first
    again = means(likelihood, ARTICLE, [FAITHFUL_QUOTE])
    means(likelihood, "Another article altogether, about a school play.", [FAITHFUL])
    fresh = means(likelihood, ARTICLE, [FAITHFUL_QUOTE])
    assert again == pytest.approx(fresh, abs=1e-4)


def test_the_cache_serves_a_summary_scored_before_and_survives_a_reload(likelihood, tmp_path):
    path = tmp_path / "eval-cache" / "likelihood.json"
    cache = LikelihoodCache(path)
    first = cache.read(likelihood, ARTICLE, [FAITHFUL])
    assert isinstance(first[0], SentenceLikelihood)
    assert cache.read(likelihood, ARTICLE, [FAITHFUL]) == first and (cache.hits, cache.misses) == (1, 1)
    cache.save()
    reloaded = LikelihoodCache(path)
    assert reloaded.read(likelihood, ARTICLE, [FAITHFUL]) == first and reloaded.hits == 1
    path.write_text("{cut sho")
    assert LikelihoodCache(path).scores == {}  # a damaged cache is only slower


def test_scores_all_served_from_the_cache_never_load_the_model(likelihood, tmp_path):
    path = tmp_path / "likelihood.json"
    cache = LikelihoodCache(path)
    first = cache.read(likelihood, ARTICLE, [FAITHFUL])
    cache.save()
    fresh = SourceLikelihood(threads=1)  # what the next eval run constructs
    assert LikelihoodCache(path).read(fresh, ARTICLE, [FAITHFUL]) == first
    assert fresh._llm is None  # loading SmolLM2 costs seconds and memory the cached run does not need
    again = fresh.read(ARTICLE, [FAITHFUL])
    assert again[0] == pytest.approx(first[0], abs=1e-4) and fresh._llm is not None
