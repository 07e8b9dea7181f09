"""A snapshot's chunk vectors as rows of a Milvus collection: which row holds each chunk's vector.

Milvus has no transactions: a row is visible to every reader once written. Chunk ids are positional
(`{article_id}#{i}`), so an updated article reuses them; rows keyed by chunk id would let a writer
overwrite vectors that the still-live snapshot answers from, before its own snapshot is swapped in.
So each write keys the rows it adds `{chunk id}@{token}`, with a token no other write uses, and never
changes or deletes a row while it writes. Each segment lists, in rows.json, the rows of the chunks it
adds (as a FAISS segment holds their vectors) and is replayed like the FAISS part: the snapshot knows
exactly which row is each of its chunks. A search maps hits back to chunk ids and drops rows the
loaded snapshot does not list (an older snapshot's, a killed writer's), asking Milvus for more than
top-k so that top-k stays full.

A row becomes garbage when no kept snapshot lists it, or when the write that added it failed. Before
its first row a write records its token in `pending-rows/` (fsync'd) and removes it after its swap.
`collect_garbage` runs where segments are pruned, under the writer lock: it deletes from Milvus the rows
that the snapshots just pruned listed, those of segments about to be pruned and those of tokens still
pending (a failed or killed write), but never a row that a kept snapshot lists.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from newsrag.errors import IndexDamagedError, NewsRagError
from newsrag.index.segments import NODES, REMOVED, ROWS_FILE, _read_removed, fsync_path
from newsrag.index.vector_store import VECTORS_FILE, read_json

if TYPE_CHECKING:
    from newsrag.index.milvus_store import MilvusArticleStore

log = logging.getLogger(__name__)

PENDING_DIR = "pending-rows"
SEARCH_LIMIT = 16384  # the most rows Milvus returns from one search (milvus_store.MAX_LIMIT)
SPOT_CHECK = 64  # rows a load looks up in Milvus, whatever the corpus size


class MilvusRows(BasePydanticVectorStore):
    """The rows a snapshot's chunks have in a Milvus collection, behind LlamaIndex's vector-store interface.

    Without a collection (`milvus` None) it is only a segment's row list, as read from rows.json or
    merged; the snapshot's own instance holds the collection and searches it.
    """

    stores_text: bool = False
    _milvus: Any = PrivateAttr(default=None)  # a MilvusArticleStore, whose "node ids" are our row ids
    _pending: Path | None = PrivateAttr(
        default=None
    )  # index_dir/pending-rows: where a write records its token
    _rows: dict[str, tuple[str, str, int]] = PrivateAttr(default_factory=dict)  # chunk: (row, article, seq)
    _chunk_of: dict[str, str] = PrivateAttr(default_factory=dict)  # row: chunk
    _article_chunks: dict[str, dict[str, None]] = PrivateAttr(default_factory=dict)
    _next_id: int = PrivateAttr(default=0)  # the sequence number of the next row added (see added_since)
    _token: str = PrivateAttr(default="")
    _recorded: bool = PrivateAttr(default=False)  # whether this write's token is in pending-rows

    def __init__(self, milvus: MilvusArticleStore | None = None, index_dir: Path | None = None) -> None:
        super().__init__(stores_text=False)
        self._milvus = milvus
        self._pending = index_dir / PENDING_DIR if index_dir is not None else None
        self._new_token()

    @classmethod
    def class_name(cls) -> str:
        return "MilvusRows"

    @property
    def client(self) -> Any:
        return self._milvus

    @property
    def kind(self) -> str:
        """How the rows are searched: the collection's FLAT index (exact), whatever the segment's size."""
        return "flat"

    @property
    def has_dead(self) -> bool:
        return False

    @property
    def next_id(self) -> int:
        return self._next_id

    @property
    def write_token(self) -> str:
        return self._token

    def __len__(self) -> int:
        return len(self._rows)

    def blank(self) -> MilvusRows:
        """An empty row list to replay segments into (a merge): no collection, nothing to search."""
        return MilvusRows()

    def emptied(self, next_id: int | None = None) -> MilvusRows:
        """No rows, on the same collection, numbering on from `next_id` (default this one's): what an
        appending writer adds to."""
        empty = MilvusRows(self._milvus, self._pending.parent if self._pending is not None else None)
        empty._next_id = self._next_id if next_id is None else next_id
        return empty

    def rewritten(self, kind: str) -> MilvusRows:
        return self  # no local index to rebuild: the rows stay where they are in Milvus

    # --- the snapshot's view: what it lists -------------------------------------

    def _file(self, chunk: str, row: str, article: str, seq: int) -> None:
        self._unfile(chunk)
        self._rows[chunk] = (row, article, seq)
        self._chunk_of[row] = chunk
        self._article_chunks.setdefault(article, {})[chunk] = None

    def _unfile(self, chunk: str) -> None:
        entry = self._rows.pop(chunk, None)
        if entry is None:
            return
        row, article, _ = entry
        self._chunk_of.pop(row, None)
        chunks = self._article_chunks[article]
        del chunks[chunk]
        if not chunks:
            del self._article_chunks[article]

    def node_ids(self) -> list[str]:
        return list(self._rows)

    def article_ids(self) -> list[str]:
        return list(self._article_chunks)

    def article_of(self, node_id: str) -> str | None:
        entry = self._rows.get(node_id)
        return entry[1] if entry else None

    def row_of(self, node_id: str) -> str | None:
        """The Milvus row holding a chunk's vector in this snapshot."""
        entry = self._rows.get(node_id)
        return entry[0] if entry else None

    def row_ids(self) -> set[str]:
        return set(self._chunk_of)

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """Drop an article's chunks from this snapshot; their rows stay in Milvus for the snapshots that list them."""
        self.delete_nodes(list(self._article_chunks.get(ref_doc_id, {})))

    def delete_nodes(self, node_ids: list[str] | None = None, filters: Any = None, **kwargs: Any) -> None:
        if filters is not None:
            raise NotImplementedError("MilvusRows deletes by node id or article id, not by metadata filters")
        for chunk in node_ids or []:
            self._unfile(chunk)

    def absorb(self, other: MilvusRows) -> None:
        """Take in a later segment's rows: a chunk listed already gets the later row."""
        for chunk, (row, article, seq) in other._rows.items():
            self._file(chunk, row, article, seq)
        self._next_id = max(self._next_id, other._next_id)

    def added_since(self, first_id: int) -> MilvusRows:
        """The rows added at or after sequence number `first_id`: what a writer added since it loaded."""
        delta = MilvusRows()
        delta._next_id = self._next_id
        for chunk, (row, article, seq) in self._rows.items():
            if seq >= first_id:
                delta._file(chunk, row, article, seq)
        return delta

    # --- writing ----------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Write the chunks' vectors as new rows of this write, after recording its token as pending."""
        if not nodes:
            return []
        milvus = self._collection()
        self._record_pending()
        rows = [f"{node.node_id}@{self._token}" for node in nodes]
        milvus.add(nodes, row_ids=rows)
        for node, row in zip(nodes, rows, strict=True):
            self._file(node.node_id, row, node.ref_doc_id or node.node_id, self._next_id)
            self._next_id += 1
        return [n.node_id for n in nodes]

    def _record_pending(self) -> None:
        """Make this write's token durable before any of its rows exist, so a killed write's rows can be found."""
        if self._recorded:
            return
        if self._pending is None:
            raise NewsRagError("these Milvus rows were not opened for writing (no index directory)")
        entry = self._pending / self._token
        try:
            self._pending.mkdir(parents=True, exist_ok=True)
            with open(entry, "wb") as handle:
                os.fsync(handle.fileno())
            fsync_path(self._pending)
        except OSError as exc:
            raise NewsRagError(
                f"cannot write the index in {self._pending.parent}: {(exc.strerror or str(exc)).lower()} "
                "(recording a Milvus write; the index is unchanged)"
            ) from exc
        self._recorded = True

    def committed(self) -> None:
        """The snapshot listing this write's rows is live: its token is no longer pending; later rows get a new one."""
        if self._recorded and self._pending is not None:
            try:
                (self._pending / self._token).unlink(missing_ok=True)
            except OSError:  # left pending: collect_garbage still keeps every row a kept segment lists
                log.warning("cannot remove %s", self._pending / self._token)
        self._new_token()

    def _new_token(self) -> None:
        self._token, self._recorded = uuid.uuid4().hex[:12], False

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """rows.json: the rows of this segment's chunks, in order, and the next sequence number."""
        folder = Path(persist_path)
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "next_id": self._next_id,
            "rows": [[chunk, row, article] for chunk, (row, article, _) in self._rows.items()],
        }
        with open(folder / ROWS_FILE, "wb") as handle:
            handle.write(json.dumps(payload).encode())
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, folder: Path, dimension: int | None = None) -> MilvusRows:
        """A segment's rows.json, refused (IndexDamagedError naming it) unless each entry is [chunk, row, article]."""
        payload = read_json(folder / ROWS_FILE)
        if (
            not isinstance(payload, dict)
            or set(payload) != {"next_id", "rows"}
            or type(payload["next_id"]) is not int
            or not isinstance(payload["rows"], list)
            or not all(
                isinstance(e, list) and len(e) == 3 and all(isinstance(v, str) for v in e)
                for e in payload["rows"]
            )
        ):
            raise IndexDamagedError(f"{ROWS_FILE}: not a row list (next_id, rows of [chunk, row, article])")
        rows = cls()
        for chunk, row, article in payload["rows"]:
            rows._file(chunk, row, article, -1)  # older than anything a writer adds after loading
        if len(rows._chunk_of) != len(payload["rows"]):
            raise IndexDamagedError(f"{ROWS_FILE}: lists a chunk or a row twice")
        rows._next_id = payload["next_id"]
        return rows

    # --- searching and checking ---------------------------------------------------

    def _collection(self) -> MilvusArticleStore:
        if self._milvus is None:
            raise NewsRagError("these Milvus rows are a segment's list, not opened on a collection")
        return self._milvus  # type: ignore[no-any-return]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Top-k of this snapshot's chunks by inner product; an allow-list of chunks becomes one of their rows.

        Without one, Milvus is asked for 2k + 10 rows and then for four times as many while rows this
        snapshot does not list (another snapshot's) keep top-k from filling.
        """
        want = min(query.similarity_top_k, len(self._rows))
        if query.query_embedding is None or want <= 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        milvus = self._collection()
        if query.node_ids is not None:
            rows = [self._rows[n][0] for n in dict.fromkeys(query.node_ids) if n in self._rows]
            if not rows:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            found = milvus.query(
                VectorStoreQuery(
                    query_embedding=query.query_embedding,
                    similarity_top_k=min(want, len(rows)),
                    node_ids=rows,
                )
            )
            return self._ours(found, want)
        limit = min(2 * want + 10, SEARCH_LIMIT)
        while True:
            found = milvus.query(
                VectorStoreQuery(query_embedding=query.query_embedding, similarity_top_k=limit)
            )
            result = self._ours(found, want)
            if len(result.ids or []) >= want or len(found.ids or []) < limit or limit >= SEARCH_LIMIT:
                return result
            limit = min(limit * 4, SEARCH_LIMIT)

    def _ours(self, found: VectorStoreQueryResult, want: int) -> VectorStoreQueryResult:
        """The hits on rows this snapshot lists, as its chunk ids, best first, at most `want`."""
        hits = [
            (self._chunk_of[row], score)
            for row, score in zip(found.ids or [], found.similarities or [], strict=True)
            if row in self._chunk_of
        ][:want]
        return VectorStoreQueryResult(ids=[c for c, _ in hits], similarities=[s for _, s in hits])

    def check_in_collection(self) -> None:
        """A load's look at Milvus, kept to one query whatever the corpus size (100,000 chunks cost as 10).

        It looks up SPOT_CHECK of the listed rows (the newest half, written by the last writes, and the
        rest spread over the list) and refuses the snapshot when one is missing or filed under another
        article: a collection emptied, dropped or pointed at another server shows at once. A single row
        deleted behind the index's back may go unseen; the local check (rows.json against the docstore)
        is complete.
        """
        listed = list(self._rows.items())
        if not listed:
            return
        half = SPOT_CHECK // 2
        picks = dict(listed[-half:] + listed[:: max(1, len(listed) // half)][:half])
        milvus = self._collection()
        where = f"the Milvus collection '{milvus.collection}' at {milvus.uri}"
        wanted = {row: (chunk, article) for chunk, (row, article, _) in picks.items()}
        held = milvus.articles_of(list(wanted))
        missing = [row for row in wanted if row not in held]
        if missing:
            more = f" (and {len(missing) - 1} more of {len(wanted)} looked up)" if len(missing) > 1 else ""
            raise IndexDamagedError(
                f"{ROWS_FILE}: the vector of chunk {wanted[missing[0]][0]} (row {missing[0]}{more}) is not in {where}"
            )
        misfiled = [row for row, (_, article) in wanted.items() if held[row] != article]
        if misfiled:
            raise IndexDamagedError(
                f"{ROWS_FILE}: {where} files row {misfiled[0]} under another article than the docstore"
            )


def collect_garbage(
    index_dir: Path,
    milvus: MilvusArticleStore,
    segments: Path,
    kept: list[list[str]],
    dropped: Sequence[list[str]] = (),
) -> int:
    """Delete from Milvus the rows that no kept snapshot lists; returns how many.

    `kept` and `dropped` are the segment lists (names under `segments`) of the snapshots kept and of
    those just pruned. Candidates: the rows the dropped snapshots listed, those of segment folders no
    kept snapshot lists (pruned next; a killed writer's debris) and those of pending tokens (failed or
    killed writes: this write's own token was committed first, and the writer lock is held). A row
    that any kept snapshot lists, after its segments' removals are replayed, is never deleted. Rows
    go before the folders and pending entries naming them, so a crash in between leaves them to the
    next write. Reading the segments' row lists is what this costs: about 0.1 s per 100,000 rows.
    """
    replayed = _RowReplay(segments)
    doomed: set[str] = set()
    for names in dropped:
        doomed |= replayed.rows(names) or set()
    listed = {name for names in kept for name in names}
    if segments.is_dir():
        for folder in segments.iterdir():
            if folder.name not in listed:
                doomed |= _rows_listed(folder) or set()
    pending_dir = index_dir / PENDING_DIR
    pending = sorted(pending_dir.iterdir()) if pending_dir.is_dir() else []
    for entry in pending:
        doomed.update(milvus.node_ids_ending_with(f"@{entry.name}"))
    if doomed:  # what the kept snapshots list is read only when there is something to delete
        for names in kept:
            rows = replayed.rows(names)
            if rows is None:
                log.warning("a kept snapshot's rows cannot be read: no Milvus row is deleted this time")
                return 0
            doomed -= rows
    if doomed:
        log.info("deleting %d Milvus rows no kept snapshot lists", len(doomed))
        milvus.delete_nodes(sorted(doomed))
    for entry in pending:
        entry.unlink(missing_ok=True)
    return len(doomed)


class _RowReplay:
    """The rows a snapshot lists: its segments' rows.json replayed with their removals, each file read once."""

    def __init__(self, segments: Path) -> None:
        self.segments = segments
        self._read: dict[str, tuple[dict[str, str], list[str]] | None] = {}

    def _segment(self, name: str) -> tuple[dict[str, str], list[str]] | None:
        if name not in self._read:
            folder = self.segments / name
            try:
                removed = _read_removed(folder / REMOVED).get(NODES, [])
                if (folder / VECTORS_FILE).exists():  # FAISS, from before a rebuild moved the index to Milvus
                    self._read[name] = ({}, removed)
                else:
                    rows = MilvusRows.load(folder)
                    self._read[name] = ({c: r for c, (r, _, _) in rows._rows.items()}, removed)
            except IndexDamagedError:
                self._read[name] = None
        return self._read[name]

    def rows(self, names: list[str]) -> set[str] | None:
        chunks: dict[str, str] = {}
        for name in names:
            segment = self._segment(name)
            if segment is None:
                return None
            added, removed = segment
            for chunk in removed:
                chunks.pop(chunk, None)
            chunks.update(added)
        return set(chunks.values())


def _rows_listed(folder: Path) -> set[str] | None:
    """The row ids a segment lists; empty for a FAISS segment (kept from before a rebuild moved the index)."""
    if (folder / VECTORS_FILE).exists():
        return set()
    try:
        return MilvusRows.load(folder).row_ids()
    except IndexDamagedError:
        return None
