"""What an index is built with and where it lives: the part of the settings that index/ reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from newsrag.index.fetch import FeedPolicy

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class IndexSettings:
    """Where the index lives and how its articles are chunked and embedded."""

    index_dir: Path = Path(".newsrag/index")
    # A sentence-transformers model: the bundled name, a local path, or a name in the local HF cache.
    embed_model: str = BUNDLED_EMBEDDER
    embed_batch_size: int = 64
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
