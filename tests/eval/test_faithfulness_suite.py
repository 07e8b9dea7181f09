"""The faithfulness suite on real FRANK judgements of two bundled articles: the claim check's row, and the
row with SmolLM2's likelihood (the llama-cpp extra), whose scores are kept for the next run."""

from __future__ import annotations

import pytest

from newsrag.eval.formats import CNNDM_DIR, read_jsonl
from newsrag.eval.suites import faithfulness_suite
from newsrag.rag.engine import NewsRAG
from newsrag.rag.likelihood import LikelihoodCache, SourceLikelihood


@pytest.mark.slow  # the model reads ten summaries' articles: minutes on a busy 2-core machine
def test_the_suite_adds_the_likelihood_row_and_reuses_its_scores(small_index, embedder, tmp_path):
    engine = NewsRAG(small_index, embedder)
    articles = {a.id: a for a in engine.catalog.articles()}
    peers = {r["id"]: r for r in read_jsonl(CNNDM_DIR / "peer_summaries.jsonl")}
    judged = [j for j in read_jsonl(CNNDM_DIR / "factuality.jsonl") if j["id"] in articles]
    two = sorted({j["id"] for j in judged})[:2]
    judgements = [{**j, "split": "test"} for j in judged if j["id"] in two]  # the suite reports test rows
    scorer = SourceLikelihood(threads=1)
    cache = LikelihoodCache(tmp_path / "likelihood.json")

    result = faithfulness_suite(engine, articles, peers, judgements, (scorer, cache))
    row = f"newsrag claim check + likelihood ({scorer.name})"
    assert {"newsrag claim check", row, "unigram precision (baseline)"} <= set(result.rows)
    assert -1.0 <= result.rows[row]["pearson"] <= 1.0
    assert (cache.hits, cache.misses) == (0, len(judgements))

    again = faithfulness_suite(engine, articles, peers, judgements, (scorer, cache))
    assert again.rows[row] == result.rows[row] and cache.hits == len(judgements)
    without = faithfulness_suite(engine, articles, peers, judgements)
    assert row not in without.rows and "llama-cpp extra" in " ".join(without.notes)
