"""The index directory: versioned snapshots swapped in atomically, a manifest, and a writer lock.

Layout under `index_dir`:
    CURRENT           name of the live snapshot, replaced atomically (os.replace)
    .lock             flock'd by the one writer
    v-<stamp>/        manifest.json, and segments.json: the segments it is made of, oldest first
    segments/s-<stamp>/  what one write added and removed (see `segments`), shared by snapshots
A writer writes a segment of what it changed (merging the newest small ones now and then), then a
new snapshot listing the segments beside the live one, and swaps CURRENT only when both are
complete, so a killed writer leaves the previous snapshot live and loadable. Every load checks the
files and their counts against each other; a damaged live snapshot falls back to the one before it.

With `vector_store = "milvus"` the vectors are rows of a Milvus collection instead (see `milvus_rows`):
each segment lists its rows in rows.json, a write adds rows under keys no other write uses, and the
rows no kept snapshot lists are deleted where segments are pruned, so the same swap stays the commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import logging
import os
import shutil
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from llama_index.core import Document
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore

from newsrag.errors import (
    IndexDamagedError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    NewsRagError,
)
from newsrag.index.ledger import HASHES, NODES, REF_DOCS, Ledger, articles_of
from newsrag.index.milvus_rows import ROWS_FILE, MilvusRows, collect_garbage
from newsrag.index.segments import (
    DOCSTORE,
    Collections,
    SegmentRef,
    check_sizes,
    fsync_path,
    merge_tail,
    prune_segments,
    replay,
    replay_folder,
    replay_ledger,
    segments_dir,
    write_segment,
)
from newsrag.index.terms import SegmentTerms
from newsrag.index.vector_backend import VectorBackend
from newsrag.index.vector_store import IDS_FILE, FaissArticleStore, read_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # snapshots made of segments
LEGACY_FORMAT = (
    1  # one folder held the whole docstore and vectors: read as it is, rewritten at the next write
)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SEGMENT_LIST = "segments.json"
SNAPSHOT_FILES = (MANIFEST, SEGMENT_LIST)
REPAIR = "run `newsrag ingest PATH --rebuild` with your articles to rebuild it"


@dataclass
class Manifest:
    """What an index was built with; opening it with other settings is refused."""

    embed_model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    vector_index: str = "flat"  # the FAISS index of the largest segment: "flat" (exact) or "hnsw"
    # Where the vectors are: "faiss" (in the segments) or "milvus" (rows of the collection named here).
    # Written only for Milvus, so a FAISS manifest reads as before (and by earlier versions).
    vector_store: str = "faiss"
    milvus_collection: str = ""
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        """The manifest as written by this version: known keys only, each of its type."""
        if not isinstance(data, dict):
            raise IndexDamagedError(f"{MANIFEST}: not a JSON object")
        version = data.get("format_version")
        if type(version) is int and version not in (LEGACY_FORMAT, FORMAT_VERSION):
            raise IndexDamagedError(f"{MANIFEST}: format {version}, this version reads {FORMAT_VERSION}")
        types = typing.get_type_hints(cls)
        unknown = sorted(set(data) - set(types))
        if unknown:
            raise IndexDamagedError(f"{MANIFEST}: unknown keys {', '.join(unknown)}")
        missing = sorted(
            set(types)
            - set(data)
            - {
                "format_version",
                "created_at",
                "updated_at",
                "vector_index",
                "vector_store",
                "milvus_collection",
            }
        )
        if missing:
            raise IndexDamagedError(f"{MANIFEST}: missing keys {', '.join(missing)}")
        wrong = sorted(k for k, v in data.items() if type(v) is not types[k])
        if wrong:
            raise IndexDamagedError(f"{MANIFEST}: values of the wrong type for {', '.join(wrong)}")
        store, collection = data.get("vector_store", "faiss"), data.get("milvus_collection", "")
        if store not in ("faiss", "milvus") or (store == "milvus") != bool(collection):
            raise IndexDamagedError(
                f"{MANIFEST}: vector_store {store!r} with milvus_collection {collection!r}"
            )
        return cls(**data)

    def to_json(self) -> dict[str, object]:
        """What is written: every key, but the vector-store keys only when they say Milvus."""
        data = asdict(self)
        if self.vector_store == "faiss":
            del data["vector_store"], data["milvus_collection"]
        return data

    def check(self, embed_model: str, chunk_size: int, chunk_overlap: int) -> None:
        """Refuse other settings; chunk_size 0 means 'what the embedder reads', fixed by the model."""
        chunk_size = chunk_size or self.chunk_size
        wanted = (embed_model, chunk_size, chunk_overlap, FORMAT_VERSION)
        have = (self.embed_model, self.chunk_size, self.chunk_overlap, self.format_version)
        if wanted != have:
            raise IndexMismatchError(
                f"index built with {self.embed_model} ({self.dimension}-d), chunks of {self.chunk_size} "
                f"word pieces with overlap {self.chunk_overlap}, format {self.format_version}; settings ask for "
                f"{embed_model}, chunks of {chunk_size} with overlap {chunk_overlap}, format {FORMAT_VERSION}: "
                "run `newsrag ingest PATH --rebuild`"
            )


@dataclass
class Snapshot:
    """One loaded version of the index: articles and chunks (docstore) and their vectors.

    `fallback_from` is the damaged live snapshot this one stands in for, and `warning` says so.
    """

    manifest: Manifest
    docstore: SimpleDocumentStore
    vectors: FaissArticleStore | MilvusRows
    path: Path | None = None
    fallback_from: Path | None = None
    warning: str | None = None
    # The docstore's nodes as read and checked, deserialised once; None once a writer changes the docstore.
    nodes: dict[str, BaseNode] | None = field(default=None, repr=False)
    segments: list[SegmentRef] = field(default_factory=list)
    # Set by `begin_write`: the docstore's entries and the next vector id as loaded, to write only the changes.
    base: Collections | None = field(default=None, repr=False)
    base_next_id: int = 0
    legacy: bool = (
        False  # read from a snapshot of format 1, which lists no segments: the next write writes all
    )
    # The segments' counted words as loaded (`terms.corpus_terms` counts any chunk they lack).
    terms: list[SegmentTerms] = field(default_factory=list, repr=False)
    # What a writer knows of the live articles (see `ledger`): set by `open_for_writing`.
    ledger: Ledger | None = field(default=None, repr=False)
    # Opened by `open_for_appending`: the docstore and vectors hold only what this writer adds, and the
    # keys it removes from the segments it builds on are kept in `removed`.
    appending: bool = False
    removed: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def begin_write(self) -> None:
        """Remember what was loaded, so that `save_snapshot` writes only what changed since.

        An appending snapshot starts empty again instead: what it added is in its segment now.
        """
        self.removed = {}
        if self.appending:
            self.docstore, self.vectors = SimpleDocumentStore(), self.vectors.emptied()
            self.base, self.base_next_id = {}, self.vectors.next_id
            return
        if self.legacy:
            return
        self.base = {c: dict(entries) for c, entries in _collections(self.docstore).items()}
        self.base_next_id = self.vectors.next_id

    def changes(self) -> tuple[Collections, dict[str, list[str]]]:
        """Entries added or replaced since `begin_write` (all of them without it), and keys removed."""
        current = _collections(self.docstore)
        base = self.base or {}
        added = {
            c: {k: v for k, v in entries.items() if base.get(c, {}).get(k) is not v}
            for c, entries in current.items()
        }
        removed = {c: entries.keys() - current.get(c, {}).keys() for c, entries in base.items()}
        for c, keys in self.removed.items():  # a key added again is replaced by its new entry anyway
            removed[c] = removed.get(c, set()) | (keys - current.get(c, {}).keys())
        return added, {c: sorted(keys) for c, keys in removed.items()}

    def drop_article(self, article_id: str) -> None:
        """Delete an article and its chunks, as the ledger lists them; an appending snapshot, which never
        held them, records their keys to remove from the segments it builds on."""
        entry = self.ledger.articles.get(article_id) if self.ledger else None
        chunks = list(entry.chunks) if entry else []
        for collection, keys in (
            (NODES, [article_id, *chunks]),
            (HASHES, [article_id, *chunks]),
            (REF_DOCS, [article_id]),
        ):
            self.removed.setdefault(collection, set()).update(keys)
        self.docstore.delete_ref_doc(article_id, raise_error=False)
        self.docstore._kvstore.delete(article_id, collection=self.docstore._metadata_collection)
        self.docstore._kvstore.delete(article_id, collection=self.docstore._node_collection)
        self.vectors.delete(article_id)  # Milvus: from this snapshot; the rows go when no snapshot lists them

    def size_bytes(self) -> int:
        """Bytes on disk of this snapshot: its own folder and the segments it lists."""
        if self.path is None:
            return 0
        folders = [self.path, *(segments_dir(self.path.parent) / r.name for r in self.segments)]
        return sum(directory_size(folder) for folder in folders)

    @property
    def live_name(self) -> str | None:
        """What CURRENT named when this was loaded: its own folder, or the damaged one it stands in for."""
        folder = self.fallback_from or self.path
        return folder.name if folder else None


def current_snapshot_name(index_dir: Path) -> str | None:
    """What CURRENT names (None when there is no CURRENT): cheap enough to check before every request."""
    try:
        return (index_dir / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def current_snapshot_dir(index_dir: Path) -> Path | None:
    name = current_snapshot_name(index_dir)
    return index_dir / name if name else None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: a load allocates millions of objects and none is garbage,
    yet each allocation burst starts a collection that walks the growing heap. Loading the 10,000-article
    bench index took 1.8 s instead of 3.1 s with it paused (three runs each, one process)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_snapshot(index_dir: Path, vectors: VectorBackend | None = None, offline: bool = False) -> Snapshot:
    """The live snapshot, checked; when it is damaged, the newest earlier one that loads, with a warning.

    `vectors` is the vector store the settings name (default FAISS): an index built with another is
    refused with IndexMismatchError, and a Milvus index is read through this backend's connection.
    `offline`: the articles and chunks without opening Milvus (the row lists are read, not looked up),
    for `stats` and `list`, which work while a server holds a Milvus Lite file.
    """
    with gc_paused():
        return _load_snapshot(index_dir, vectors, offline)


def _live_name(index_dir: Path) -> str:
    """What CURRENT names, checked to be a snapshot's folder name."""
    try:
        live = current_snapshot_name(index_dir)
    except OSError as exc:
        raise IndexDamagedError(
            f"the index in {index_dir} is damaged: {CURRENT} cannot be read ({exc.strerror}): {REPAIR}"
        ) from exc
    if live is None:
        raise IndexNotFoundError(f"no index in {index_dir}: run `newsrag ingest PATH` first")
    if not live.startswith("v-") or "/" in live:  # which snapshot was live is unknown: no fallback
        raise IndexDamagedError(
            f"the index in {index_dir} is damaged: {CURRENT} names {live!r}, not a snapshot: {REPAIR}"
        )
    return live


def _load_snapshot(index_dir: Path, vectors: VectorBackend | None, offline: bool) -> Snapshot:
    for _attempt in range(3):
        live = _live_name(index_dir)
        try:
            return read_snapshot(index_dir / live, vectors, offline)
        except IndexDamagedError as damage:
            if (
                _safely(current_snapshot_name, index_dir) == live
            ):  # else a writer swapped and pruned it meanwhile
                return _fall_back(index_dir, live, damage, vectors, offline)
    raise IndexDamagedError(f"the index in {index_dir} kept changing while it was read; try again")


def open_to_write(index_dir: Path, vectors: VectorBackend | None = None) -> Snapshot:
    """The live snapshot to write on, with its ledger: opened for appending when it can be, else loaded
    whole (an index of format 1, or a damaged live snapshot, which `load_snapshot` stands the one before
    it in for, with its warning). The caller holds the writer lock."""
    try:
        snapshot = open_for_appending(index_dir, vectors)
    except IndexDamagedError as exc:
        log.warning("%s: loading the index whole to write on it", exc)
        snapshot = None
    if snapshot is None:
        snapshot = load_snapshot(index_dir, vectors)
        snapshot.ledger = Ledger.of_collections(_collections(snapshot.docstore), snapshot.vectors.next_id)
        snapshot.begin_write()
    return snapshot


def open_for_appending(index_dir: Path, vectors: VectorBackend | None = None) -> Snapshot | None:
    """The live snapshot opened to add to without loading it: its manifest, segment list and ledger.

    Its docstore and vectors start empty and take what the writer adds; the segments it lists are
    read by nobody but a merge. None for an index of format 1 (one folder, rewritten whole at the next
    write); IndexDamagedError when one of those files is damaged; IndexMismatchError for another store.
    """
    live = _live_name(index_dir)
    folder = index_dir / live
    try:
        manifest = Manifest.from_json(read_json(folder / MANIFEST))
        backend = vectors or VectorBackend()
        backend.check(manifest.vector_store, manifest.milvus_collection)
        if manifest.format_version == LEGACY_FORMAT:
            return None
        refs = _read_segment_list(folder / SEGMENT_LIST)
        check_sizes(index_dir, refs)
        with gc_paused():
            ledger = replay_ledger(index_dir, refs)
    except IndexDamagedError as exc:
        raise IndexDamagedError(f"{live}/{exc}") from exc
    store = new_vectors(backend, index_dir, manifest.dimension).emptied(ledger.next_id)
    return Snapshot(
        manifest,
        SimpleDocumentStore(),
        store,
        folder,
        segments=refs,
        base={},
        base_next_id=ledger.next_id,
        ledger=ledger,
        appending=True,
    )


def read_snapshot(folder: Path, vectors: VectorBackend | None = None, offline: bool = False) -> Snapshot:
    """One snapshot folder, each file parsed and all of them checked against each other."""
    if not folder.is_dir():
        raise IndexDamagedError(f"{folder.name}: the snapshot folder is missing")
    try:
        manifest = Manifest.from_json(read_json(folder / MANIFEST))
        backend = vectors or VectorBackend()
        backend.check(manifest.vector_store, manifest.milvus_collection)  # IndexMismatchError: no fallback
        legacy = manifest.format_version == LEGACY_FORMAT
        if legacy:  # docstore.json and the vectors in the snapshot folder itself: one segment in all but name
            refs = []
            contents = replay_folder(folder, manifest.dimension)
            manifest.format_version = FORMAT_VERSION  # what the next write makes of it
        else:
            refs = _read_segment_list(folder / SEGMENT_LIST)
            contents = replay(
                folder.parent,
                refs,
                manifest.dimension,
                MilvusRows()
                if offline and backend.is_milvus
                else new_vectors(backend, folder.parent, manifest.dimension),
            )
        docstore = SimpleDocumentStore.from_dict(contents.data)
        try:
            nodes = docstore.docs
        except Exception as exc:  # LlamaIndex raises KeyError, ValueError or pydantic's errors for a bad node
            raise IndexDamagedError(f"{DOCSTORE}: a node cannot be read ({str(exc)[:200]})") from exc
        _check_across_files(nodes, contents.vectors)
        if isinstance(contents.vectors, MilvusRows) and not offline:
            contents.vectors.check_in_collection()
    except IndexDamagedError as exc:
        raise IndexDamagedError(f"{folder.name}/{exc}") from exc
    return Snapshot(
        manifest,
        docstore,
        contents.vectors,
        folder,
        nodes=nodes,
        segments=refs,
        legacy=legacy,
        terms=contents.terms,
    )


def _read_segment_list(path: Path) -> list[SegmentRef]:
    data = read_json(path)
    if not isinstance(data, dict) or set(data) != {"segments"} or not isinstance(data["segments"], list):
        raise IndexDamagedError(f"{path.name}: not a segment list")
    return [SegmentRef.from_json(entry) for entry in data["segments"]]


def _collections(docstore: SimpleDocumentStore) -> Collections:
    """The docstore's entries by collection, as its SimpleKVStore holds them (no public accessor)."""
    return docstore._kvstore._collections_mappings  # type: ignore[attr-defined,no-any-return]


def _check_across_files(nodes: dict[str, BaseNode], vectors: FaissArticleStore | MilvusRows) -> None:
    """Every chunk has one vector filed under its article, every vector a chunk, every chunk its article.

    For Milvus this compares the rows the segments list (rows.json) with the docstore, in memory; the
    collection itself is only spot-checked (`MilvusRows.check_in_collection`), so a load at 100,000
    chunks costs one Milvus query, not a listing of the collection.
    """
    ids_file = ROWS_FILE if isinstance(vectors, MilvusRows) else IDS_FILE
    articles = {k for k, n in nodes.items() if isinstance(n, Document)}
    chunks = {k: n for k, n in nodes.items() if isinstance(n, TextNode) and k not in articles}
    with_vectors = set(vectors.node_ids())
    if no_vector := chunks.keys() - with_vectors:
        raise IndexDamagedError(f"{DOCSTORE}: chunk {_some(no_vector)} has no vector in {ids_file}")
    if no_chunk := with_vectors - chunks.keys():
        raise IndexDamagedError(f"{ids_file}: maps chunk {_some(no_chunk)}, which {DOCSTORE} does not hold")
    if orphans := {k for k, c in chunks.items() if c.ref_doc_id not in articles}:
        raise IndexDamagedError(f"{DOCSTORE}: chunk {_some(orphans)} belongs to no article in it")
    if misfiled := {k for k, c in chunks.items() if vectors.article_of(k) != c.ref_doc_id}:
        raise IndexDamagedError(
            f"{ids_file}: files chunk {_some(misfiled)} under another article than {DOCSTORE}"
        )


def _some(ids: set[str]) -> str:
    first = min(ids)
    return first if len(ids) == 1 else f"{first} (and {len(ids) - 1} more)"


def _fall_back(
    index_dir: Path, live: str, damage: IndexDamagedError, vectors: VectorBackend | None, offline: bool
) -> Snapshot:
    """The newest snapshot older than the damaged live one that loads; only ever an earlier live one."""
    problems = [str(damage)]
    for folder in sorted((p for p in index_dir.glob("v-*") if p.name < live), reverse=True):
        try:
            snapshot = read_snapshot(folder, vectors, offline)
        except (IndexDamagedError, IndexMismatchError) as exc:  # mismatch: from before a rebuild moved stores
            problems.append(str(exc))
            continue
        snapshot.fallback_from = index_dir / live
        snapshot.warning = (
            f"the index in {index_dir} is damaged ({damage}); serving the previous snapshot {folder.name} "
            f"(updated {snapshot.manifest.updated_at}) without the changes made after it: {REPAIR}"
        )
        log.warning("%s", snapshot.warning)
        return snapshot
    earlier = "no earlier snapshot loads" if len(problems) > 1 else "no earlier snapshot to fall back on"
    raise IndexDamagedError(
        f"the index in {index_dir} is damaged: {'; '.join(problems)}; {earlier}: {REPAIR}"
    )


def save_snapshot(index_dir: Path, snapshot: Snapshot, keep: int = 2) -> Path:
    """Write a segment of what changed, then a new snapshot listing it, fsync both, then point CURRENT
    at the snapshot in one atomic rename.

    Any OSError (read-only directory, full disk) is a NewsRagError, and CURRENT still names the old
    snapshot; the half-written new one is removed.
    """
    previous = _safely(current_snapshot_name, index_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    final = index_dir / f"v-{stamp}-{uuid.uuid4().hex[:6]}"
    building = index_dir / f".building-{final.name}"
    pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    step = "writing a new segment"
    written: list[SegmentRef] = []  # removed again when the snapshot listing them does not go live
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        added, removed = snapshot.changes()
        listed = snapshot.segments if snapshot.base is not None else []
        vectors = snapshot.vectors.added_since(snapshot.base_next_id if snapshot.base is not None else 0)
        refs = [*listed, write_segment(index_dir, added, removed, vectors)]
        written.append(refs[-1])
        step = "merging the newest segments"
        blank = snapshot.vectors.blank() if isinstance(snapshot.vectors, MilvusRows) else None
        refs = merge_tail(index_dir, refs, snapshot.manifest.dimension, blank)
        written.append(refs[-1])
        step = "writing a new snapshot"
        building.mkdir()
        snapshot.manifest.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        snapshot.manifest.vector_index = max(refs, key=lambda r: r.size).kind
        _write_json(building / MANIFEST, snapshot.manifest.to_json())
        _write_json(building / SEGMENT_LIST, {"segments": [asdict(r) for r in refs]})
        step = "syncing a new snapshot to disk"
        for file in building.iterdir():
            fsync_path(file)
        fsync_path(building)
        step = "moving the new snapshot into place"
        os.rename(building, final)
        fsync_path(index_dir)
        step = f"pointing {CURRENT} at the new snapshot"
        pointer_tmp.write_text(final.name + "\n")
        fsync_path(pointer_tmp)
        os.replace(pointer_tmp, index_dir / CURRENT)
        fsync_path(index_dir)
    except (OSError, IndexDamagedError) as exc:
        went_live = _safely(current_snapshot_name, index_dir) == final.name
        if not went_live:
            for debris in (building, final, *(segments_dir(index_dir) / r.name for r in written)):
                shutil.rmtree(debris, ignore_errors=True)
            _safely(pointer_tmp.unlink, missing_ok=True)
        unchanged = "it went live but may not survive a power cut" if went_live else "the index is unchanged"
        if isinstance(exc, IndexDamagedError):  # a segment to merge could not be read back
            raise IndexDamagedError(
                f"cannot write the index in {index_dir}: {exc} ({unchanged}): {REPAIR}"
            ) from exc
        raise _write_error(index_dir, exc, f"{step}; {unchanged}") from exc
    parent = snapshot.path
    snapshot.path, snapshot.fallback_from, snapshot.warning = final, None, None
    snapshot.segments, snapshot.legacy = refs, False
    if snapshot.ledger is not None:
        snapshot.ledger.apply(articles_of(added), removed, vectors.next_id)
    milvus = None
    if isinstance(snapshot.vectors, MilvusRows):
        snapshot.vectors.committed()  # its rows are listed by a live snapshot now: no longer pending
        milvus = snapshot.vectors.client
    snapshot.begin_write()  # a writer that goes on writes only what it changes after this
    _prune(index_dir, final, parent, previous, keep, milvus)
    return final


def _prune(
    index_dir: Path,
    live: Path,
    parent: Path | None,
    previous: str | None,
    keep: int,
    milvus: typing.Any = None,
) -> None:
    """Drop debris of killed writers, then old snapshots beyond `keep` (the one built on goes last),
    then the segments no snapshot left lists, and (a Milvus index) the rows only those or a failed
    write held."""
    for debris in index_dir.glob(".building-*"):
        shutil.rmtree(debris, ignore_errors=True)
    for debris in index_dir.glob(f".{CURRENT}.*"):
        _safely(debris.unlink, missing_ok=True)
    others = sorted((p for p in index_dir.glob("v-*") if p != live), reverse=True)
    # Newer than what CURRENT named before this swap: moved in by a writer killed before its swap, never live.
    never_live = [p for p in others if previous is None or p.name > previous]
    was_live = [p for p in others if p not in never_live]
    if parent in was_live:  # the snapshot this one was built from, not a damaged one it stood in for
        was_live.remove(parent)
        was_live.insert(0, parent)
    dropped: list[list[str]] = []  # their segment lists: what a Milvus index may delete the rows of
    for old in never_live + was_live[max(keep - 1, 0) :]:
        log.info("removing old snapshot %s", old.name)
        if milvus is not None:
            with contextlib.suppress(IndexDamagedError):
                dropped.append([r.name for r in _read_segment_list(old / SEGMENT_LIST)])
        shutil.rmtree(old, ignore_errors=True)
    listed: set[str] = set()
    kept: list[list[str]] = []
    for folder in index_dir.glob("v-*"):
        try:
            kept.append([r.name for r in _read_segment_list(folder / SEGMENT_LIST)])
        except IndexDamagedError:
            if folder == live:
                return  # cannot tell what the live snapshot needs: remove no segment
        else:
            listed.update(kept[-1])
    if milvus is not None:
        try:
            collect_garbage(index_dir, milvus, segments_dir(index_dir), kept, dropped)
        except Exception as exc:  # the write is live; a server gone away only delays the clean-up
            log.warning("stale Milvus rows are left for the next write to delete: %s", exc)
            return  # the segments listing them stay, so the next write finds them
    prune_segments(index_dir, listed)


@contextlib.contextmanager
def writer_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """One writer at a time: a second one waits up to `timeout` seconds, then fails clearly."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "w")  # noqa: SIM115 (closed below, after the lock is released)
    except OSError as exc:
        raise _write_error(index_dir, exc, "taking the writer lock; the index is unchanged") from exc
    with handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another process is writing the index in {index_dir}; waited {timeout:.0f}s "
                        "(try again when it finishes)"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_error(index_dir: Path, exc: OSError, doing: str) -> NewsRagError:
    """One line for a failed write: where, what the system said, and at which step."""
    reason = (exc.strerror or str(exc)).lower()
    return NewsRagError(f"cannot write the index in {index_dir}: {reason} ({doing})")


def directory_size(path: Path) -> int:
    """Bytes under `path`; files a writer prunes while they are counted are skipped."""
    total = 0
    for file in path.rglob("*"):
        with contextlib.suppress(OSError):
            total += file.stat().st_size if file.is_file() else 0
    return total


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1))


def _safely(call: Callable[..., typing.Any], *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
    """Clean-up after a failed write: it must not hide the error being reported."""
    try:
        return call(*args, **kwargs)
    except OSError:
        return None


def empty_snapshot(manifest: Manifest, vectors: FaissArticleStore | MilvusRows | None = None) -> Snapshot:
    """A snapshot with nothing in it, on no segments: saving it writes everything it then holds."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.created_at = manifest.created_at or now
    return Snapshot(
        manifest,
        SimpleDocumentStore(),
        vectors if vectors is not None else FaissArticleStore(manifest.dimension),
    )


def new_vectors(
    backend: VectorBackend | None, index_dir: Path, dimension: int
) -> FaissArticleStore | MilvusRows:
    """An empty vector part of the backend's kind: FAISS in memory, or rows of its Milvus collection."""
    if backend is None or not backend.is_milvus:
        return FaissArticleStore(dimension)
    return MilvusRows(backend.milvus(dimension), index_dir)
