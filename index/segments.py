"""Segments: the immutable pieces a snapshot is made of, so that a write stores what it changed.

A segment is a folder under `index_dir/segments/` holding what one write added and removed:
    docstore.json     the articles and chunks it added, in LlamaIndex's docstore format
    vectors.faiss     their vectors (with vector_ids.json, as a whole snapshot had them before)
    removed.json      per docstore collection, the keys it removes from the segments before it
    terms.npz         the words of the chunks it added, counted for BM25 and the term weights (see `terms`)
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

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from llama_index.core.schema import ObjectType
from llama_index.core.storage.docstore.utils import json_to_doc

from newsrag.errors import IndexDamagedError
from newsrag.index.terms import TERMS_FILE, SegmentTerms, corpus_terms
from newsrag.index.vector_store import IDS_FILE, VECTORS_FILE, FaissArticleStore, index_kind_for, read_json

if TYPE_CHECKING:
    from newsrag.index.milvus_rows import MilvusRows

    # The vector part of a segment: FAISS vectors, or the Milvus rows holding them.
    SegmentVectors: TypeAlias = FaissArticleStore | MilvusRows

SEGMENTS_DIR = "segments"
DOCSTORE = "docstore.json"
REMOVED = "removed.json"
SEGMENT_FILES = (DOCSTORE, VECTORS_FILE, IDS_FILE, REMOVED, TERMS_FILE)

# A docstore's collections: LlamaIndex's SimpleDocumentStore keeps nodes, per-article node lists and hashes.
Collections = dict[str, dict[str, dict]]
NODES = "docstore/data"  # the collection of articles and chunks: a chunk removed from it loses its vector


@dataclass(frozen=True)
class SegmentRef:
    """A segment as a snapshot lists it: its folder name, its size (entries added plus keys removed)
    and the kind of FAISS index its vectors are in ("flat" or "hnsw")."""

    name: str
    size: int
    kind: str = "flat"

    @classmethod
    def from_json(cls, data: object) -> SegmentRef:
        if (
            not isinstance(data, dict)
            or set(data) != {"name", "size", "kind"}
            or not isinstance(data["name"], str)
            or not data["name"].startswith("s-")
            or "/" in data["name"]
            or type(data["size"]) is not int
            or data["kind"] not in ("flat", "hnsw")
        ):
            raise IndexDamagedError("segments.json: an entry is not {name: s-…, size: int, kind: flat|hnsw}")
        return cls(data["name"], data["size"], data["kind"])


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
        folder = segments_dir(index_dir) / ref.name
        try:
            if not folder.is_dir():
                raise IndexDamagedError("the segment folder is missing")
            removed = _read_removed(folder / REMOVED)
            added = _read_collections(folder / DOCSTORE)
            vectors = type(contents.vectors).load(folder, dimension)
            terms = SegmentTerms.load(folder)
        except IndexDamagedError as exc:
            raise IndexDamagedError(f"segment {ref.name}/{exc}") from exc
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


def chunk_terms(entries: dict[str, dict], parts: list[SegmentTerms]) -> SegmentTerms:
    """The counted words of the chunks among docstore entries: taken from `parts`, or counted from the entries."""
    ids = [k for k, v in entries.items() if v.get("__type__") != ObjectType.DOCUMENT]
    return corpus_terms(parts, ids, lambda i: json_to_doc(entries[i]))  # type: ignore[arg-type,return-value]


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
    if terms is None:
        terms = chunk_terms(added.get(NODES, {}), [])
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
        vectors.persist(str(building))
        fsync_path(building)
        os.rename(building, parent / name)
        fsync_path(parent)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return SegmentRef(name, len(added.get(NODES, {})) + len(removed.get(NODES, [])), kind)


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
