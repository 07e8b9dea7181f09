"""What an index is built with and where it lives: the part of the settings that index/ reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

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

    def replace(self, **changes: Any) -> Self:
        """Copy with changes, ignoring None (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
