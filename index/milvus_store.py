"""Milvus (a Milvus Lite file, a server or a cluster) behind LlamaIndex's vector-store interface.

The same contract as FaissArticleStore, so the vectors can live off the machine. LlamaIndex's
MilvusVectorStore does what fits: connecting (a file path is Milvus Lite, `http://host:19530` a
server, with an optional token), creating or reopening the collection (node id as varchar primary
key, the article id in `doc_id`, a FLAT inner-product index), upserting chunks (a stored node is
replaced, never duplicated) and the unfiltered top-k search. The pymilvus client it holds is called
directly for the rest, because MilvusVectorStore:
- writes ids into filter expressions unescaped (`"` + id + `"` in `delete` and in `query.node_ids`,
  Python's repr in `delete_nodes`), so an article id with a quote breaks the expression;
- drops an empty `query.node_ids`, which returns every chunk where an empty allow-list must return none;
- has no call that lists node ids, counts them or says which article a chunk is filed under;
- neither loads a reopened collection (Milvus Lite releases every collection when its process ends,
  so the first search would fail) nor checks an existing collection's dimension and metric.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from newsrag.errors import IndexMismatchError, VectorStoreUnavailableError

try:
    from llama_index.vector_stores.milvus import MilvusVectorStore
    from pymilvus import MilvusException
except ImportError as exc:  # only this module needs them: the FAISS store works without the extra
    raise ImportError(
        f"the Milvus vector store needs the milvus extra ({exc.name} is missing): pip install 'newsrag[milvus]'"
    ) from exc


class _HeldFileFilter(logging.Filter):
    """Milvus Lite logs a traceback when another process holds its file; the store raises a clear error instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "DataDirLockedError"


logging.getLogger("milvus_lite.server_manager").addFilter(_HeldFileFilter())

# MilvusVectorStore's schema: the primary key, the article id and the vector.
ID_FIELD, ARTICLE_FIELD, VECTOR_FIELD = "id", "doc_id", "embedding"
METRIC = "IP"  # inner product, as FAISS's IndexFlatIP: the cosine of the embedder's normalised vectors
MAX_LIMIT = 16384  # the most rows Milvus returns from one search
IDS_PER_EXPRESSION = 1000  # deletes are sent in batches, so one expression stays a few dozen kB
PAGE = 4096  # rows per listing query (Milvus returns at most 16,384)
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class MilvusArticleStore(BasePydanticVectorStore):
    """Chunk embeddings in a Milvus collection keyed by node id, filed under their article id."""

    stores_text: bool = False
    _uri: str = PrivateAttr()
    _collection: str = PrivateAttr()
    _dimension: int = PrivateAttr()
    _milvus: Any = PrivateAttr()

    def __init__(
        self, uri: str, dimension: int, collection: str = "newsrag_chunks", token: str | None = None
    ) -> None:
        super().__init__(stores_text=False)
        self._uri, self._collection, self._dimension = uri, collection, dimension
        lite = not uri.startswith(("http://", "https://", "tcp://", "grpc://"))
        if lite:
            Path(uri).parent.mkdir(
                parents=True, exist_ok=True
            )  # Milvus Lite creates the .db folder, not its parent
        try:
            self._milvus = MilvusVectorStore(
                uri=uri,
                token=token or "",
                collection_name=collection,
                dim=dimension,
                similarity_metric=METRIC,
                index_config={"index_type": "FLAT"},  # exact search, as FAISS's flat index
                upsert_mode=True,
                consistency_level="Strong",  # a search sees every write acknowledged before it, by any client
                use_async_client=False,
            )
            self._check_collection()
            self.client.load_collection(collection)
        except MilvusException as exc:
            hint = (
                "Milvus Lite serves a file to one process at a time: if another one has it open, stop it or use a Milvus server"
                if lite
                else "check that the server is up and the token is right"
            )
            raise VectorStoreUnavailableError(
                f"cannot open the Milvus collection '{collection}' at {uri}: {exc.message} ({hint})"
            ) from exc

    @classmethod
    def class_name(cls) -> str:
        return "MilvusArticleStore"

    @property
    def client(self) -> Any:
        """The pymilvus MilvusClient."""
        return self._milvus.client

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def dimension(self) -> int:
        return self._dimension

    def _check_collection(self) -> None:
        """Refuse a collection this store did not make, or made for other vectors."""
        where = f"the Milvus collection '{self.collection}' at {self.uri}"
        fields = {f["name"]: f for f in self.client.describe_collection(self.collection)["fields"]}
        if not {ID_FIELD, ARTICLE_FIELD, VECTOR_FIELD} <= set(fields):
            raise IndexMismatchError(
                f"{where} is not a chunk collection (fields {sorted(fields)}): name another"
            )
        dim = int(fields[VECTOR_FIELD]["params"]["dim"])
        if dim != self.dimension:
            raise IndexMismatchError(
                f"{where} holds {dim}-d vectors, the embedder makes {self.dimension}-d: name another collection"
            )
        metric = self.client.describe_index(self.collection, VECTOR_FIELD).get("metric_type")
        if metric != METRIC:
            raise IndexMismatchError(f"{where} is indexed by {metric}, not {METRIC}: name another collection")

    def __len__(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def add(
        self, nodes: Sequence[BaseNode], row_ids: Sequence[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Upsert chunk vectors: only the vector and the article id go to Milvus; the text stays in the docstore.

        Each row is keyed by its node id, or by `row_ids` when given (milvus_rows keys a write's rows apart).
        """
        if not nodes:
            return []
        keys = row_ids if row_ids is not None else [node.node_id for node in nodes]
        rows = [
            TextNode(
                id_=key,
                text="",
                embedding=node.get_embedding(),
                relationships={
                    NodeRelationship.SOURCE: RelatedNodeInfo(node_id=node.ref_doc_id or node.node_id)
                },
            )
            for node, key in zip(nodes, keys, strict=True)
        ]
        return list(self._milvus.add(rows))

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """Remove every chunk of one article."""
        self.client.delete(self.collection, filter=f"{ARTICLE_FIELD} == {_literal(ref_doc_id)}")

    def delete_nodes(self, node_ids: list[str] | None = None, filters: Any = None, **kwargs: Any) -> None:
        if filters is not None:
            raise NotImplementedError(
                "MilvusArticleStore deletes by node id or article id, not by metadata filters"
            )
        ids = list(dict.fromkeys(node_ids or []))
        for start in range(0, len(ids), IDS_PER_EXPRESSION):
            self.client.delete(
                self.collection, filter=_is_one_of(ID_FIELD, ids[start : start + IDS_PER_EXPRESSION])
            )

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Top-k by inner product; a node-id allow-list (filters applied upstream) becomes `id in [...]`."""
        limit = min(query.similarity_top_k, MAX_LIMIT)
        if query.query_embedding is None or limit <= 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        if query.node_ids is None:
            plain = VectorStoreQuery(
                query_embedding=query.query_embedding, similarity_top_k=limit, output_fields=[ID_FIELD]
            )
            found = self._milvus.query(plain)
            return VectorStoreQueryResult(similarities=found.similarities, ids=found.ids)
        allowed = list(dict.fromkeys(query.node_ids))
        if not allowed:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        hits = self.client.search(
            self.collection,
            data=[query.query_embedding],
            filter=_is_one_of(ID_FIELD, allowed),
            limit=min(limit, len(allowed)),
            output_fields=[ID_FIELD],
            anns_field=VECTOR_FIELD,
            search_params={"metric_type": METRIC},
        )[0]
        return VectorStoreQueryResult(
            similarities=[float(hit["distance"]) for hit in hits], ids=[str(hit["id"]) for hit in hits]
        )

    def _filed(self, where: str = "") -> dict[str, str]:
        """{node id: article id} for the whole collection (or the rows `where` selects), in pages ordered by node id.

        pymilvus's query_iterator pages the same way but writes its cursor into the next filter unescaped
        (`id > "<last id>"`), so a node id with a quote would end the listing with an error. The two extra
        parameters are the ones it sends to have Milvus and Milvus Lite return each page in key order.
        """
        filed: dict[str, str] = {}
        condition = f'{ID_FIELD} >= ""'
        while True:
            rows = self.client.query(
                self.collection,
                filter=f"({where}) and {condition}" if where else condition,
                limit=PAGE,
                output_fields=[ARTICLE_FIELD],
                iterator="True",
                reduce_stop_for_best="True",
            )
            filed.update((str(row[ID_FIELD]), str(row[ARTICLE_FIELD])) for row in rows)
            if len(rows) < PAGE:
                return filed
            condition = f"{ID_FIELD} > {_literal(str(rows[-1][ID_FIELD]))}"

    def node_ids_ending_with(self, suffix: str) -> list[str]:
        """The stored node ids that end with `suffix` (a scan of the collection: for rare clean-ups only)."""
        if any(c in suffix for c in '%_\\"'):  # how Milvus escapes a wildcard in `like` differs by version
            raise ValueError(f"a suffix to match cannot hold % _ \\ or quotes: {suffix!r}")
        return list(self._filed(f'{ID_FIELD} like "%{suffix}"'))

    def articles_of(self, node_ids: Sequence[str]) -> dict[str, str]:
        """{node id: article id} of those of `node_ids` the collection holds: one query, for a spot check."""
        if not node_ids:
            return {}
        rows = self.client.query(
            self.collection, filter=_is_one_of(ID_FIELD, list(node_ids)), output_fields=[ARTICLE_FIELD]
        )
        return {str(row[ID_FIELD]): str(row[ARTICLE_FIELD]) for row in rows}

    def node_ids(self) -> list[str]:
        return list(self._filed())

    def article_ids(self) -> list[str]:
        return list(dict.fromkeys(self._filed().values()))

    def article_of(self, node_id: str) -> str | None:
        """The article a chunk's vector is filed under (what `delete` removes it with)."""
        rows = self.client.query(
            self.collection, filter=f"{ID_FIELD} == {_literal(node_id)}", output_fields=[ARTICLE_FIELD]
        )
        return str(rows[0][ARTICLE_FIELD]) if rows else None

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Nothing to write: Milvus keeps each write once acknowledged (Milvus Lite appends it to a write-ahead log)."""

    def close(self) -> None:
        self.client.close()


def _literal(value: str) -> str:
    """A Milvus string literal: double-quoted, with the escapes both Milvus and Milvus Lite read."""
    return '"' + value.translate(_ESCAPES) + '"'


def _is_one_of(field: str, values: Sequence[str]) -> str:
    # Filter templates (filter_params) would spare the server parsing the list; Milvus Lite 3.2 rejects them.
    return f"{field} in [{', '.join(_literal(v) for v in values)}]"


__all__ = ["MilvusArticleStore"]
