"""What an index is built with and where it lives: the part of the settings that index/ reads."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from newsrag.errors import NewsRagError
from newsrag.index.fetch import FeedPolicy

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"
VECTOR_STORES = ("faiss", "milvus")  # newsrag.index.vector_backend opens them
MILVUS_TOKEN_ENV = "NEWSRAG_MILVUS_TOKEN"  # a secret: read from the environment only, never a settings file
MILVUS_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
LITE_FILE = "milvus.db"  # the Milvus Lite file in the index directory when milvus_uri is empty
# Milvus's own rule for collection names.
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


@dataclass(frozen=True)
class IndexSettings:
    """Where the index lives and how its articles are chunked and embedded."""

    index_dir: Path = Path(".newsrag/index")
    # A sentence-transformers model: the bundled name, a local path, or a name in the local HF cache.
    embed_model: str = BUNDLED_EMBEDDER
    # Texts per forward pass. Small batches pad less: on the sample's chunks, 2 CPU cores, 16 encodes
    # 31.7 chunks/s, 32 28.6 and 64 27.2 (alternating, one run); `newsrag bench` sweeps it again.
    embed_batch_size: int = 16
    # Chunks are measured in the embedder's own word pieces, title included.
    chunk_size: int = 0  # 0: the embedder's max_seq_length
    chunk_overlap: int = 32
    lock_timeout: float = 30.0
    # Inputs come from anyone who can open the chat: what they may cost and what a feed URL may reach.
    max_article_chars: int = 200_000  # an article (or feed entry) with more text is refused
    max_feed_bytes: int = 10_000_000  # a feed, as fetched and as decompressed, or as a file
    feed_timeout: float = 20.0  # seconds for a feed URL, redirects included
    allow_local_feeds: bool = False  # feed URLs may name this machine or its private network
    # Records (articles, lines, entries) read from one file or feed URL; past it the rest is reported unread.
    max_articles_per_file: int = 1_000
    # Where the chunk vectors live: "faiss" (files in the index directory) or "milvus" (a collection).
    vector_store: str = "faiss"
    milvus_uri: str = ""  # "": a Milvus Lite file in the index directory; http(s)://host:19530: a server
    milvus_collection: str = "newsrag_chunks"

    def __post_init__(self) -> None:
        """Refuse a vector-store setting that no store could open, before anything is read or embedded."""
        if self.vector_store not in VECTOR_STORES:
            raise NewsRagError(
                f"setting vector_store: {self.vector_store!r} is not one of {', '.join(VECTOR_STORES)}"
            )
        uri = self.milvus_uri
        if uri and not uri.startswith(MILVUS_SERVER_SCHEMES) and not uri.endswith(".db"):
            raise NewsRagError(
                f"setting milvus_uri: {uri!r} is neither a Milvus server (http://host:19530, https://...) "
                "nor a Milvus Lite file (a path ending in .db)"
            )
        if not _COLLECTION_NAME.fullmatch(self.milvus_collection):
            raise NewsRagError(
                f"setting milvus_collection: {self.milvus_collection!r} is not a Milvus collection name "
                "(letters, digits and underscores, not starting with a digit, at most 255)"
            )

    @property
    def milvus_location(self) -> str:
        """The Milvus URI to open: the setting, or the Milvus Lite file inside the index directory."""
        return self.milvus_uri or str(Path(self.index_dir) / LITE_FILE)

    @property
    def feed_policy(self) -> FeedPolicy:
        """What a feed may reach and cost, for index/loaders.iter_inputs."""
        return FeedPolicy(
            allow_local=self.allow_local_feeds,
            max_bytes=self.max_feed_bytes,
            timeout=self.feed_timeout,
            max_article_chars=self.max_article_chars,
        )

    def replace(self, **changes: Any) -> Self:
        """Copy with changes, ignoring None (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
