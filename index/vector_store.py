"""FAISS (IndexIDMap2 over inner product) behind LlamaIndex's vector-store interface, deletable by article.

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

VECTORS_FILE = "vectors.faiss"
IDS_FILE = "vector_ids.json"


class FaissArticleStore(BasePydanticVectorStore):
    """Chunk embeddings keyed by node id, grouped by article id so one article's chunks can be replaced."""

    stores_text: bool = False
    _index: Any = PrivateAttr()
    _node_to_faiss: dict[str, int] = PrivateAttr(default_factory=dict)
    _faiss_to_node: dict[int, str] = PrivateAttr(default_factory=dict)
    _article_nodes: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _next_id: int = PrivateAttr(default=0)

    def __init__(self, dimension: int, index: Any = None) -> None:
        super().__init__(stores_text=False)
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

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
        return int(self._index.ntotal)

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        vectors = np.asarray([n.get_embedding() for n in nodes], dtype="float32")
        ids = np.arange(self._next_id, self._next_id + len(nodes), dtype=np.int64)
        self._next_id += len(nodes)
        self._index.add_with_ids(vectors, ids)
        for node, faiss_id in zip(nodes, ids.tolist(), strict=True):
            self._node_to_faiss[node.node_id] = faiss_id
            self._faiss_to_node[faiss_id] = node.node_id
            self._article_nodes.setdefault(node.ref_doc_id or node.node_id, []).append(node.node_id)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """Remove every chunk of one article."""
        self.delete_nodes(self._article_nodes.pop(ref_doc_id, []))

    def delete_nodes(self, node_ids: list[str] | None = None, filters: Any = None, **kwargs: Any) -> None:
        faiss_ids = [self._node_to_faiss.pop(n) for n in node_ids or [] if n in self._node_to_faiss]
        for faiss_id in faiss_ids:
            del self._faiss_to_node[faiss_id]
        if faiss_ids:
            self._index.remove_ids(np.asarray(faiss_ids, dtype=np.int64))

    def article_ids(self) -> list[str]:
        return list(self._article_nodes)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Top-k by cosine; a node-id allow-list (filters applied upstream) becomes a FAISS id selector."""
        if query.query_embedding is None or len(self) == 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        vector = np.asarray([query.query_embedding], dtype="float32")
        params = None
        if query.node_ids is not None:
            allowed = np.asarray(
                [self._node_to_faiss[n] for n in query.node_ids if n in self._node_to_faiss], dtype=np.int64
            )
            if len(allowed) == 0:
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
        k = min(query.similarity_top_k, len(self))
        scores, ids = self._index.search(vector, k, params=params)
        hits = [
            (float(s), self._faiss_to_node[int(i)]) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]
        return VectorStoreQueryResult(similarities=[s for s, _ in hits], ids=[n for _, n in hits])

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Write the FAISS binary index and a JSON id map: nothing that executes code when loaded."""
        folder = Path(persist_path)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / VECTORS_FILE))
        payload = {"next_id": self._next_id, "nodes": self._node_to_faiss, "articles": self._article_nodes}
        with open(folder / IDS_FILE, "w") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, folder: Path) -> FaissArticleStore:
        index = faiss.read_index(str(folder / VECTORS_FILE))
        with open(folder / IDS_FILE) as handle:
            payload = json.load(handle)
        store = cls(dimension=index.d, index=index)
        store._next_id = int(payload["next_id"])
        store._node_to_faiss = {k: int(v) for k, v in payload["nodes"].items()}
        store._faiss_to_node = {v: k for k, v in store._node_to_faiss.items()}
        store._article_nodes = {k: list(v) for k, v in payload["articles"].items()}
        return store
