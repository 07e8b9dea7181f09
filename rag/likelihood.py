"""How expected each sentence of a summary is to a small language model that has just read the source.

A summary sentence that restates its article is likely to a model reading it right after the
article: it can copy the names, numbers and relations from what it read. A sentence that invents
a name, swaps who did what or adds a number is not. The mean log-probability of a sentence's
tokens is that signal, and it is one that word overlap lacks (overlap passes a sentence that
recombines the article's own words into a claim the article never makes).

The model is the bundled SmolLM2-135M GGUF (or any GGUF by path) through llama-cpp-python, the
optional `llama-cpp` extra. The source is read once per summary's sentences (kept in the model's
KV cache), and only the logits of the sentences' tokens are computed: the output layer over a
49,152-word vocabulary is most of the cost of each token.

Beside the mean, the mean log-probability of the tokens of the words the article lacks (their stems
absent from it): an invented name or number is such a word, and so is a paraphrase. The model tells
the two apart: a paraphrase of what it just read is likely, an invention is not. A sentence with no
such word gets its own mean.

Measured on FRANK (`newsrag eval --suite faithfulness`), added to the claim check's score with weights
fitted on the 375 validation judgements: the mean alone, test Pearson .563 -> .596 (Spearman .505 ->
.535); the mean and the new words' mean, .600 (Spearman .530); see claims.LIKELIHOOD_WEIGHTS.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import Stemmer

from newsrag.index.terms import english_stemmer, stem_terms
from newsrag.rag.llms import LLMUnavailableError, bundled_gguf

# The source as an instruction to summarise it, the sentences as the model's reply (SmolLM2's ChatML).
PROMPT_HEAD = "<|im_start|>user\nSummarize this news article.\n\n"
PROMPT_TAIL = "<|im_end|>\n<|im_start|>assistant\n"
SOURCE_TOKENS = 3000  # a longer source is cut here, leaving room in the context for the summary
CONTEXT = 4096
# Bumped when what a cached score holds changes: a cache of another format is read as empty.
SCORE_FORMAT = "mean+novel"


class SentenceLikelihood(NamedTuple):
    mean: float  # the mean log-probability of the sentence's tokens
    novel: float  # ... of the tokens of its words whose stems the source lacks (the mean when it has none)


def word_tokens(pieces: Sequence[str]) -> list[list[int]]:
    """The token indices of each word of a sentence, from its tokens' texts: a word starts at a token
    that opens with a space or punctuation, or that follows one ending in punctuation. So "2,000" is
    three words, and "000" is new beside an article's "2,000": harmless, as such a token is as likely
    as the article makes it (matching the words by their characters instead, as key_terms splits the
    article, scored within noise of this on FRANK's validation split: CV .616 against .619)."""
    words: list[list[int]] = []
    for i, piece in enumerate(pieces):
        starts = (
            not words
            or piece[:1].isspace()
            or not piece.strip()[:1].isalnum()
            or not pieces[words[-1][-1]].strip()[-1:].isalnum()
        )
        if starts:
            words.append([i])
        else:
            words[-1].append(i)
    return words


def novel_tokens(pieces: Sequence[str], source_stems: set[str], stemmer: Stemmer.Stemmer) -> list[int]:
    """Indices of the tokens of the words that hold a stem the source lacks (stopwords hold none)."""
    found: list[int] = []
    for word in word_tokens(pieces):
        if any(stem not in source_stems for stem in stem_terms("".join(pieces[i] for i in word), stemmer)):
            found.extend(word)
    return found


class SourceLikelihood:
    """Mean log-probability of each sentence's tokens, the sentences read in turn after their source."""

    def __init__(self, model_path: Path | None = None, threads: int | None = None) -> None:
        try:
            import llama_cpp  # noqa: F401  # checked now, loaded at the first score
        except ImportError as exc:
            raise LLMUnavailableError(
                f"the likelihood score needs llama-cpp-python: pip install 'newsrag[llama-cpp]' ({exc})"
            ) from exc
        self.path = model_path or bundled_gguf()
        if not self.path.is_file():
            raise LLMUnavailableError(f"{self.path}: no such GGUF file")
        self.threads = threads or max(1, min(2, os.cpu_count() or 1))
        self._llm: Any = None
        self._vocabulary = 0
        self._loading = threading.Lock()
        self._lock = threading.Lock()  # one llama.cpp context: one evaluation at a time
        self._prefix: list[int] | None = None  # the source held in the KV cache, and its last logits
        self._last = np.zeros(0, dtype="float32")
        self._stemmer = (
            english_stemmer()
        )  # the source's and the sentences' words, stemmed as the index stems them

    @property
    def llm(self) -> Any:
        """The model, loaded at first use: an eval whose scores are all cached never loads it."""
        with self._loading:
            if self._llm is None:
                from llama_cpp import Llama

                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=CONTEXT,
                    n_batch=512,
                    n_threads=self.threads,
                    logits_all=True,
                    verbose=False,
                )
                self._vocabulary = int(self._llm.n_vocab())
        return self._llm

    @property
    def name(self) -> str:
        return self.path.name

    def _tokens(self, text: str, special: bool = False) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=special))

    def read(self, source: str, sentences: Sequence[str]) -> list[SentenceLikelihood]:
        """Each sentence's mean token log-probability after the source and the sentences before it, and
        that of its words the source lacks."""
        parts, each = self._sentence_logprobs(source, sentences)
        # A sentence past the context (or with no tokens) gets the reply's mean: no evidence either way.
        every = np.concatenate([np.zeros(0), *each])
        overall = float(every.mean()) if every.size else 0.0
        source_stems = set(stem_terms(source, self._stemmer))
        found = []
        for ids, own in zip(parts, each, strict=True):
            if not own.size:
                found.append(SentenceLikelihood(overall, overall))
                continue
            pieces = [self.llm.detokenize([t]).decode("utf-8", "replace") for t in ids[: own.size]]
            novel = novel_tokens(pieces, source_stems, self._stemmer)
            mean = float(own.mean())
            found.append(SentenceLikelihood(mean, float(own[novel].mean()) if novel else mean))
        return found

    def token_logprobs(self, source: str, sentences: Sequence[str]) -> list[np.ndarray]:
        """Each sentence's token log-probabilities after the source and the sentences before it
        (empty for a sentence past the context)."""
        return self._sentence_logprobs(source, sentences)[1]

    def _sentence_logprobs(
        self, source: str, sentences: Sequence[str]
    ) -> tuple[list[list[int]], list[np.ndarray]]:
        """Each sentence's tokens, and their log-probabilities (as many as fit in the context)."""
        if not sentences:
            return [], []
        prefix = (
            self._tokens(PROMPT_HEAD, special=True)
            + self._tokens(source)[:SOURCE_TOKENS]
            + self._tokens(PROMPT_TAIL, special=True)
        )
        # A sentence after another starts with its space, as it does in the joined reply.
        parts = [self._tokens(s if k == 0 else " " + s) for k, s in enumerate(sentences)]
        reply = [t for part in parts for t in part][: CONTEXT - len(prefix)]
        if not reply:
            return parts, [np.zeros(0, dtype="float32") for _ in sentences]
        with self._lock:
            logprobs = self._reply_logprobs(prefix, reply)
        each, start = [], 0
        for part in parts:
            each.append(logprobs[start : start + len(part)])
            start += len(part)
        return parts, each

    def _reply_logprobs(self, prefix: list[int], reply: list[int]) -> np.ndarray:
        """The reply's token log-probabilities. The same source as the call before (another summary of
        one article) is not read again: its keys and values stay in the cache, and the reply overwrites
        the previous one's."""
        llm = self.llm
        n = len(prefix)
        if self._prefix != prefix:
            self._prefix = None
            llm.reset()
            llm._logits_all = False  # the prefix's logits are not needed, bar its last token's
            try:
                llm.eval(prefix)
                self._last = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(self._vocabulary,)).copy()
            finally:
                llm._logits_all = True
            self._prefix = prefix
        llm.n_tokens = n  # eval() first drops whatever the cache holds past this point
        llm.eval(reply)
        last = self._last
        rows = np.vstack([last[None, :], np.asarray(llm.scores[n : n + len(reply) - 1])])
        rows = rows - rows.max(axis=1, keepdims=True)
        normaliser = np.log(np.exp(rows).sum(axis=1))
        return np.asarray(rows[np.arange(len(reply)), reply] - normaliser)


class LikelihoodCache:
    """Scores kept between eval runs in one JSON file, by a hash of the model, source and sentences."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.scores: dict[str, list[list[float]]] = {}
        self.hits = self.misses = 0
        if path.is_file():
            try:
                self.scores = json.loads(path.read_text())
            except ValueError:
                self.scores = {}  # a damaged cache is only slower, never wrong: start afresh

    def read(
        self, scorer: SourceLikelihood, source: str, sentences: Sequence[str]
    ) -> list[SentenceLikelihood]:
        key = hashlib.sha1(
            "\x00".join([SCORE_FORMAT, scorer.name, PROMPT_HEAD, source, *sentences]).encode(),
            usedforsecurity=False,
        ).hexdigest()
        if key in self.scores:
            self.hits += 1
            return [SentenceLikelihood(*pair) for pair in self.scores[key]]
        self.misses += 1
        found = scorer.read(source, sentences)
        self.scores[key] = [list(pair) for pair in found]
        return found

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.scores))
        os.replace(partial, self.path)
