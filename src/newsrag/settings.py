"""One settings object for the whole project, filled from defaults, a TOML file, NEWSRAG_* env vars and flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from newsrag.errors import NewsRagError
from newsrag.index.settings import IndexSettings

SUMMARY_METHODS = ("lead", "centrality")  # newsrag.rag.extractive_summary implements them
LLM_BACKENDS = ("none", "llama-cpp", "openai")  # newsrag.rag.llms builds them


@dataclass(frozen=True)
class Settings(IndexSettings):
    """Everything a run can be told; passed explicitly, never read from globals.

    The index part (IndexSettings) is what index/ reads; the rest is about retrieval and answers.
    """

    # Retrieval
    top_k: int = 6
    candidates: int = 40
    max_chunks_per_article: int = 2
    # Answers
    answerer: str = "extractive"  # a registered answerer (see `newsrag answerers`)
    answer_sentences: int = 3
    summary_sentences: int = 3
    summary_method: str = "lead"  # "lead" or "centrality": see newsrag.rag.extractive_summary
    # LLM answers (see newsrag.rag.llms): with an llm, the "llm" answerer writes and every sentence is checked
    llm: str = "none"  # none, llama-cpp or openai
    llm_model: str = ""  # a GGUF path (llama-cpp; default: the bundled SmolLM2) or a model name (openai)
    llm_base_url: str = ""  # an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1
    llm_api_key_env: str = "OPENAI_API_KEY"  # the environment variable holding its key, if it needs one
    llm_timeout: float = 60.0  # seconds before a slow server's answer gives way to quotes
    llm_max_tokens: int = 256
    llm_context: int = 4096
    drop_unsupported: bool = False  # leave out generated sentences the claim check does not support

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.llm not in LLM_BACKENDS:
            raise NewsRagError(f"setting llm: {self.llm!r} is not one of {', '.join(LLM_BACKENDS)}")
        if self.summary_method not in SUMMARY_METHODS:
            raise NewsRagError(
                f"setting summary_method: {self.summary_method!r} is not one of {', '.join(SUMMARY_METHODS)}"
            )

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
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise NewsRagError(f"{config}: unknown setting(s) {', '.join(unknown)} in [newsrag]")
        for f in fields(cls):
            key = f"NEWSRAG_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{f.name: _coerce(f, values[f.name]) for f in fields(cls) if f.name in values})


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    try:
        if kind == "Path":
            return Path(value).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            words = {
                "1": True,
                "true": True,
                "yes": True,
                "on": True,
                "0": False,
                "false": False,
                "no": False,
                "off": False,
            }
            return words[str(value).strip().lower()]
    except KeyError as exc:
        raise NewsRagError(f"setting {f.name}: {value!r} is not a valid bool (true/false)") from exc
    except (TypeError, ValueError) as exc:
        raise NewsRagError(f"setting {f.name}: {value!r} is not a valid {kind}") from exc
    return value
