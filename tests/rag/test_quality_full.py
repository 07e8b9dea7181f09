"""The quality bars of the product on the whole bundled data (slow: CI runs them after the default suite)."""

from __future__ import annotations

import pytest

from newsrag.eval.baselines import lead
from newsrag.eval.formats import highlight_queries, load_highlights
from newsrag.eval.metrics import rouge_scores
from newsrag.eval.suites import retrieval_suite
from newsrag.rag.engine import NewsRAG
from newsrag.rag.extractive_summary import summarize_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(sample_index, embedder):
    return NewsRAG(sample_index, embedder)


def test_hybrid_beats_each_single_retriever_on_all_914_highlights(engine):
    queries = highlight_queries()
    assert len(queries) == 914
    rows = retrieval_suite(engine, queries).rows
    for metric in ("recall@1", "mrr@10"):
        assert rows["newsrag hybrid"][metric] > rows["BM25 only"][metric] > rows["dense only"][metric]


def test_single_article_summaries_beat_lead3_on_all_250_articles(engine):
    highlights = load_highlights()
    articles = {a.id: a for a in engine.catalog.articles()}
    ids = [i for i in highlights if i in articles]
    assert len(ids) == 250
    refs = [highlights[i] for i in ids]
    ours = [
        [s.text for s in summarize_text(articles[i].text, articles[i].title, engine.embedder.encode, 3)]
        for i in ids
    ]
    first3 = [[s.text for s in lead(articles[i].text)] for i in ids]
    mine, lead3 = rouge_scores(ours, refs), rouge_scores(first3, refs)
    for metric in ("rouge1", "rouge2", "rougeLsum"):
        assert mine[metric] > lead3[metric], (metric, mine, lead3)
