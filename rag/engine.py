"""NewsRAG: one loaded index, and the questions and summaries asked of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.schema import NodeWithScore, QueryBundle

from newsrag.errors import NewsRagError
from newsrag.index.articles import Article
from newsrag.index.catalog import Catalog
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import IngestReport, ingest
from newsrag.index.storage import current_snapshot_dir, current_snapshot_name, gc_paused, load_snapshot
from newsrag.index.terms import BM25, bm25_index, corpus_terms
from newsrag.index.vector_backend import VectorBackend
from newsrag.rag.answerers import Answerer, AnswerRequest, answerer_names, create_answerer
from newsrag.rag.filters import Filters
from newsrag.rag.lexical import TermWeights
from newsrag.rag.retrieve import HybridRetriever, LexicalIndex
from newsrag.rag.sentences import SentenceSplitCache
from newsrag.rag.summarize import summarize_article, summarize_topic
from newsrag.rag.types import Answer, Summary
from newsrag.settings import Settings

if TYPE_CHECKING:
    from newsrag.rag.llm_summary import LLMSummarizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Corpus:
    """Everything built from one index snapshot; swapped whole, so a request never mixes two snapshots."""

    catalog: Catalog
    retriever: HybridRetriever
    terms: TermWeights

    def article(self, article_id: str) -> Article:
        return self.catalog.article(article_id)


class NewsRAG:
    """Loads the index once; `ask` and `summarize_*` are safe to call from several threads.

    It follows the index on disk: at most every `reload_check_seconds` a request reads the CURRENT
    pointer, and when another process (`newsrag ingest`, `newsrag remove`) swapped in a new snapshot
    that request loads it; the others keep the corpus they have until the new one is swapped in.
    """

    reload_check_seconds = 1.0
    reload_retry_seconds = 30.0  # after a failed reload, serve the old corpus this long before trying again

    def __init__(self, settings: Settings, embedder: SentenceTransformerEmbedding | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedding(
            settings.embed_model, settings.embed_batch_size
        )
        self.splits = SentenceSplitCache()
        # One connection to the vector store (Milvus) for the engine's life, shared by every reload.
        self.vector_backend = VectorBackend.from_settings(settings)
        self.built: IngestReport | None = None  # set by open() when it had to build the index
        self.reload_error: str | None = None  # why the snapshot now live on disk is not the one served
        self._answerers: dict[str, Answerer] = {}
        # Re-entrant: an answerer may build on another (the llm one falls back to the extractive one).
        self._answerers_lock = threading.RLock()
        self._reloading = threading.Lock()
        self._next_check = 0.0
        self._serving: str | None = None  # what CURRENT named when the served corpus was loaded
        self.reload()

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: SentenceTransformerEmbedding | None = None,
        *,
        build_from: Sequence[str | Path] = (),
        on_build: Callable[[Sequence[str]], None] | None = None,
        show_progress: bool = False,
    ) -> NewsRAG:
        """The one way to a ready engine, for the CLI, the chat and eval alike.

        When `settings.index_dir` holds no index yet and `build_from` names inputs, they are
        indexed first (`on_build(inputs)` is told before that starts) and the report is kept in
        `engine.built`; without inputs a missing index is an IndexNotFoundError.
        """
        embedder = embedder or SentenceTransformerEmbedding(settings.embed_model, settings.embed_batch_size)
        report = None
        if build_from and current_snapshot_dir(settings.index_dir) is None:
            inputs = [str(p) for p in build_from]
            if on_build:
                on_build(inputs)
            report = ingest(settings, inputs, embedder, show_progress=show_progress)
        engine = cls(settings, embedder)
        engine.built = report
        return engine

    def reload(self) -> None:
        """Pick up the index's current snapshot now (after an ingest); raises when it cannot be loaded."""
        with self._reloading:
            self._load()

    def _load(self) -> None:
        with gc_paused():  # millions of objects built, none of them garbage (see gc_paused)
            self._build_corpus()

    def _build_corpus(self) -> None:
        snapshot = load_snapshot(self.settings.index_dir, self.vector_backend)
        snapshot.manifest.check(
            self.settings.embed_model, self.settings.chunk_size, self.settings.chunk_overlap
        )
        catalog = Catalog(snapshot)
        chunks = {c.node_id: c for c in catalog.chunks()}
        words = corpus_terms(snapshot.terms, list(chunks), chunks.__getitem__)
        retriever = HybridRetriever(
            snapshot.vectors,
            chunks,
            LexicalIndex(list(chunks.values()), bm25_index(words.bags[BM25])),
            self.embedder,
            top_k=self.settings.top_k,
            candidates=self.settings.candidates,
            per_article=self.settings.max_chunks_per_article,
        )
        terms = TermWeights.of_terms(words)
        self._corpus = Corpus(catalog, retriever, terms)  # one atomic swap
        self._serving = snapshot.live_name
        self.reload_error = None
        self._next_check = time.monotonic() + self.reload_check_seconds

    def _follow_index(self) -> None:
        """Reload when CURRENT names another snapshot; one request at a time, and never failing the request."""
        if not self._reloading.acquire(blocking=False):
            return  # another request is loading the new snapshot; this one keeps the corpus it has
        try:
            if time.monotonic() < self._next_check:
                return
            self._next_check = time.monotonic() + self.reload_check_seconds
            try:
                if current_snapshot_name(self.settings.index_dir) != self._serving:
                    log.info("the index in %s changed: loading its new snapshot", self.settings.index_dir)
                    self._load()
            except Exception as exc:  # a request is never failed by a reload: the old corpus still answers
                log.exception(
                    "reloading the index in %s failed; serving the snapshot loaded before",
                    self.settings.index_dir,
                )
                self.reload_error = f"serving the index as loaded before: reloading it failed ({exc})"
                self._next_check = time.monotonic() + self.reload_retry_seconds
        finally:
            self._reloading.release()

    @property
    def corpus(self) -> Corpus:
        """The corpus to answer from: the one loaded, after the (throttled) check that it is still live."""
        if time.monotonic() >= self._next_check:
            self._follow_index()
        return self._corpus

    @property
    def warning(self) -> str | None:
        """What a reader of the answers should know: a damaged index served from an earlier snapshot, a failed reload."""
        corpus = self.corpus
        notes = [n for n in (corpus.catalog.warning, self.reload_error) if n]
        return "; ".join(notes) or None

    @property
    def catalog(self) -> Catalog:
        return self.corpus.catalog

    @property
    def retriever(self) -> HybridRetriever:
        return self.corpus.retriever

    def article(self, article_id: str) -> Article:
        return self.catalog.article(article_id)

    # --- answerers -------------------------------------------------------------

    @staticmethod
    def answerer_names() -> list[str]:
        """The answerers that can be chosen by name (built in, registered, installed)."""
        return answerer_names()

    def answerer(self, name: str | None = None) -> Answerer:
        """Answerer `name` (default: the `answerer` setting), built on first use and kept."""
        name = name or self.settings.answerer
        with self._answerers_lock:
            found = self._answerers.get(name)
            if found is None:
                found = self._answerers[name] = create_answerer(name, self)
        return found

    # --- questions and summaries -----------------------------------------------

    def retrieve(
        self,
        query: QueryBundle | str,
        filters: Filters | None = None,
        top_k: int | None = None,
        corpus: Corpus | None = None,
        **options: object,
    ) -> list[NodeWithScore]:
        retriever = (corpus or self.corpus).retriever.with_options(filters=filters, top_k=top_k, **options)
        return retriever.retrieve(query if isinstance(query, QueryBundle) else QueryBundle(query))

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        answerer: str | None = None,
    ) -> Answer:
        """A cited answer; `history` holds the earlier user questions of the conversation, oldest first."""
        chosen, request = self._request(question, history, filters, top_k, answerer)
        return chosen.answer(request)

    def ask_stream(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        answerer: str | None = None,
    ) -> Iterator[str | Answer]:
        """As `ask`, but the answerer's text as it is written first (an LLM's tokens), the Answer last."""
        chosen, request = self._request(question, history, filters, top_k, answerer)
        yield from chosen.stream(request)

    def _request(
        self,
        question: str,
        history: list[str] | None,
        filters: Filters | None,
        top_k: int | None,
        answerer: str | None,
    ) -> tuple[Answerer, AnswerRequest]:
        question = question.strip()
        if not question:
            raise NewsRagError("the question is empty: ask something about the articles")
        chosen = self.answerer(answerer)
        corpus = self.corpus
        history = [h for h in (history or []) if h.strip()]
        retrieval_query = chosen.condense(question, history)
        bundle = QueryBundle(retrieval_query, embedding=self.embedder.get_query_embedding(retrieval_query))
        nodes = self.retrieve(bundle, filters, top_k, corpus=corpus)
        return chosen, AnswerRequest(question, retrieval_query, nodes, corpus, history, bundle.embedding)

    def summarize_article(self, article_id: str, sentences: int | None = None) -> Summary:
        """The article's summary: extractive, or written by the configured LLM with every sentence checked."""
        article = self.corpus.article(article_id)
        n = sentences or self.settings.summary_sentences
        summary = summarize_article(
            article, self.embedder.encode, n, self.splits, self.settings.summary_method
        )
        writer = self._llm_summarizer()
        return writer.article(article, summary, n) if writer else summary

    def summarize_topic(self, topic: str, filters: Filters | None = None, max_articles: int = 6) -> Summary:
        corpus = self.corpus
        hits = corpus.retriever.with_options(filters=filters, top_k=max_articles * 3, per_article=2).retrieve(
            QueryBundle(topic)
        )
        summary = summarize_topic(
            topic, hits, corpus.article, self.embedder.encode, self.splits, max_articles=max_articles
        )
        writer = self._llm_summarizer()
        return writer.topic(topic, summary) if writer else summary

    def _llm_summarizer(self) -> LLMSummarizer | None:
        """The LLM's summariser when an LLM is configured (it shares the llm answerer's model)."""
        if self.settings.llm == "none":
            return None
        from newsrag.rag.llm_answer import LLMAnswerer
        from newsrag.rag.llm_summary import LLMSummarizer

        answerer = self.answerer("llm")
        assert isinstance(answerer, LLMAnswerer)
        return LLMSummarizer(answerer.llm, answerer.checker, self.splits, answerer.lock)
