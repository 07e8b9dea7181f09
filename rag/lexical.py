"""Stemmed key terms and their IDF over the corpus: the lexical half of sentence scoring."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from newsrag.rag.words import english_stemmer, key_terms

_LOWER_WORD = re.compile(r"(?<![\w'\u2019-])[a-z][a-z'\u2019-]*")


class TermWeights:
    """Inverse document frequency of stemmed terms across the indexed chunks."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.stemmer = english_stemmer()
        frequency: Counter[str] = Counter()
        lower: set[str] = set()
        self.documents = 0
        for text in texts:
            self.documents += 1
            frequency.update(set(self.stems(text)))
            lower.update(_LOWER_WORD.findall(text))
        self.frequency = frequency
        # Words the corpus writes in lower case somewhere: a capitalised one opening a sentence ("Injured:",
        # "Wanted") is then a common word, not a name (answer_types).
        self.common_words = frozenset(lower)

    def stems(self, text: str) -> list[str]:
        return [self.stemmer.stemWord(t) for t in key_terms(text)]

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.documents + 1) / (self.frequency.get(stem, 0) + 0.5))

    def coverage(self, query_stems: list[str], text: str | set[str]) -> float:
        """Share of the query's IDF mass that the text (or a set of its stems) contains."""
        if not query_stems:
            return 0.0
        present = text if isinstance(text, set) else set(self.stems(text))
        total = sum(self.idf(s) for s in query_stems)
        return sum(self.idf(s) for s in query_stems if s in present) / total
