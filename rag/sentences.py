"""Sentence segmentation of article text into spans with exact character offsets, and caches of both."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from newsrag.index.articles import Article
from newsrag.rag.types import Embed

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

# News abbreviations for Punkt (lower case, no final dot); words that also end sentences ('ill', 'no') are left out.
EXTRA_ABBREVIATIONS = frozenset(
    {
        "gov", "sgt", "capt", "cpl", "pvt", "adm", "cmdr", "lt", "maj", "supt", "insp", "det", "rev",
        "hon", "atty", "ave", "blvd", "rd", "mt", "ft", "approx", "dept", "univ", "e.g", "i.e", "u.k",
        "u.n", "u.s.a", "a.m", "p.m", "jan", "feb", "apr", "jun", "jul", "aug", "sept", "oct", "nov",
        "dec", "ariz", "ark", "calif", "colo", "conn", "fla", "kan", "mich", "minn", "mont", "neb",
        "nev", "okla", "tenn", "tex", "wis", "wyo",
    }
)  # fmt: skip
# Stock Punkt abbreviations that far more often are words ending a sentence ('fell ill.').
AMBIGUOUS_ABBREVIATIONS = frozenset({"ill", "ok", "ore", "wash", "wed"})

# Daily Mail header: 'By . Name . PUBLISHED: . 09:58 EST, 19 March 2013 . | . UPDATED: . 10:01 EST, 19 March 2013 .'
_DM_HEADER = re.compile(
    r"""\A\s*
    (?:By\s+\.\s+(?:[^.|]{1,80}?\s+\.\s+){1,4}?)?          # byline fragments separated by ' . '
    (?:PUBLISHED:\s+\.\s+.{0,60}?\d{4}\s+\.\s+\|\s+\.\s+    # publication time
       UPDATED:\s+\.\s+.{0,60}?\d{4}\s+\.\s*)?              # update time
    (?:Last\s+updated\s+at\s+.{0,60}?\d{4}\s*\.?\s*)?
    """,
    re.VERBOSE,
)
# Wire dateline before the lede: 'New Delhi, India (CNN)', '(CNN) -- ', '(The Hollywood Reporter)Stan ...'.
_DATELINE = re.compile(
    r"\A\s*(?:[A-Z][^()\n]{0,60}\s)?(?:\(CNN\)\s*(?:--\s*)?|\([A-Z][\w.&' ]{1,40}\)(?:\s*--\s*|(?=[A-Z\"“‘'])))"
)
# Name initials ('B.B. King', 'C.S. Lewis') that Punkt takes for a sentence end; places like D.C. do end one.
_INITIALS_END = re.compile(r"(?<![\w.])(?:[A-Z]\.){2,3}$")
_PLACE_INITIALS = frozenset({"U.S.", "U.K.", "U.N.", "E.U.", "D.C.", "U.S.A."})
# Boilerplate that sits between sentences without punctuation of its own.
_BOILERPLATE = re.compile(r"Scroll down for (?:video|more)\s*", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n")


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence with its offsets, so summaries and citations point back into the article."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _tokenizer() -> PunktSentenceTokenizer:
    """Trained English Punkt from LlamaIndex's bundled nltk data, so segmentation works offline."""
    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    bundled = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if os.path.isdir(bundled) and bundled not in nltk.data.path:
        nltk.data.path.append(bundled)
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(EXTRA_ABBREVIATIONS)
    tokenizer._params.abbrev_types.difference_update(AMBIGUOUS_ABBREVIATIONS)
    return tokenizer


def _body_start(text: str) -> int:
    """Offset where the article body begins, past bylines, timestamps and wire datelines."""
    start = _DM_HEADER.match(text).end()  # type: ignore[union-attr]  # the pattern can match empty
    dateline = _DATELINE.match(text, start)
    return dateline.end() if dateline else start


def _blocks(text: str, start: int) -> list[tuple[int, int]]:
    """Paragraph pieces between newlines and boilerplate markers; sentences never cross them."""
    cuts: list[tuple[int, int]] = []
    for match in _PARAGRAPH.finditer(text, start):
        cuts.append((match.start(), match.end()))
    for match in _BOILERPLATE.finditer(text, start):
        cuts.append((match.start(), match.end()))
    cuts.sort()
    blocks: list[tuple[int, int]] = []
    pos = start
    for cut_start, cut_end in cuts:
        if cut_start >= pos:
            blocks.append((pos, cut_start))
        pos = max(pos, cut_end)
    blocks.append((pos, len(text)))
    return blocks


def _trimmed(text: str, start: int, end: int) -> SentenceSpan | None:
    """The span without surrounding whitespace, or None when it holds no word."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    piece = text[start:end]
    if not any(ch.isalnum() for ch in piece):
        return None
    return SentenceSpan(piece, start, end)


def _false_break(previous: SentenceSpan, following: SentenceSpan) -> bool:
    """Whether Punkt cut inside a sentence: before a lower-case word or after a person's initials."""
    first_word = following.text.split(maxsplit=1)[0]
    if first_word[0].islower() and first_word.islower():  # 'eBay', 'iPhone' may start a sentence
        return True
    initials = _INITIALS_END.search(previous.text)
    return initials is not None and initials.group() not in _PLACE_INITIALS


def split_sentences(text: str) -> list[SentenceSpan]:
    """Sentences of an article in order, each exactly ``text[start:end]``, without header boilerplate."""
    tokenizer = _tokenizer()
    spans: list[SentenceSpan] = []
    for block_start, block_end in _blocks(text, _body_start(text)):
        block_spans: list[SentenceSpan] = []
        for rel_start, rel_end in tokenizer.span_tokenize(text[block_start:block_end]):
            span = _trimmed(text, block_start + rel_start, block_start + rel_end)
            if span is None:
                continue
            if block_spans and _false_break(block_spans[-1], span):
                merged_start = block_spans.pop().start
                span = SentenceSpan(text[merged_start : span.end], merged_start, span.end)
            block_spans.append(span)
        spans.extend(block_spans)
    return spans


class SentenceSplitCache:
    """Sentences of an article, split once: answers and summaries re-read the same articles."""

    def __init__(self, maxsize: int = 2048) -> None:
        self._cache: dict[tuple[str, int], list[SentenceSpan]] = {}
        self.maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, article: Article) -> list[SentenceSpan]:
        key = (article.id, hash(article.text))  # str hashes are cached: no rehash of the text per call
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = split_sentences(article.text)
            with self._lock:
                if len(self._cache) >= self.maxsize:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = found
        return found


class SentenceVectors:
    """Embeddings of sentences by their text, kept between questions (bounded): answers revisit articles."""

    def __init__(self, embed: Embed, maxsize: int = 20000) -> None:
        self.embed, self.maxsize = embed, maxsize
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the chat answers several people at once

    def get(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype="float32")
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = dict(zip(missing, self.embed(missing), strict=True))
            found.update(fresh)
            with self._lock:
                if len(self._cache) + len(fresh) > self.maxsize:
                    self._cache.clear()
                self._cache.update(fresh)
        return np.vstack([found[t] for t in texts])
