"""Stemmed key terms and their IDF over the corpus: the lexical half of sentence scoring."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from newsrag.index.terms import LOWER, LOWER_WORD, STEMS, SegmentTerms, stem_terms
from newsrag.rag.words import english_stemmer


class TermWeights:
    """Inverse document frequency of stemmed terms across the indexed chunks.

    `common_words` are the words the corpus writes in lower case somewhere: a capitalised one opening
    a sentence ("Injured:", "Wanted") is then a common word, not a name (answer_types).
    """

    def __init__(self, documents: int, frequency: Mapping[str, int], common_words: frozenset[str]) -> None:
        self.stemmer = english_stemmer()
        self.documents, self.frequency, self.common_words = documents, frequency, common_words

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> TermWeights:
        stemmer = english_stemmer()
        frequency: Counter[str] = Counter()
        lower: set[str] = set()
        documents = 0
        for text in texts:
            documents += 1
            frequency.update(set(stem_terms(text, stemmer)))
            lower.update(LOWER_WORD.findall(text))
        return cls(documents, frequency, frozenset(lower))

    @classmethod
    def of_terms(cls, terms: SegmentTerms) -> TermWeights:
        """From the chunks' counted words (the index's segments), without reading their texts again."""
        stems, lower = terms.bags[STEMS], terms.bags[LOWER]
        frequency = {w: n for w, n in zip(stems.vocab, stems.document_frequency().tolist(), strict=True) if n}
        present = lower.document_frequency().tolist()
        return cls(
            len(terms.ids), frequency, frozenset(w for w, n in zip(lower.vocab, present, strict=True) if n)
        )

    def stems(self, text: str) -> list[str]:
        return stem_terms(text, self.stemmer)

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.documents + 1) / (self.frequency.get(stem, 0) + 0.5))

    def coverage(self, query_stems: list[str], text: str | set[str]) -> float:
        """Share of the query's IDF mass that the text (or a set of its stems) contains."""
        if not query_stems:
            return 0.0
        present = text if isinstance(text, set) else set(self.stems(text))
        total = sum(self.idf(s) for s in query_stems)
        return sum(self.idf(s) for s in query_stems if s in present) / total
