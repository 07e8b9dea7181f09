"""Extractive summary of one article: its lead (the default), or lead prior times content relevance, then MMR.

Each eligible sentence i (0-based position in the article) is scored in log space:

    score_i = log(centrality_i + title * title_sim_i) - i / position_decay - quote_penalty * opens_quote_i

i.e. relevance = exp(-i / position_decay) * (centrality + title * title_sim): centrality is the cosine to
the normalised mean of all sentence embeddings, title_sim the cosine to the title. A multiplicative prior
lets a later sentence much closer to the article's gist overtake a low-content lead sentence; additive
mixes strong enough to keep the lead stayed within about 0.1 ROUGE of Lead-3. Selection is greedy MMR:
gain_i = score_i - redundancy * (max cosine to sentences already chosen). Fragments outside
[min_words, max_words] and page furniture (bylines, "Scroll down for video", photo credits) are not
candidates unless fewer than n sentences would remain.

Weights (title=0.25, position_decay=3, redundancy=0.5, quote_penalty=0.5) are the best of a 72-point grid
(position_decay 1.5-3, title 0.25-1, redundancy 0.5-1.5, quote_penalty 0 or 0.5) on the first 125 of the
250 CNN/DailyMail sample articles (rerun with ``python -m newsrag.eval.scripts.summary_tuning --grid``).
The word limits (6-60) and the junk pattern were fixed beforehand.

On the other 125 articles, which tuned nothing, this "centrality" selection ties Lead-3 (ROUGE-1/2/Lsum
42.07/19.80/38.24 against 42.12/19.69/38.09): no win. So the default for news is `lead_summary`, the
first n summary-worthy sentences (Lead-3 without the bylines and page furniture a scraped page opens
with; 42.09/19.79/38.10 there), which needs no embedding; "centrality" stays a setting away
(`summary_method`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from newsrag.rag.sentences import SentenceSpan, split_sentences
from newsrag.rag.types import Embed

# Fragments that are page furniture rather than reporting: bylines, credits, calls to action.
_JUNK = re.compile(
    r"""^(?:by|published|updated|last\ updated)\b
    |scroll\ down|click\ here|read\ more|sign\ up|follow\ (?:us|@)
    |\b(?:photo|picture|image|video)\s*(?:credit)?:
    |\(?(?:getty\ images|reuters|afp|ap\ photo)\)?\s*$
    """,
    re.IGNORECASE | re.VERBOSE,
)
_OPENING_QUOTES = "'\"‘“"


@dataclass(frozen=True)
class SummaryWeights:
    """Knobs of the sentence score (see the module docstring for the formula and how they were chosen)."""

    title: float = 0.25
    position_decay: float = 3.0
    redundancy: float = 0.5
    quote_penalty: float = 0.5
    min_words: int = 6
    max_words: int = 60


_PROSE_WORD = re.compile(r"\b[a-z]{3,}\b")


def summary_worthy(span: SentenceSpan, weights: SummaryWeights | None = None) -> bool:
    """Whether a sentence could stand in a summary: prose of a sensible length, not a byline or a table row.

    A results-table line ("Kimi Raikkonen (Finland) Ferrari 1:37.232 7.") has no lower-case word.
    """
    weights = weights or SummaryWeights()
    words = len(span.text.split())
    return (
        weights.min_words <= words <= weights.max_words
        and not _JUNK.search(span.text)
        and len(_PROSE_WORD.findall(span.text)) >= 2
    )


def _log_relevance(
    vectors: np.ndarray,
    centroid: np.ndarray,
    title: np.ndarray,
    positions: np.ndarray,
    quoted: np.ndarray,
    weights: SummaryWeights,
) -> np.ndarray:
    """Log of lead prior times content relevance, so position scales rather than swamps content."""
    content = vectors @ centroid + weights.title * (vectors @ title)
    return (
        np.log(np.clip(content, 1e-3, None))
        - positions / weights.position_decay
        - weights.quote_penalty * quoted
    )


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


def lead_summary(text: str, n: int = 3, weights: SummaryWeights | None = None) -> list[SentenceSpan]:
    """The first n summary-worthy sentences: news puts its gist first, and this ties any weighting we fitted."""
    sentences = split_sentences(text)
    worthy = [s for s in sentences if summary_worthy(s, weights)]
    return (worthy if len(worthy) >= n else sentences)[:n]


def select_summary(
    text: str, title: str, embed: Embed, n: int = 3, method: str = "lead"
) -> list[SentenceSpan]:
    """The summary sentences by `method` (see SUMMARY_METHODS), in article order."""
    if method == "lead":
        return lead_summary(text, n)
    if method == "centrality":
        return summarize_text(text, title, embed, n)
    raise ValueError(f"unknown summary method {method!r}: choose lead or centrality")


def summarize_text(
    text: str, title: str, embed: Embed, n: int = 3, weights: SummaryWeights | None = None
) -> list[SentenceSpan]:
    """The n most summary-worthy sentences of an article, in article order, as exact spans of ``text``."""
    weights = weights or SummaryWeights()
    sentences = split_sentences(text)
    if len(sentences) <= n:
        return sentences
    candidates = [i for i, s in enumerate(sentences) if summary_worthy(s, weights)]
    if len(candidates) < n:
        candidates = list(range(len(sentences)))
    embedded = np.asarray(embed([s.text for s in sentences] + [title]), dtype=np.float64)
    vectors, title_vector = embedded[:-1], embedded[-1]
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    chosen_vectors = vectors[candidates]
    relevance = _log_relevance(
        chosen_vectors,
        centroid,
        title_vector,
        np.array(candidates, dtype=np.float64),
        np.array([sentences[i].text[0] in _OPENING_QUOTES for i in candidates], dtype=np.float64),
        weights,
    )
    picks = _mmr(relevance, chosen_vectors, n, weights.redundancy)
    return [sentences[candidates[i]] for i in sorted(picks)]
