"""The word statistics of the chunks a segment adds, stored beside them (terms.npz), so that loading an
index gathers them instead of tokenizing every chunk again.

For each chunk, three bags of words:
    bm25    bm25s's stemmed tokens of the chunk as embedded (title and text) with their counts: BM25's postings
    stems   the stemmed key terms of its text: the answerer's IDF vocabulary (`TermWeights`)
    lower   the words it writes in lower case: the corpus's common words
A load takes each live chunk's rows from the newest segment holding it, so removed and replaced
chunks drop out, and computes BM25's weights and the document frequencies from the counts in numpy.
Tokenizing is the cost this saves: at 10,000 articles (15,987 chunks) it was 4.1 s of every load.
A segment written before terms.npz existed (or whose file is damaged) has its chunks tokenized at load.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from llama_index.core.schema import MetadataMode, TextNode

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import, which floods any application that logs; undo that.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of
    off on once only or other our out over own said same say says she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours tell know did does happen happened
    many much name named call called old big long far think way get got take took find make made us""".split()
)
# A key-term word: letters (with inner apostrophes and hyphens), or a numeral with its separators.
WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*|\d[\d,.]*")

# PyStemmer caches 10,000 words by default; a corpus's vocabulary is larger, and at 10,000 synthetic
# articles (1.1 M key terms) a 2**18-word cache stems them in 0.94 s instead of 2.52 s (one run).
STEM_CACHE = 1 << 18


def english_stemmer() -> Stemmer.Stemmer:
    """Snowball English with a cache that holds a corpus's vocabulary."""
    return Stemmer.Stemmer("english", STEM_CACHE)


def key_terms(text: str) -> list[str]:
    """Content words and numbers, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in WORD.findall(text):
        low = word.lower().strip("'\u2019")
        if low not in STOPWORDS and len(low) > 1:
            seen.setdefault(low, None)
    return list(seen)


TERMS_FILE = "terms.npz"
BM25, STEMS, LOWER = "bm25", "stems", "lower"
COUNTED = (BM25,)  # the bags that keep how often a word occurs; the others are sets
LOWER_WORD = re.compile(r"(?<![\w'\u2019-])[a-z][a-z'\u2019-]*")
# bm25s's defaults (BM25(), method "lucene"): the weights computed here are the ones its index() computes.
K1, B = 1.5, 0.75
SEPARATOR = "\x00"


def bm25_tokens(texts: list[str], stemmer: Stemmer.Stemmer) -> list[list[str]]:
    """bm25s's tokens: lower-cased words of two or more characters, English stopwords out, stemmed."""
    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False
    )
    return tokens


def bm25_text(chunk: TextNode) -> str:
    return chunk.get_content(metadata_mode=MetadataMode.EMBED)


@dataclass(frozen=True)
class Bag:
    """Chunks' words as sparse rows: row i holds vocab[indices[indptr[i]:indptr[i + 1]]], each
    `counts` times (once when counts is None)."""

    vocab: list[str]
    indptr: np.ndarray  # int64
    indices: np.ndarray  # int32
    counts: np.ndarray | None  # uint16

    @classmethod
    def of(cls, rows: Iterable[Iterable[str]], counted: bool) -> Bag:
        vocab: dict[str, int] = {}
        indptr, indices, counts = [0], [], []
        for row in rows:
            for word, count in Counter(row).items():
                indices.append(vocab.setdefault(word, len(vocab)))
                counts.append(count)
            indptr.append(len(indices))
        return cls(
            list(vocab),
            np.array(indptr, dtype=np.int64),
            np.array(indices, dtype=np.int32),
            np.minimum(np.array(counts, dtype=np.int64), 65535).astype(np.uint16) if counted else None,
        )

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def document_frequency(self) -> np.ndarray:
        """How many rows hold each word of the vocabulary."""
        return np.bincount(self.indices, minlength=len(self.vocab))


@dataclass(frozen=True)
class SegmentTerms:
    """The bags of some chunks, a row per chunk id."""

    ids: list[str]
    bags: dict[str, Bag]

    @classmethod
    def of_chunks(cls, chunks: Sequence[TextNode]) -> SegmentTerms:
        stemmer = english_stemmer()
        texts = [c.text for c in chunks]
        rows = {
            BM25: bm25_tokens([bm25_text(c) for c in chunks], stemmer),
            STEMS: [stem_terms(t, stemmer) for t in texts],
            LOWER: [LOWER_WORD.findall(t) for t in texts],
        }
        return cls([c.node_id for c in chunks], {b: Bag.of(r, b in COUNTED) for b, r in rows.items()})

    def to_bytes(self) -> bytes:
        """The npz file's bytes."""
        arrays = {"ids": _joined(self.ids)}
        for name, bag in self.bags.items():
            arrays |= {
                f"{name}.vocab": _joined(bag.vocab),
                f"{name}.indptr": bag.indptr,
                f"{name}.indices": bag.indices,
            }
            if bag.counts is not None:
                arrays[f"{name}.counts"] = bag.counts
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def load(cls, folder: Path) -> SegmentTerms | None:
        """The segment's terms.npz; None when it has none or it cannot be read (its chunks are then tokenized)."""
        path = folder / TERMS_FILE
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                ids = _split(data["ids"])
                bags = {}
                for name in (BM25, STEMS, LOWER):
                    counts = data[f"{name}.counts"] if name in COUNTED else None
                    bag = Bag(
                        _split(data[f"{name}.vocab"]), data[f"{name}.indptr"], data[f"{name}.indices"], counts
                    )
                    _check(bag, len(ids))
                    bags[name] = bag
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            # A damaged file: the words can be counted again.
            log.warning("%s cannot be read (%s): its chunks' words are counted again at each load", path, exc)
            return None
        return cls(ids, bags)


def stem_terms(text: str, stemmer: Stemmer.Stemmer) -> list[str]:
    """The stems of a text's key terms, the unit the answerer weighs words in."""
    return stemmer.stemWords(key_terms(text))  # type: ignore[no-any-return]


def gather(parts: Sequence[SegmentTerms], ids: Sequence[str]) -> tuple[SegmentTerms, list[str]]:
    """The rows of `ids`, in that order, from the newest part holding each, with one vocabulary per bag;
    and the ids no part holds (their rows are left empty)."""
    where: dict[str, tuple[int, int]] = {}
    for p, part in enumerate(parts):
        where.update((i, (p, r)) for r, i in enumerate(part.ids))
    found = [where.get(i, (-1, 0)) for i in ids]
    part_of = np.array([p for p, _ in found], dtype=np.int64)
    row_of = np.array([r for _, r in found], dtype=np.int64)
    missing = [i for i, (p, _) in zip(ids, found, strict=True) if p < 0]
    bags = {
        name: _gather_bag([part.bags[name] for part in parts], part_of, row_of, name in COUNTED)
        for name in (BM25, STEMS, LOWER)
    }
    return SegmentTerms(list(ids), bags), missing


def corpus_terms(
    parts: Sequence[SegmentTerms], ids: Sequence[str], chunk: Callable[[str], TextNode]
) -> SegmentTerms:
    """The terms of the chunks `ids`: gathered from the segments' files, counted afresh for chunks no file holds."""
    terms, missing = gather(parts, ids)
    if missing:
        log.info("counting the words of %d chunks whose segment has no %s", len(missing), TERMS_FILE)
        terms, _ = gather([*parts, SegmentTerms.of_chunks([chunk(i) for i in missing])], ids)
    return terms


def bm25_index(bag: Bag) -> bm25s.BM25:
    """A bm25s index over the bag's rows, its Lucene weights computed from the counts, as `BM25.index` would."""
    rows, vocab = bag.rows, len(bag.vocab)
    row = np.repeat(np.arange(rows, dtype=np.int32), np.diff(bag.indptr))
    if bag.counts is None:
        raise ValueError("BM25 weighs how often each word occurs: this bag keeps only which words occur")
    tf = bag.counts.astype(np.float64)
    length = np.bincount(row, weights=tf, minlength=rows)
    average = float(length.mean()) if rows else 1.0
    df = bag.document_frequency()
    idf = np.log(1 + (rows - df + 0.5) / (df + 0.5))
    weight = tf / (K1 * ((1 - B) + B * length[row] / average) + tf) * idf[bag.indices]
    order = np.argsort(bag.indices, kind="stable")  # term-major, rows ascending within a term
    index = bm25s.BM25()
    index.scores = {
        "data": weight[order].astype(np.float32),
        "indices": row[order],
        "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        "num_docs": rows,
    }
    index.vocab_dict = {word: i for i, word in enumerate(bag.vocab)}
    index.vocab_dict.setdefault("", vocab)  # bm25s's empty token, for a query with no known word
    index.unique_token_ids_set = set(index.vocab_dict.values())
    index.nonoccurrence_array = None
    return index


def _gather_bag(bags: Sequence[Bag], part_of: np.ndarray, row_of: np.ndarray, counted: bool) -> Bag:
    vocab: dict[str, int] = {}
    to_global = [
        np.fromiter(
            (vocab.setdefault(w, len(vocab)) for w in bag.vocab), dtype=np.int32, count=len(bag.vocab)
        )
        for bag in bags
    ]
    lengths = np.zeros(len(part_of), dtype=np.int64)
    for p, bag in enumerate(bags):
        mine = part_of == p
        lengths[mine] = np.diff(bag.indptr)[row_of[mine]]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.zeros(int(indptr[-1]), dtype=np.int32)
    counts = np.zeros(len(indices), dtype=np.uint16) if counted else None
    for p, bag in enumerate(bags):
        mine = np.flatnonzero(part_of == p)
        source = _ranges(bag.indptr[row_of[mine]], lengths[mine])
        target = _ranges(indptr[mine], lengths[mine])
        indices[target] = to_global[p][bag.indices[source]]
        if counts is not None and bag.counts is not None:  # a counted bag's parts all have counts (`load`)
            counts[target] = bag.counts[source]
    return Bag(list(vocab), indptr, indices, counts)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start + 1, … of each range, concatenated."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _check(bag: Bag, rows: int) -> None:
    if (
        bag.indptr.ndim != 1
        or len(bag.indptr) != rows + 1
        or bag.indptr[0] != 0
        or np.any(np.diff(bag.indptr) < 0)
        or bag.indptr[-1] != len(bag.indices)
        or (len(bag.indices) and (bag.indices.min() < 0 or bag.indices.max() >= len(bag.vocab)))
        or (bag.counts is not None and len(bag.counts) != len(bag.indices))
    ):
        raise ValueError("its rows do not fit its vocabulary")


def _joined(words: Sequence[str]) -> np.ndarray:
    """Words as one UTF-8 buffer, NUL between them: numpy's fixed-width strings would pad every word to the longest."""
    if any(SEPARATOR in w or not w for w in words):
        raise ValueError("a chunk id or word is empty or holds a NUL character")
    return np.frombuffer(SEPARATOR.join(words).encode(), dtype=np.uint8)


def _split(buffer: np.ndarray) -> list[str]:
    return buffer.tobytes().decode().split(SEPARATOR) if len(buffer) else []
