"""One settings object for the whole project, filled from defaults, a TOML file, NEWSRAG_* env vars and flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "data" / "sample"


@dataclass(frozen=True)
class Settings:
    """Everything a run can be told; passed explicitly, never read from globals."""

    index_dir: Path = Path(".newsrag/index")
    # A sentence-transformers model: the bundled name, a local path, or a name in the local HF cache.
    embed_model: str = BUNDLED_EMBEDDER
    embed_batch_size: int = 64
    # Chunks are measured in the embedder's own word pieces, title included.
    chunk_size: int = 0  # 0: the embedder's max_seq_length
    chunk_overlap: int = 32
    # Retrieval
    top_k: int = 6
    candidates: int = 40
    max_chunks_per_article: int = 2
    # Answers
    answer_sentences: int = 3
    summary_sentences: int = 3
    lock_timeout: float = 30.0

    def replace(self, **changes: Any) -> Settings:
        """Copy with changes, ignoring None (unset CLI flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def load(
        cls, config: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Defaults < config file (NEWSRAG_CONFIG or ./newsrag.toml) < environment < overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        config = config or (
            Path(env["NEWSRAG_CONFIG"]) if env.get("NEWSRAG_CONFIG") else Path("newsrag.toml")
        )
        if config.is_file():
            with config.open("rb") as handle:
                values.update(tomllib.load(handle).get("newsrag", {}))
        for f in fields(cls):
            key = f"NEWSRAG_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{f.name: _coerce(f, values[f.name]) for f in fields(cls) if f.name in values})


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind == "Path":
        return Path(value).expanduser()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value
