"""The index directory: versioned snapshots swapped in atomically, a manifest, and a writer lock.

Layout under `index_dir`:
    CURRENT           name of the live snapshot, replaced atomically (os.replace)
    .lock             flock'd by the one writer
    v-<stamp>/        manifest.json, docstore.json, vectors.faiss, vector_ids.json
A writer builds a new snapshot beside the live one and swaps CURRENT only when it is complete,
so a killed writer leaves the previous snapshot live and loadable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from llama_index.core.storage.docstore import SimpleDocumentStore

from newsrag.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError
from newsrag.index.vector_store import FaissArticleStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DOCSTORE = "docstore.json"


@dataclass
class Manifest:
    """What an index was built with; opening it with other settings is refused."""

    embed_model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    updated_at: str = ""

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
    """One loaded version of the index: articles and chunks (docstore) and their vectors."""

    manifest: Manifest
    docstore: SimpleDocumentStore
    vectors: FaissArticleStore
    path: Path | None = None


def current_snapshot_dir(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    return index_dir / name if name else None


def load_snapshot(index_dir: Path) -> Snapshot:
    folder = current_snapshot_dir(index_dir)
    if folder is None or not (folder / MANIFEST).is_file():
        raise IndexNotFoundError(f"no index in {index_dir}: run `newsrag ingest PATH` first")
    manifest = Manifest(**json.loads((folder / MANIFEST).read_text()))
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir} has format {manifest.format_version}, this version reads {FORMAT_VERSION}: "
            "run `newsrag ingest PATH --rebuild`"
        )
    docstore = SimpleDocumentStore.from_persist_path(str(folder / DOCSTORE))
    vectors = FaissArticleStore.load(folder)
    return Snapshot(manifest, docstore, vectors, folder)


def save_snapshot(index_dir: Path, snapshot: Snapshot, keep: int = 2) -> Path:
    """Write a complete new snapshot, fsync it, then point CURRENT at it in one atomic rename."""
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    final = index_dir / f"v-{stamp}-{uuid.uuid4().hex[:6]}"
    building = index_dir / f".building-{final.name}"
    building.mkdir()
    snapshot.manifest.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    _write_json(building / MANIFEST, asdict(snapshot.manifest))
    snapshot.docstore.persist(str(building / DOCSTORE))
    snapshot.vectors.persist(str(building))
    for file in building.iterdir():
        _fsync(file)
    os.rename(building, final)
    _fsync(index_dir)
    pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    pointer_tmp.write_text(final.name + "\n")
    _fsync(pointer_tmp)
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync(index_dir)
    snapshot.path = final
    _prune(index_dir, final, keep)
    return final


def _prune(index_dir: Path, live: Path, keep: int) -> None:
    """Drop old snapshots (keeping `keep`, the live one first) and debris of killed writers."""
    for debris in index_dir.glob(".building-*"):
        shutil.rmtree(debris, ignore_errors=True)
    for debris in index_dir.glob(f".{CURRENT}.*"):
        debris.unlink(missing_ok=True)
    versions = sorted((p for p in index_dir.glob("v-*") if p != live), reverse=True)
    for old in versions[max(keep - 1, 0) :]:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def writer_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """One writer at a time: a second one waits up to `timeout` seconds, then fails clearly."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
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


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def empty_snapshot(manifest: Manifest) -> Snapshot:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.created_at = manifest.created_at or now
    return Snapshot(manifest, SimpleDocumentStore(), FaissArticleStore(manifest.dimension))
