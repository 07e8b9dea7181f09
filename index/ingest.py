"""Ingest: load inputs, skip what is unchanged or duplicated, chunk and embed the rest, swap in a new snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline

from newsrag.errors import ArticleNotFoundError, IndexMismatchError, IndexNotFoundError, NewsRagError
from newsrag.index.articles import Article, InputError
from newsrag.index.chunking import article_to_document, make_splitter
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ledger import Ledger
from newsrag.index.loaders import iter_inputs
from newsrag.index.milvus_rows import collect_garbage
from newsrag.index.segments import segments_dir
from newsrag.index.settings import IndexSettings
from newsrag.index.storage import (
    Manifest,
    Snapshot,
    current_snapshot_name,
    empty_snapshot,
    new_vectors,
    open_to_write,
    save_snapshot,
    writer_lock,
)
from newsrag.index.vector_backend import VectorBackend

log = logging.getLogger(__name__)

# Articles per write of a large ingest: about 500 chunks' embeddings held at once, a part saved every
# half minute or so on 2 cores.
PART_ARTICLES = 500


@dataclass
class IngestReport:
    """What an ingest did, article by article."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (input, id of the kept copy)
    failed: list[InputError] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0
    warning: str | None = None  # the live snapshot was damaged: this write built on the one before it

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.new)} new, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.duplicates)} duplicate, {len(self.failed)} failed; "
            f"{self.chunks_written} chunks written in {self.seconds:.1f}s"
        )


def chunk_size_for(settings: IndexSettings, embedder: SentenceTransformerEmbedding) -> int:
    """The configured chunk size, never more than the embedder reads (it would silently cut the rest)."""
    if settings.chunk_size > embedder.max_tokens:
        raise NewsRagError(
            f"chunk size {settings.chunk_size} is more than {settings.embed_model} reads "
            f"({embedder.max_tokens} word pieces): the rest of each chunk would not be embedded"
        )
    return settings.chunk_size or embedder.max_tokens


def open_for_writing(
    settings: IndexSettings,
    embedder: SentenceTransformerEmbedding,
    rebuild: bool,
    vectors: VectorBackend | None = None,
) -> Snapshot:
    """The live snapshot to update (opened by its ledger, see `open_to_write`), or an empty one; the
    model is loaded only when a new index needs its size.

    A live snapshot found damaged is not built on: load_snapshot hands over the one before it (with its
    warning), or raises IndexDamagedError when there is none. The ledger finds a file missing or cut
    short, not one overwritten at the same size, which only a load finds. `vectors` is the store the
    settings name (default FAISS); a new index records it in its manifest.
    """
    if not rebuild:
        try:
            snapshot = open_to_write(settings.index_dir, vectors)
        except IndexNotFoundError:
            pass
        else:
            snapshot.manifest.check(settings.embed_model, settings.chunk_size, settings.chunk_overlap)
            return snapshot
    backend = vectors or VectorBackend()
    store = new_vectors(backend, settings.index_dir, embedder.dimension)
    if backend.is_milvus and current_snapshot_name(settings.index_dir) is None:
        _claim_collection(settings, backend, embedder.dimension)
    snapshot = empty_snapshot(
        Manifest(
            embed_model=settings.embed_model,
            dimension=embedder.dimension,
            chunk_size=chunk_size_for(settings, embedder),
            chunk_overlap=settings.chunk_overlap,
            vector_store=backend.kind,
            milvus_collection=backend.collection if backend.is_milvus else "",
        ),
        store,
    )
    snapshot.ledger = Ledger({})
    return snapshot


def _claim_collection(settings: IndexSettings, backend: VectorBackend, dimension: int) -> None:
    """A new index starts on an empty collection: rows it did not write would be nobody's to delete.

    An earlier first ingest of this index that was killed left rows under a pending token; those are
    deleted first, so running it again works.
    """
    milvus = backend.milvus(dimension)
    collect_garbage(settings.index_dir, milvus, segments_dir(settings.index_dir), kept=[])
    if held := len(milvus):
        raise IndexMismatchError(
            f"{backend.describe()} already holds {held} vectors that no index in {settings.index_dir} lists: "
            "set milvus_collection to a new name (one collection per index), or drop that collection"
        )


def ingest(
    settings: IndexSettings,
    paths: list[str],
    embedder: SentenceTransformerEmbedding,
    rebuild: bool = False,
    show_progress: bool = False,
    on_article: Callable[[int], None] | None = None,
) -> IngestReport:
    """Add or update the articles found in `paths`; every good input lands even when others fail."""
    # Read, fetch and parse everything before taking the lock: a slow feed server or a large
    # upload must not hold up other writers, and readers never wait for the lock at all.
    items: list[Article | InputError] = []
    for n, item in enumerate(iter_inputs(paths, feeds=settings.feed_policy, settings=settings), 1):
        if on_article:
            on_article(n)
        items.append(item)
    return ingest_articles(settings, items, embedder, rebuild, show_progress)


def ingest_articles(
    settings: IndexSettings,
    found: Sequence[Article | InputError],
    embedder: SentenceTransformerEmbedding,
    rebuild: bool = False,
    show_progress: bool = False,
) -> IngestReport:
    """Add or update articles already read (failures among them are reported).

    One snapshot write per PART_ARTICLES articles (a rebuild: one write, swapped in whole). A new
    article is stamped with when it was added (`metadata["added_at"]`); an updated one keeps
    its first stamp.
    """
    started = time.perf_counter()
    report = IngestReport()
    items: list[Article] = []
    for item in found:
        if isinstance(item, InputError):
            log.warning("skipped %s", item)
            report.failed.append(item)
        else:
            items.append(item)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with (
        writer_lock(settings.index_dir, settings.lock_timeout),
        VectorBackend.from_settings(settings) as vectors,
    ):
        snapshot = open_for_writing(settings, embedder, rebuild, vectors)
        report.warning = snapshot.warning
        snapshot.nodes = None  # the docstore changes below: later readers must not take the nodes as read
        ledger = _ledger(snapshot)
        by_hash = ledger.content_hashes()
        seen_ids: set[str] = set()
        batch: list[Article] = []
        for item in items:
            origin = item.metadata.get("origin", item.id)
            twin = by_hash.get(item.content_hash)
            if item.id in seen_ids or (twin is not None and twin != item.id):
                report.duplicates.append((origin, twin or item.id))
                continue
            seen_ids.add(item.id)
            by_hash[item.content_hash] = item.id
            if (known := ledger.articles.get(item.id)) is not None:
                if known.added_at:
                    item.metadata["added_at"] = known.added_at  # part of the stored document, so of its hash
                if known.doc_hash == article_to_document(item).hash:
                    report.unchanged.append(item.id)
                    continue
                report.updated.append(item.id)
            else:
                report.new.append(item.id)
            item.metadata.setdefault("added_at", now)
            batch.append(item)
        # A rebuild in which nothing landed but inputs failed (a mistyped path) keeps the old index.
        rebuild_landed = rebuild and bool(batch or report.unchanged or not report.failed)
        if rebuild:  # swapped in whole or not at all: the index it replaces answers until then
            report.chunks_written = _index_articles(snapshot, batch, embedder, show_progress) if batch else 0
            if rebuild_landed:
                save_snapshot(settings.index_dir, snapshot)
        else:
            report.chunks_written = _index_in_parts(settings, snapshot, batch, embedder, show_progress)
    report.seconds = time.perf_counter() - started
    return report


def _index_in_parts(
    settings: IndexSettings,
    snapshot: Snapshot,
    articles: list[Article],
    embedder: SentenceTransformerEmbedding,
    show_progress: bool,
) -> int:
    """Index `articles` PART_ARTICLES at a time, each part saved as it is done.

    Each part is one segment, so a large ingest holds only one part's embeddings at a time, and an
    interrupted one keeps the parts it finished: run again, they are unchanged and only the rest is done.
    """
    from tqdm import tqdm

    written = 0
    many = len(articles) > PART_ARTICLES
    with tqdm(
        total=len(articles), desc="Indexing", unit=" articles", disable=not (show_progress and many)
    ) as bar:
        for start in range(0, len(articles), PART_ARTICLES):
            part = articles[start : start + PART_ARTICLES]
            written += _index_articles(snapshot, part, embedder, show_progress and not many)
            save_snapshot(settings.index_dir, snapshot)
            bar.update(len(part))
    return written


def _index_articles(
    snapshot: Snapshot, articles: list[Article], embedder: SentenceTransformerEmbedding, show_progress: bool
) -> int:
    """Chunk, embed and upsert through LlamaIndex's pipeline; an updated article's old chunks are deleted."""
    for article in articles:
        if article.id in _ledger(snapshot):
            snapshot.drop_article(article.id)  # what the ledger lists: the pipeline sees a new article
    manifest = snapshot.manifest
    splitter = make_splitter(manifest.chunk_size, manifest.chunk_overlap, embedder.count_tokens)
    splitter.id_func = lambda i, doc: f"{doc.id_}#{i}"
    pipeline = IngestionPipeline(
        transformations=[splitter, embedder],
        docstore=snapshot.docstore,
        vector_store=snapshot.vectors,
        docstore_strategy=DocstoreStrategy.UPSERTS,
        disable_cache=True,
    )
    chunks = pipeline.run(documents=[article_to_document(a) for a in articles], show_progress=show_progress)
    for chunk in chunks:
        chunk.embedding = None  # vectors live in the vector store only (FAISS or Milvus)
    snapshot.docstore.add_documents(chunks, allow_update=True)
    return len(chunks)


def _ledger(snapshot: Snapshot) -> Ledger:
    assert snapshot.ledger is not None, "opened by open_for_writing or open_to_write, which set it"
    return snapshot.ledger


def remove(settings: IndexSettings, article_ids: list[str]) -> IngestReport:
    """Delete articles by id; unknown ids are reported as failed, known ones still go."""
    started = time.perf_counter()
    report = IngestReport()
    with (
        writer_lock(settings.index_dir, settings.lock_timeout),
        VectorBackend.from_settings(settings) as vectors,
    ):
        snapshot = open_to_write(settings.index_dir, vectors)
        report.warning = snapshot.warning
        snapshot.nodes = None  # the docstore changes below: later readers must not take the nodes as read
        for article_id in dict.fromkeys(article_ids):
            if article_id not in _ledger(snapshot):
                report.failed.append(
                    InputError(article_id, str(ArticleNotFoundError(f"no article with id '{article_id}'")))
                )
                continue
            snapshot.drop_article(article_id)
            report.removed.append(article_id)
        if report.removed:
            save_snapshot(settings.index_dir, snapshot)
    report.seconds = time.perf_counter() - started
    return report
