"""Hybrid retrieval: dense (FAISS or Milvus) and lexical (BM25) chunk rankings fused by LlamaIndex's QueryFusionRetriever.

Two fusions: relative score (min-max normalised scores, weighted sum; the default) and reciprocal
rank (RRF). On the 914 CNN/DailyMail highlight queries RRF lands between dense and BM25 (R@1 .912
vs .835 and .951) while relative score beats both (.952): BM25 is far the stronger signal on news,
and RRF's rank-only view cannot tell a close second from a distant one. QueryFusionRetriever runs
with one query (no LLM query generation, so its LLM is an explicit MockLLM) and our weights.
It replaced a hand-written fusion that also scored BM25-only candidates by their cosine: that
ranked 873 of 914 first against 870 here (R@5 .997 vs .996), too little for its 50 lines
(measured in one run on the bundled sample; `newsrag eval --suite retrieval` reproduces .952).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import bm25s
import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms.mock import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery

from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.terms import bm25_tokens
from newsrag.rag.filters import ChunkFilterIndex, Filters
from newsrag.rag.words import english_stemmer

log = logging.getLogger(__name__)


class DenseRetriever(BaseRetriever):
    """Chunks nearest to the question's embedding, restricted to allowed chunk ids when filtering."""

    def __init__(
        self,
        store: BasePydanticVectorStore,
        chunks: dict[str, TextNode],
        embedder: SentenceTransformerEmbedding,
        top_k: int,
        allowed: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.store, self.chunks, self.embedder, self.top_k, self.allowed = (
            store,
            chunks,
            embedder,
            top_k,
            allowed,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        embedding = query_bundle.embedding or self.embedder.get_query_embedding(query_bundle.query_str)
        result = self.store.query(
            VectorStoreQuery(query_embedding=embedding, similarity_top_k=self.top_k, node_ids=self.allowed)
        )
        return [
            NodeWithScore(node=self.chunks[i], score=s)
            for i, s in zip(result.ids or [], result.similarities or [], strict=True)
            if i in self.chunks
        ]


class LexicalIndex:
    """BM25 (bm25s, stemmed) over the chunks with their titles; `bm25` is built from the words the
    index's segments counted (`terms.bm25_index`), one row per chunk in this order."""

    def __init__(self, chunks: Sequence[TextNode], bm25: bm25s.BM25) -> None:
        self.chunks = list(chunks)
        self.stemmer = english_stemmer()
        self.bm25 = bm25
        if self.bm25.scores["num_docs"] != len(self.chunks):
            raise ValueError(
                f"a BM25 index of {self.bm25.scores['num_docs']} rows for {len(self.chunks)} chunks"
            )

    @functools.cached_property
    def filter_index(self) -> ChunkFilterIndex:
        """The chunks by date, source and article, built at the first filtered question."""
        return ChunkFilterIndex(self.chunks)

    def search(self, query: str, top_k: int, mask: np.ndarray | None = None) -> list[NodeWithScore]:
        if not self.chunks:
            return []
        tokens = bm25_tokens([query], self.stemmer)
        if not tokens[0]:
            return []
        k = min(top_k, len(self.chunks))
        ids, scores = self.bm25.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [
            NodeWithScore(node=self.chunks[int(i)], score=float(s))
            for i, s in zip(ids[0], scores[0], strict=True)
            if s > 0
        ]


class LexicalRetriever(BaseRetriever):
    def __init__(self, index: LexicalIndex, top_k: int, mask: np.ndarray | None = None) -> None:
        super().__init__()
        self.index, self.top_k, self.mask = index, top_k, mask

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.index.search(query_bundle.query_str, self.top_k, self.mask)


def diversify(hits: Sequence[NodeWithScore], top_k: int, per_article: int) -> list[NodeWithScore]:
    """Keep rank order but at most `per_article` chunks of one article, so several stories get a slot."""
    kept: list[NodeWithScore] = []
    counts: dict[str, int] = {}
    for hit in hits:
        article = hit.node.ref_doc_id or hit.node.node_id
        if counts.get(article, 0) < per_article:
            counts[article] = counts.get(article, 0) + 1
            kept.append(hit)
            if len(kept) == top_k:
                break
    return kept


class HybridRetriever(BaseRetriever):
    """Dense + BM25 over chunks, filtered before the cut, fused, then diversified by article."""

    def __init__(
        self,
        store: BasePydanticVectorStore,
        chunks: dict[str, TextNode],
        lexical: LexicalIndex,
        embedder: SentenceTransformerEmbedding,
        top_k: int = 6,
        candidates: int = 40,
        per_article: int = 2,
        dense_weight: float = 0.3,
        filters: Filters | None = None,
        mode: str = "hybrid",
        fusion: str = "relative",
    ) -> None:
        super().__init__()
        self.store, self.chunks, self.lexical, self.embedder = store, chunks, lexical, embedder
        self.top_k, self.candidates, self.per_article, self.dense_weight = (
            top_k,
            candidates,
            per_article,
            dense_weight,
        )
        self.filters = filters or Filters()
        self.mode, self.fusion = mode, fusion

    def with_options(self, **changes: object) -> HybridRetriever:
        """A copy with other top-k, filters or mode; cheap, so each request can have its own."""
        fields = dict(
            store=self.store, chunks=self.chunks, lexical=self.lexical, embedder=self.embedder, top_k=self.top_k,
            candidates=self.candidates, per_article=self.per_article, dense_weight=self.dense_weight,
            filters=self.filters, mode=self.mode, fusion=self.fusion,
        )  # fmt: skip
        fields.update({k: v for k, v in changes.items() if v is not None})
        return HybridRetriever(**fields)  # type: ignore[arg-type]

    def retrievers(self) -> dict[str, BaseRetriever]:
        """The single retrievers to fuse, each restricted to the filtered chunks before its cut."""
        allowed: list[str] | None = None
        mask: np.ndarray | None = None
        if self.filters.active:
            chunks = self.lexical.chunks
            positions = self.lexical.filter_index.positions(self.filters)
            allowed = [chunks[k].node_id for k in positions.tolist()]
            mask = np.zeros(len(chunks), dtype=np.float32)
            mask[positions] = 1.0
        out: dict[str, BaseRetriever] = {}
        if self.mode in ("hybrid", "dense"):
            out["dense"] = DenseRetriever(self.store, self.chunks, self.embedder, self.candidates, allowed)
        if self.mode in ("hybrid", "bm25"):
            out["bm25"] = LexicalRetriever(self.lexical, self.candidates, mask)
        return out

    def ranked(self, query: str, embedding: list[float] | None = None) -> list[NodeWithScore]:
        """The fused ranking of all candidates, before diversification."""
        if embedding is None and self.mode != "bm25":
            embedding = self.embedder.get_query_embedding(query)
        bundle = QueryBundle(query, embedding=embedding)
        retrievers = self.retrievers()
        if len(retrievers) == 1:
            return next(iter(retrievers.values())).retrieve(bundle)
        fusion = QueryFusionRetriever(
            [retrievers["dense"], retrievers["bm25"]],
            llm=MockLLM(),  # never called: with one query there is nothing to generate
            mode=FUSION_MODES.RECIPROCAL_RANK if self.fusion == "rrf" else FUSION_MODES.RELATIVE_SCORE,
            similarity_top_k=2 * self.candidates,
            num_queries=1,
            use_async=False,
            retriever_weights=[self.dense_weight, 1 - self.dense_weight],  # RRF ignores them
        )
        return fusion.retrieve(bundle)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        ranked = self.ranked(query_bundle.query_str, query_bundle.embedding)
        return diversify(ranked, self.top_k, self.per_article)


def article_ranking(hits: Sequence[NodeWithScore]) -> list[str]:
    """Article ids in the order their first chunk appears."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.node.ref_doc_id or hit.node.node_id, None)
    return list(seen)
