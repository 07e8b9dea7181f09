"""FAISS (IndexIDMap2 over inner product) behind LlamaIndex's vector-store interface, deletable by article.

The index type follows the corpus size: exact (IndexFlatIP) up to HNSW_FROM vectors, HNSW beyond
(IndexHNSWFlat, M=32): exact search grows with the corpus, HNSW's stays near log n. HNSW cannot
remove a vector, so a chunk deleted from it is marked dead and skipped until its segment is rewritten.
An allow-list (a date or source filter) of up to EXACT_UP_TO chunks is searched exactly in any case:
HNSW's graph search loses recall when most of the graph is filtered out.

LlamaIndex's FaissMapVectorStore was not used: its `add` takes `ntotal` as the next id, which
collides with a live id after any deletion, and its `delete(ref_doc_id)` only deletes a single
node whose id equals the article id, so an updated article would keep its stale chunks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from newsrag.errors import IndexDamagedError

VECTORS_FILE = "vectors.faiss"
IDS_FILE = "vector_ids.json"
HNSW_FROM = 50_000  # vectors; below, exact search of 384-d vectors takes under 10 ms on one core
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
EXACT_UP_TO = 20_000  # allow-listed vectors searched exactly


def index_kind_for(vectors: int) -> str:
    """The FAISS index a segment of this many vectors is written as: "flat" (exact) or "hnsw"."""
    return "hnsw" if vectors >= HNSW_FROM else "flat"


def new_faiss_index(dimension: int, kind: str = "flat") -> Any:
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


class FaissArticleStore(BasePydanticVectorStore):
    """Chunk embeddings keyed by node id, grouped by article id so one article's chunks can be replaced."""

    stores_text: bool = False
    _index: Any = PrivateAttr()
    _node_to_faiss: dict[str, int] = PrivateAttr(default_factory=dict)
    _faiss_to_node: dict[int, str] = PrivateAttr(default_factory=dict)
    _article_nodes: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _node_article: dict[str, str] = PrivateAttr(default_factory=dict)
    _next_id: int = PrivateAttr(default=0)
    _dead: set[int] = PrivateAttr(default_factory=set)  # deleted from an index that cannot remove (HNSW)

    def __init__(self, dimension: int, index: Any = None) -> None:
        super().__init__(stores_text=False)
        self._index = index if index is not None else new_faiss_index(dimension)

    @property
    def kind(self) -> str:
        """ "flat" (exact search) or "hnsw" (approximate)."""
        return "hnsw" if isinstance(faiss.downcast_index(self._index.index), faiss.IndexHNSW) else "flat"

    @classmethod
    def class_name(cls) -> str:
        return "FaissArticleStore"

    @property
    def client(self) -> Any:
        return self._index

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._dead)

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Store chunk vectors; a chunk stored before is replaced, so no vector is ever left without its chunk."""
        if not nodes:
            return []
        self.delete_nodes([n.node_id for n in nodes])
        vectors = np.asarray([n.get_embedding() for n in nodes], dtype="float32")
        ids = np.arange(self._next_id, self._next_id + len(nodes), dtype=np.int64)
        self._next_id += len(nodes)
        self._index.add_with_ids(vectors, ids)
        for node, faiss_id in zip(nodes, ids.tolist(), strict=True):
            self._file(node.node_id, faiss_id, node.ref_doc_id or node.node_id)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """Remove every chunk of one article."""
        self.delete_nodes(list(self._article_nodes.get(ref_doc_id, [])))

    def delete_nodes(self, node_ids: list[str] | None = None, filters: Any = None, **kwargs: Any) -> None:
        faiss_ids = [self._node_to_faiss.pop(n) for n in node_ids or [] if n in self._node_to_faiss]
        for faiss_id in faiss_ids:
            node_id = self._faiss_to_node.pop(faiss_id)
            article_id = self._node_article.pop(node_id)
            self._article_nodes[article_id].remove(node_id)
            if not self._article_nodes[article_id]:
                del self._article_nodes[article_id]
        if faiss_ids and self.kind == "hnsw":
            self._dead.update(faiss_ids)
        elif faiss_ids:
            self._index.remove_ids(np.asarray(faiss_ids, dtype=np.int64))

    def _file(self, node_id: str, faiss_id: int, article_id: str) -> None:
        self._node_to_faiss[node_id] = faiss_id
        self._faiss_to_node[faiss_id] = node_id
        self._node_article[node_id] = article_id
        self._article_nodes.setdefault(article_id, []).append(node_id)

    def article_ids(self) -> list[str]:
        return list(self._article_nodes)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Top-k by cosine; a node-id allow-list (filters applied upstream) becomes a FAISS id selector."""
        if query.query_embedding is None or len(self) == 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        vector = np.asarray([query.query_embedding], dtype="float32")
        hnsw = self.kind == "hnsw"
        params: Any = None
        if query.node_ids is not None:
            allowed = np.asarray(
                [self._node_to_faiss[n] for n in query.node_ids if n in self._node_to_faiss], dtype=np.int64
            )
            if len(allowed) == 0:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            if hnsw and len(allowed) <= EXACT_UP_TO:
                return self._exact(vector[0], allowed, query.similarity_top_k)
            params = self._search_params(faiss.IDSelectorBatch(allowed), hnsw)
        elif self._dead:
            dead = np.fromiter(self._dead, dtype=np.int64, count=len(self._dead))
            params = self._search_params(faiss.IDSelectorNot(faiss.IDSelectorBatch(dead)), hnsw)
        k = min(query.similarity_top_k, len(self))
        scores, ids = self._index.search(vector, k, params=params)
        hits = [
            (float(s), self._faiss_to_node[int(i)]) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]
        return VectorStoreQueryResult(similarities=[s for s, _ in hits], ids=[n for _, n in hits])

    @staticmethod
    def _search_params(selector: Any, hnsw: bool) -> Any:
        if hnsw:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)  # type: ignore[attr-defined]
        return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]

    def _exact(self, vector: np.ndarray, allowed: np.ndarray, top_k: int) -> VectorStoreQueryResult:
        """Inner products with the allowed vectors themselves: exact, whatever the index type."""
        scores = self._index.reconstruct_batch(allowed) @ vector
        order = np.argsort(-scores, kind="stable")[:top_k]
        return VectorStoreQueryResult(
            similarities=[float(scores[i]) for i in order],
            ids=[self._faiss_to_node[int(allowed[i])] for i in order],
        )

    @property
    def has_dead(self) -> bool:
        """Whether deleted vectors still sit in the index (HNSW), to be dropped when it is rewritten."""
        return bool(self._dead)

    def vectors_of(self, faiss_ids: np.ndarray) -> np.ndarray:
        return np.asarray(self._index.reconstruct_batch(np.asarray(faiss_ids, dtype=np.int64)))

    def rewritten(self, kind: str) -> FaissArticleStore:
        """A copy with only the live vectors, in a new index of `kind`: what a merged segment is written as."""
        copy = FaissArticleStore(self.dimension, new_faiss_index(self.dimension, kind))
        copy._next_id = self._next_id
        ids = np.asarray(sorted(self._faiss_to_node), dtype=np.int64)
        if ids.size:
            copy._index.add_with_ids(self.vectors_of(ids), ids)
        for node_id, faiss_id in self._node_to_faiss.items():
            copy._file(node_id, faiss_id, self._node_article[node_id])
        return copy

    def node_ids(self) -> list[str]:
        return list(self._node_to_faiss)

    @property
    def next_id(self) -> int:
        """The FAISS id the next vector gets: ids only grow, so vectors added after a point are those at or above it."""
        return self._next_id

    def absorb(self, other: FaissArticleStore) -> None:
        """Take in `other`'s vectors under their own ids (a later segment): a chunk held already is replaced."""
        if len(other) == 0:
            self._next_id = max(self._next_id, other._next_id)
            return
        self.delete_nodes(other.node_ids())
        if self._index.ntotal == 0:
            self._index = other._index  # the first segment: adopted, not copied
            self._dead = set(other._dead)
        else:
            ids = np.asarray(sorted(other._faiss_to_node), dtype=np.int64)
            self._index.add_with_ids(other.vectors_of(ids), ids)
        for node_id, faiss_id in other._node_to_faiss.items():
            self._file(node_id, faiss_id, other._node_article[node_id])
        self._next_id = max(self._next_id, other._next_id)

    def emptied(self, next_id: int | None = None) -> FaissArticleStore:
        """An empty store whose ids go on from `next_id` (default this one's): what an appending writer adds to."""
        empty = FaissArticleStore(self.dimension)
        empty._next_id = self._next_id if next_id is None else next_id
        return empty

    def added_since(self, first_id: int) -> FaissArticleStore:
        """A new store of the vectors whose ids are `first_id` or more: what a writer added since it loaded."""
        delta = FaissArticleStore(self.dimension)
        delta._next_id = self._next_id
        ids = faiss.vector_to_array(self._index.id_map)
        # Vectors are appended with growing ids and FAISS keeps their order on removal: the new ones are a tail.
        if ids.size and bool(np.all(ids[1:] > ids[:-1])):
            start = int(np.searchsorted(ids, first_id))
            rows = np.arange(start, ids.size)
        else:
            rows = np.flatnonzero(ids >= first_id)
        new = np.asarray([i for i in ids[rows].tolist() if i not in self._dead], dtype=np.int64)
        if new.size == 0:
            return delta
        delta._index.add_with_ids(self.vectors_of(new), new)
        for faiss_id in new.tolist():
            node_id = self._faiss_to_node[faiss_id]
            delta._file(node_id, faiss_id, self._node_article[node_id])
        return delta

    def article_of(self, node_id: str) -> str | None:
        """The article a chunk's vector is filed under (what `delete` removes it with)."""
        return self._node_article.get(node_id)

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Write the FAISS binary index and a JSON id map, each fsync'd: nothing that executes code when loaded."""
        folder = Path(persist_path)
        folder.mkdir(parents=True, exist_ok=True)
        # Serialised here rather than by faiss.write_index so that a full disk is an OSError with its errno.
        _write_synced(folder / VECTORS_FILE, faiss.serialize_index(self._index).tobytes())
        payload = {"next_id": self._next_id, "nodes": self._node_to_faiss, "articles": self._article_nodes}
        _write_synced(folder / IDS_FILE, json.dumps(payload).encode())

    @classmethod
    def load(cls, folder: Path, dimension: int | None = None) -> FaissArticleStore:
        """Read vectors.faiss and vector_ids.json and check them against each other; IndexDamagedError names the bad file."""
        index = _read_index(folder / VECTORS_FILE, dimension)
        next_id, nodes, articles = _read_ids(folder / IDS_FILE)
        faiss_ids = faiss.vector_to_array(index.id_map).tolist()
        if len(nodes) != index.ntotal:
            raise IndexDamagedError(
                f"{IDS_FILE}: maps {len(nodes)} chunks but {VECTORS_FILE} holds {index.ntotal} vectors"
            )
        if len(set(nodes.values())) != len(nodes) or set(nodes.values()) != set(faiss_ids):
            raise IndexDamagedError(f"{IDS_FILE}: its vector ids are not the ids {VECTORS_FILE} holds")
        if faiss_ids and next_id <= max(faiss_ids):
            raise IndexDamagedError(f"{IDS_FILE}: next_id {next_id} would reuse a vector id in use")
        filed = [n for chunk_ids in articles.values() for n in chunk_ids]
        if len(filed) != len(nodes) or set(filed) != set(nodes):
            raise IndexDamagedError(f"{IDS_FILE}: its articles do not list exactly the chunks it maps")
        store = cls(dimension=index.d, index=index)
        store._next_id = next_id
        for article_id, chunk_ids in articles.items():
            for node_id in chunk_ids:
                store._file(node_id, nodes[node_id], article_id)
        return store


def read_json(path: Path) -> Any:
    """A JSON file of a snapshot; IndexDamagedError (naming the file) when it is unreadable or cut short."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise IndexDamagedError(f"{path.name}: missing") from None
    except OSError as exc:
        raise IndexDamagedError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise IndexDamagedError(f"{path.name}: not valid JSON, cut short or overwritten ({exc})") from exc


def _read_index(path: Path, dimension: int | None) -> Any:
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise IndexDamagedError(f"{path.name}: missing") from None
    except OSError as exc:
        raise IndexDamagedError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    try:
        index = faiss.deserialize_index(raw)
    except RuntimeError as exc:
        raise IndexDamagedError(
            f"{path.name}: not a readable FAISS index, cut short or overwritten ({raw.size} bytes)"
        ) from exc
    if not isinstance(index, faiss.IndexIDMap2) or index.index.ntotal != index.ntotal:
        raise IndexDamagedError(f"{path.name}: holds a {type(index).__name__}, not this store's IndexIDMap2")
    if dimension is not None and index.d != dimension:
        raise IndexDamagedError(f"{path.name}: holds {index.d}-d vectors, the manifest says {dimension}-d")
    return index


def _read_ids(path: Path) -> tuple[int, dict[str, int], dict[str, list[str]]]:
    """The id map, refused unless it has exactly its three keys with values of their types."""
    payload = read_json(path)
    if not isinstance(payload, dict) or set(payload) != {"next_id", "nodes", "articles"}:
        raise IndexDamagedError(f"{path.name}: not an id map (keys next_id, nodes, articles)")
    next_id, nodes, articles = payload["next_id"], payload["nodes"], payload["articles"]
    if (
        type(next_id) is not int
        or not isinstance(nodes, dict)
        or not all(type(v) is int for v in nodes.values())
        or not isinstance(articles, dict)
        or not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in articles.values())
    ):
        raise IndexDamagedError(f"{path.name}: a value of the wrong type")
    return next_id, nodes, articles


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
