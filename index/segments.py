"""Segments: the immutable pieces a snapshot is made of, so that a write stores what it changed.

A segment is a folder under `index_dir/segments/` holding what one write added and removed:
    docstore.json     the articles and chunks it added, in LlamaIndex's docstore format
    vectors.faiss     their vectors (with vector_ids.json, as a whole snapshot had them before)
    removed.json      per docstore collection, the keys it removes from the segments before it
    terms.npz         the words of the chunks it added, counted for BM25 and the term weights (see `terms`)
    articles.json     the articles it added, their hashes and chunk ids: what a writer reads (see `ledger`)
For an index whose vectors are in Milvus, rows.json (which Milvus row holds each chunk's vector, see
`milvus_rows`) stands in for vectors.faiss and vector_ids.json.
A snapshot lists its segments, oldest first; reading it replays them in order: each segment's
removals, then its additions. Segments are never changed once written and are shared by the
snapshots that list them, so adding one article writes one small segment, not the whole index.

To keep the list short, a write merges the newest segments into one while together they are at
least half the size of the segment before them. Sizes then fall geometrically along the list: a
corpus of n entries has O(log n) segments, and each entry is rewritten O(log n) times in all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from llama_index.core.schema import ObjectType
from llama_index.core.storage.docstore.utils import json_to_doc

from newsrag.errors import IndexDamagedError
from newsrag.index.ledger import (
    LEDGER_FILE,
    NODES,
    Collections,
    Ledger,
    articles_of,
    ledger_bytes,
    read_ledger_file,
)
from newsrag.index.terms import TERMS_FILE, SegmentTerms, corpus_terms
from newsrag.index.vector_store import IDS_FILE, VECTORS_FILE, FaissArticleStore, index_kind_for, read_json

if TYPE_CHECKING:
    from newsrag.index.milvus_rows import MilvusRows

    # The vector part of a segment: FAISS vectors, or the Milvus rows holding them.
    SegmentVectors: TypeAlias = FaissArticleStore | MilvusRows

log = logging.getLogger(__name__)

SEGMENTS_DIR = "segments"
# A Milvus segment's row list (see `milvus_rows`), which stands in for vector_ids.json.
ROWS_FILE = "rows.json"
DOCSTORE = "docstore.json"
REMOVED = "removed.json"
SEGMENT_FILES = (DOCSTORE, VECTORS_FILE, IDS_FILE, REMOVED, TERMS_FILE, LEDGER_FILE)

# Collections (from `ledger`): a docstore's entries by collection. NODES, the collection of articles and
# chunks: a chunk removed from it loses its vector.


@dataclass(frozen=True)
class SegmentRef:
    """A segment as a snapshot lists it: its folder name, its size (entries added plus keys removed),
    the kind of FAISS index its vectors are in ("flat" or "hnsw") and the bytes of each of its files
    (empty for a segment listed before they were recorded), which a writer that reads no docstore and
    no vector checks them by (`check_sizes`)."""

    name: str
    size: int
    kind: str = "flat"
    files: dict[str, int] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> SegmentRef:
        if (
            not isinstance(data, dict)
            or not {"name", "size", "kind"} <= set(data) <= {"name", "size", "kind", "files"}
            or not isinstance(data["name"], str)
            or not data["name"].startswith("s-")
            or "/" in data["name"]
            or type(data["size"]) is not int
            or data["kind"] not in ("flat", "hnsw")
            or not isinstance(data.get("files", {}), dict)
            or not all(
                isinstance(k, str) and "/" not in k and type(v) is int
                for k, v in data.get("files", {}).items()
            )
        ):
            raise IndexDamagedError(
                "segments.json: an entry is not {name: s-…, size: int, kind: flat|hnsw, files: {name: bytes}}"
            )
        return cls(data["name"], data["size"], data["kind"], dict(data.get("files", {})))


def check_sizes(index_dir: Path, refs: list[SegmentRef]) -> None:
    """Every file of the segments is there at the size it was written: IndexDamagedError names the first
    that is not. Cheap (one stat per file); catches a file cut short or missing, not one overwritten in place.
    The counted words and the ledger are left out: a damaged one is recounted or read from the docstore."""
    for ref in refs:
        folder = segments_dir(index_dir) / ref.name
        for name, expected in ref.files.items():
            if name in (TERMS_FILE, LEDGER_FILE):
                continue
            try:
                found = (folder / name).stat().st_size
            except OSError:
                raise IndexDamagedError(f"segment {ref.name}/{name}: missing") from None
            if found != expected:
                raise IndexDamagedError(
                    f"segment {ref.name}/{name}: {found} bytes where {expected} were written (cut short or overwritten)"
                )


@dataclass
class Contents:
    """What replaying segments gives: the docstore's collections, the vectors, every key removed, and the
    segments' counted words, oldest first (a segment without terms.npz adds none)."""

    data: Collections
    vectors: SegmentVectors
    removed: dict[str, set[str]]
    terms: list[SegmentTerms] = field(default_factory=list)


def segments_dir(index_dir: Path) -> Path:
    return index_dir / SEGMENTS_DIR


@contextlib.contextmanager
def _segment_folder(index_dir: Path, ref: SegmentRef) -> Iterator[Path]:
    """The segment's folder, to read; an IndexDamagedError raised meanwhile names the segment."""
    folder = segments_dir(index_dir) / ref.name
    try:
        if not folder.is_dir():
            raise IndexDamagedError("the segment folder is missing")
        yield folder
    except IndexDamagedError as exc:
        raise IndexDamagedError(f"segment {ref.name}/{exc}") from exc


def replay_folder(folder: Path, dimension: int) -> Contents:
    """A folder holding a docstore.json and vectors without a removed.json: a snapshot of format 1."""
    return Contents(_read_collections(folder / DOCSTORE), FaissArticleStore.load(folder, dimension), {})


def replay(
    index_dir: Path, refs: list[SegmentRef], dimension: int, into: SegmentVectors | None = None
) -> Contents:
    """The segments applied in order (their vectors into `into`, default FAISS's); IndexDamagedError names
    the segment and its bad file."""
    contents = Contents({}, into if into is not None else FaissArticleStore(dimension), {})
    for ref in refs:
        with _segment_folder(index_dir, ref) as folder:
            removed = _read_removed(folder / REMOVED)
            added = _read_collections(folder / DOCSTORE)
            vectors = type(contents.vectors).load(folder, dimension)
            terms = SegmentTerms.load(folder)
        for collection, keys in removed.items():
            entries = contents.data.get(collection, {})
            for key in keys:
                entries.pop(key, None)
            contents.removed.setdefault(collection, set()).update(keys)
        contents.vectors.delete_nodes(removed.get(NODES, []))
        for collection, entries in added.items():
            contents.data.setdefault(collection, {}).update(entries)
        contents.vectors.absorb(vectors)  # type: ignore[arg-type]  # loaded by the same class
        if terms is not None:
            contents.terms.append(terms)
    return contents


def replay_ledger(index_dir: Path, refs: list[SegmentRef]) -> Ledger:
    """The live articles of the segments `refs` and the next vector id, from their articles.json files;
    a segment without a readable one is read from its docstore (and its vector ids) instead."""
    ledger = Ledger({})
    for ref in refs:
        with _segment_folder(index_dir, ref) as folder:
            removed = _read_removed(folder / REMOVED)
            part = read_ledger_file(folder)
            if part is None:
                part = _ledger_of_docstore(folder)
                _add_ledger_file(folder, *part)
        articles, next_id = part
        ledger.apply(articles, removed, next_id)
    return ledger


def _ledger_of_docstore(folder: Path) -> tuple[dict, int]:
    """A segment's articles and next vector id read from its docstore and vector ids (FAISS's or Milvus's)."""
    ids = folder / IDS_FILE if (folder / IDS_FILE).exists() else folder / ROWS_FILE
    payload = read_json(ids)
    next_id = payload.get("next_id") if isinstance(payload, dict) else None
    if type(next_id) is not int:
        raise IndexDamagedError(f"{ids.name}: no next_id")
    return articles_of(_read_collections(folder / DOCSTORE)), next_id


def _add_ledger_file(folder: Path, articles: dict, next_id: int) -> None:
    """Give a segment written before ledgers existed (or with its ledger damaged) the one it lacks, so the
    next writer reads that instead of the docstore. Only the writer, which holds the lock, calls this;
    readers never read the file, and it lands whole (written beside, then renamed) or not at all."""
    partial = folder / f".{LEDGER_FILE}.{uuid.uuid4().hex[:6]}"
    try:
        _write_synced(partial, ledger_bytes(articles, next_id))
        os.replace(partial, folder / LEDGER_FILE)
        fsync_path(folder)
    except OSError as exc:
        # A read-only index still takes writes elsewhere; the next writer reads the docstore.
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        log.warning("cannot add %s to segment %s: %s", LEDGER_FILE, folder.name, exc.strerror or exc)


def _chunk_ids(entries: dict[str, dict]) -> list[str]:
    """The chunks among docstore entries (the rest are articles)."""
    return [k for k, v in entries.items() if v.get("__type__") != ObjectType.DOCUMENT]


def chunk_terms(entries: dict[str, dict], parts: list[SegmentTerms]) -> SegmentTerms:
    """The counted words of the chunks among docstore entries: taken from `parts`, or counted from the entries."""
    return corpus_terms(parts, _chunk_ids(entries), lambda i: json_to_doc(entries[i]))  # type: ignore[arg-type,return-value]


def write_segment(
    index_dir: Path,
    added: Collections,
    removed: dict[str, list[str]],
    vectors: SegmentVectors,
    terms: SegmentTerms | None = None,
) -> SegmentRef:
    """Write a segment beside the others, fsync'd, and move it into place whole; OSError on failure.

    Its vectors go into the index their number calls for (`index_kind_for`): a large merged segment
    is built as HNSW here, once, and read as it is. Milvus rows are searched as the collection is indexed.
    `terms` are the added chunks' counted words when the caller has them; else they are counted here.
    """
    if terms is None:  # the chunks this write adds, counted now
        entries = added.get(NODES, {})
        terms = SegmentTerms.of_chunks([json_to_doc(entries[i]) for i in _chunk_ids(entries)])  # type: ignore[misc]  # json_to_doc gives the TextNode it stored
    if isinstance(vectors, FaissArticleStore):
        kind = index_kind_for(len(vectors))
        if kind != vectors.kind or vectors.has_dead:
            vectors = vectors.rewritten(kind)
    else:
        kind = vectors.kind
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"s-{stamp}-{uuid.uuid4().hex[:6]}"
    parent = segments_dir(index_dir)
    building = parent / f".building-{name}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        building.mkdir()
        _write_synced(building / DOCSTORE, json.dumps(added).encode())
        _write_synced(
            building / REMOVED, json.dumps({c: sorted(k) for c, k in removed.items() if k}).encode()
        )
        _write_synced(building / TERMS_FILE, terms.to_bytes())
        _write_synced(building / LEDGER_FILE, ledger_bytes(articles_of(added), vectors.next_id))
        vectors.persist(str(building))
        files = {file.name: file.stat().st_size for file in building.iterdir()}
        fsync_path(building)
        os.rename(building, parent / name)
        fsync_path(parent)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return SegmentRef(name, len(added.get(NODES, {})) + len(removed.get(NODES, [])), kind, files)


def merge_start(refs: list[SegmentRef]) -> int:
    """Where the trailing run to merge begins: it grows while it is at least half the segment before it."""
    start = len(refs) - 1
    size = refs[start].size if refs else 0
    while start > 0 and size * 2 >= refs[start - 1].size:
        start -= 1
        size += refs[start].size
    return max(start, 0)


def merge_tail(
    index_dir: Path, refs: list[SegmentRef], dimension: int, into: SegmentVectors | None = None
) -> list[SegmentRef]:
    """`refs` with its trailing run merged into one new segment (when the run has two or more);
    `into` is an empty vector part of the index's kind (default FAISS's)."""
    start = merge_start(refs)
    if len(refs) - start < 2:
        return refs
    run = replay(index_dir, refs[start:], dimension, into)
    # The first segment removes from nothing; a later one keeps removing what the run removed before it.
    removed = {} if start == 0 else {c: sorted(keys) for c, keys in run.removed.items()}
    terms = chunk_terms(run.data.get(NODES, {}), run.terms)
    return [*refs[:start], write_segment(index_dir, run.data, removed, run.vectors, terms)]


def prune_segments(index_dir: Path, keep: set[str]) -> None:
    """Remove segments no kept snapshot lists, and the debris of killed writers."""
    parent = segments_dir(index_dir)
    if not parent.is_dir():
        return
    for folder in parent.iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _read_collections(path: Path) -> Collections:
    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(entries, dict) and all(isinstance(v, dict) for v in entries.values())
        for entries in data.values()
    ):
        raise IndexDamagedError(f"{path.name}: not a LlamaIndex docstore")
    return data


def _read_removed(path: Path) -> dict[str, list[str]]:
    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(keys, list) and all(isinstance(k, str) for k in keys) for keys in data.values()
    ):
        raise IndexDamagedError(f"{path.name}: not the removed keys of each collection")
    return data


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_path(path: Path) -> None:
    """fsync a file or folder by its path (a folder: so that a rename into it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
