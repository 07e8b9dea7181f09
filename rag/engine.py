"""NewsRAG: one loaded index, and the questions and summaries asked of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle
from newsrag.index.articles import Article
from newsrag.index.catalog import Catalog
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.storage import load_snapshot
from newsrag.rag.answer import ExtractiveSynthesizer, SentenceSplitCache, answer_from_reply
from newsrag.rag.filters import Filters
from newsrag.rag.followup import condense, key_terms, needs_context
from newsrag.rag.lexical import TermWeights
from newsrag.rag.retrieve import HybridRetriever, LexicalIndex
from newsrag.rag.summarize import summarize_article, summarize_topic
from newsrag.rag.types import Answer, Summary

from newsrag.errors import NewsRagError
from newsrag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """Everything built from one index snapshot; swapped whole, so a request never mixes two snapshots."""

    catalog: Catalog
    retriever: HybridRetriever
    synthesizer: ExtractiveSynthesizer
    terms: TermWeights


class NewsRAG:
    """Loads the index once; `ask` and `summarize_*` are safe to call from several threads."""

    def __init__(self, settings: Settings, embedder: SentenceTransformerEmbedding | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedding(
            settings.embed_model, settings.embed_batch_size
        )
        self.splits = SentenceSplitCache()
        self.reload()

    def reload(self) -> None:
        """Pick up the index's current snapshot (after an ingest) without a restart."""
        snapshot = load_snapshot(self.settings.index_dir)
        snapshot.manifest.check(
            self.settings.embed_model, self.settings.chunk_size, self.settings.chunk_overlap
        )
        catalog = Catalog(snapshot)
        chunks = {c.node_id: c for c in catalog.chunks()}
        retriever = HybridRetriever(
            snapshot.vectors,
            chunks,
            LexicalIndex(list(chunks.values())),
            self.embedder,
            top_k=self.settings.top_k,
            candidates=self.settings.candidates,
            per_article=self.settings.max_chunks_per_article,
        )
        terms = TermWeights(c.text for c in chunks.values())
        synthesizer = ExtractiveSynthesizer(
            self.embedder, terms, catalog.article, self.splits, max_sentences=self.settings.answer_sentences
        )
        self.loaded = Loaded(catalog, retriever, synthesizer, terms)  # one atomic swap

    @property
    def catalog(self) -> Catalog:
        return self.loaded.catalog

    @property
    def retriever(self) -> HybridRetriever:
        return self.loaded.retriever

    @property
    def synthesizer(self) -> ExtractiveSynthesizer:
        return self.loaded.synthesizer

    @property
    def terms(self) -> TermWeights:
        return self.loaded.terms

    def article(self, article_id: str) -> Article:
        return self.catalog.article(article_id)

    def retrieve(
        self,
        query: QueryBundle | str,
        filters: Filters | None = None,
        top_k: int | None = None,
        loaded: Loaded | None = None,
        **options: object,
    ) -> list[NodeWithScore]:
        retriever = (loaded or self.loaded).retriever.with_options(filters=filters, top_k=top_k, **options)
        return retriever.retrieve(query if isinstance(query, QueryBundle) else QueryBundle(query))

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        synthesizer: BaseSynthesizer | None = None,
    ) -> Answer:
        """A cited answer; `history` holds the earlier user questions of the conversation, oldest first.

        `synthesizer` replaces the extractive one (an LLM's); its reply keeps the [n] it wrote,
        resolved to the retrieved passages in rank order, with `supported` left unchecked (None).
        """
        question = question.strip()
        if not question:
            raise NewsRagError("the question is empty: ask something about the articles")
        loaded = self.loaded
        history = [h for h in (history or []) if h.strip()]
        retrieval_query = condense(question, history)
        context = (
            [t for h in history[-2:] for t in key_terms(h)] if history and needs_context(question) else []
        )
        bundle = QueryBundle(retrieval_query, embedding=self.embedder.get_query_embedding(retrieval_query))
        nodes = self.retrieve(bundle, filters, top_k, loaded=loaded)
        synth = synthesizer or loaded.synthesizer
        response = synth.synthesize(bundle, nodes, question=question, context_terms=context)
        answer = (response.metadata or {}).get("answer")
        if isinstance(answer, Answer):
            return answer
        mode = type(synth).__name__
        return answer_from_reply(
            question, retrieval_query, str(response), nodes, loaded.catalog.article, mode
        )

    def summarize_article(self, article_id: str, sentences: int | None = None) -> Summary:
        article = self.catalog.article(article_id)
        return summarize_article(
            article, self.embedder.encode, sentences or self.settings.summary_sentences, self.splits
        )

    def summarize_topic(self, topic: str, filters: Filters | None = None, max_articles: int = 6) -> Summary:
        loaded = self.loaded
        hits = loaded.retriever.with_options(filters=filters, top_k=max_articles * 3, per_article=2).retrieve(
            QueryBundle(topic)
        )
        return summarize_topic(
            topic, hits, loaded.catalog.article, self.embedder.encode, self.splits, max_articles=max_articles
        )
