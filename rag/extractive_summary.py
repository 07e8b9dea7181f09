"""Unsupervised extractive summary of one article: position, centrality and title cues with MMR."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.sentences import SentenceSpan, split_sentences

Embed = Callable[[list[str]], np.ndarray]

# Fragments that are page furniture rather than reporting: bylines, credits, calls to action.
_JUNK = re.compile(
    r"""^(?:by|published|updated|last\ updated)\b
    |scroll\ down|click\ here|read\ more|sign\ up|follow\ (?:us|@)
    |\b(?:photo|picture|image|video)\s*(?:credit)?:
    |\(?(?:getty\ images|reuters|afp|ap\ photo|pa)\)?\s*$
    """,
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class SummaryWeights:
    """Weights of the sentence score; chosen on the first 100 tuning articles, see eval/summary_tuning."""

    position: float = 1.0
    centrality: float = 1.0
    title: float = 1.0
    redundancy: float = 0.5
    position_decay: float = 3.0
    min_words: int = 6
    max_words: int = 60


def _eligible(span: SentenceSpan, weights: SummaryWeights) -> bool:
    """Whether a sentence could stand in a summary (not a fragment, run-on caption or byline)."""
    words = len(span.text.split())
    return weights.min_words <= words <= weights.max_words and not _JUNK.search(span.text)


def _scores(vectors: np.ndarray, title: np.ndarray, positions: np.ndarray, weights: SummaryWeights) -> np.ndarray:
    """Relevance of each sentence: lead-heavy prior plus closeness to the document and its title."""
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    prior = np.exp(-positions / weights.position_decay)
    return weights.position * prior + weights.centrality * (vectors @ centroid) + weights.title * (vectors @ title)


def _mmr(relevance: np.ndarray, vectors: np.ndarray, n: int, redundancy: float) -> list[int]:
    """Greedy maximal-marginal-relevance picks, so the summary does not say one thing thrice."""
    chosen: list[int] = []
    similarity = vectors @ vectors.T
    while len(chosen) < min(n, len(relevance)):
        penalty = similarity[:, chosen].max(axis=1) if chosen else np.zeros(len(relevance))
        gain = relevance - redundancy * penalty
        gain[chosen] = -np.inf
        chosen.append(int(np.argmax(gain)))
    return chosen


def summarize_text(
    text: str, title: str, embed: Embed, n: int = 3, weights: SummaryWeights | None = None
) -> list[SentenceSpan]:
    """The n most summary-worthy sentences of an article, in article order."""
    weights = weights or SummaryWeights()
    sentences = split_sentences(text)
    if len(sentences) <= n:
        return sentences
    candidates = [i for i, s in enumerate(sentences) if _eligible(s, weights)]
    if len(candidates) < n:
        candidates = list(range(len(sentences)))
    vectors = embed([sentences[i].text for i in candidates] + [title])
    relevance = _scores(vectors[:-1], vectors[-1], np.array(candidates, dtype=float), weights)
    picks = _mmr(relevance, vectors[:-1], n, weights.redundancy)
    return [sentences[candidates[i]] for i in sorted(picks)]
