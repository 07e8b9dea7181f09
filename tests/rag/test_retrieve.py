"""Hybrid retrieval on the bundled corpus: filters hold and articles are diversified (quality: test_quality_full)."""

from __future__ import annotations

import pytest

from newsrag.rag.engine import NewsRAG
from newsrag.rag.filters import Filters
from newsrag.rag.retrieve import diversify


@pytest.fixture(scope="module")
def engine(rag_index, embedder):
    return NewsRAG.open(rag_index, embedder)


def test_source_and_date_filters_apply_before_the_cut(engine):
    hits = engine.retrieve("earthquake in Nepal", Filters(sources=("Daily Mail",)), top_k=5)
    assert hits and all(h.node.metadata["source"] == "Daily Mail" for h in hits)
    dated = engine.retrieve(
        "earthquake in Nepal", Filters(date_from="2015-04-26", date_to="2015-04-30"), top_k=5
    )
    assert dated and all("2015-04-26" <= h.node.metadata["published_at"][:10] <= "2015-04-30" for h in dated)
    assert any("Nepal" in h.node.get_content() for h in dated)


def test_filter_that_matches_nothing_returns_nothing(engine):
    assert engine.retrieve("Nepal", Filters(sources=("No Such Paper",))) == []


def test_one_article_does_not_fill_every_slot(engine):
    hits = engine.retrieve("Nepal earthquake death toll rescue", top_k=6)
    per_article = {}
    for h in hits:
        per_article[h.node.ref_doc_id] = per_article.get(h.node.ref_doc_id, 0) + 1
    assert max(per_article.values()) <= engine.settings.max_chunks_per_article
    assert len(per_article) >= 3


def test_diversify_keeps_rank_order(engine):
    ranked = engine.retriever.ranked("Nepal earthquake")
    kept = diversify(ranked, 4, 1)
    positions = [ranked.index(k) for k in kept]
    assert positions == sorted(positions)
    assert len({k.node.ref_doc_id for k in kept}) == len(kept)
