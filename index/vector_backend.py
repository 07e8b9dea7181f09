"""Which store an index keeps its chunk vectors in (the `vector_store` setting), and the one connection to it.

FAISS needs nothing: its vectors are files in the segments. Milvus is opened once per backend, lazily,
and shared by every snapshot loaded through it (an engine reloads on each swap; a connection per
reload would pile up). The Milvus modules are imported only here, when Milvus is chosen, so the
FAISS path runs without the extra.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import TYPE_CHECKING, Self

from newsrag.errors import IndexMismatchError, NewsRagError
from newsrag.index.settings import MILVUS_TOKEN_ENV, IndexSettings

if TYPE_CHECKING:
    from newsrag.index.milvus_store import MilvusArticleStore


class VectorBackend:
    """The vector store chosen by the settings: "faiss", or "milvus" at a URI and collection."""

    def __init__(
        self, kind: str = "faiss", uri: str = "", collection: str = "", token: str | None = None
    ) -> None:
        self.kind, self.uri, self.collection, self._token = kind, uri, collection, token
        self._store: MilvusArticleStore | None = None
        if kind == "milvus":
            try:
                import newsrag.index.milvus_store  # noqa: F401 (fails here, with what to install, not at first use)
            except ImportError as exc:
                raise NewsRagError(f"setting vector_store: 'milvus' cannot be used: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: IndexSettings, env: dict[str, str] | None = None) -> VectorBackend:
        """The backend the settings ask for; Milvus's token comes from NEWSRAG_MILVUS_TOKEN, never a file."""
        if settings.vector_store != "milvus":
            return cls()
        env = dict(os.environ if env is None else env)
        return cls(
            "milvus", settings.milvus_location, settings.milvus_collection, env.get(MILVUS_TOKEN_ENV) or None
        )

    @property
    def is_milvus(self) -> bool:
        return self.kind == "milvus"

    def describe(self) -> str:
        """The store in words, for errors: "FAISS files in the index" or "the Milvus collection 'c' at URI"."""
        if not self.is_milvus:
            return "FAISS (vectors in the index directory)"
        return f"Milvus (the collection '{self.collection}' at {self.uri})"

    def check(self, vector_store: str, collection: str) -> None:
        """Refuse an index whose manifest records another store or collection than this backend opens."""
        if (vector_store, collection if vector_store == "milvus" else "") == (
            self.kind,
            self.collection if self.is_milvus else "",
        ):
            return
        have = "FAISS" if vector_store == "faiss" else f"the Milvus collection '{collection}'"
        raise IndexMismatchError(
            f"index keeps its vectors in {have}; settings ask for {self.describe()}: set vector_store"
            f"{' and milvus_collection' if vector_store == 'milvus' else ''} as the index was built, "
            "or run `newsrag ingest PATH --rebuild` to build it in the store the settings name"
        )

    def milvus(self, dimension: int) -> MilvusArticleStore:
        """The Milvus collection, opened at the first call (VectorStoreUnavailableError when it cannot be)."""
        if not self.is_milvus:
            raise NewsRagError("this index keeps its vectors in FAISS, not Milvus")
        if self._store is None:
            from newsrag.index.milvus_store import MilvusArticleStore

            self._store = MilvusArticleStore(self.uri, dimension, self.collection, self._token)
        elif self._store.dimension != dimension:
            raise IndexMismatchError(
                f"the Milvus collection '{self.collection}' at {self.uri} holds {self._store.dimension}-d "
                f"vectors, this index {dimension}-d: name another collection"
            )
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
