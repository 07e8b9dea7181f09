"""Cited summaries: one article (extractive, centrality + position + title), or a topic across articles."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from llama_index.core.schema import NodeWithScore

from newsrag.index.articles import Article
from newsrag.rag.answer import source_of
from newsrag.rag.extractive_summary import select_summary, summary_worthy
from newsrag.rag.sentences import SentenceSpan, SentenceSplitCache
from newsrag.rag.types import AnswerSentence, Citation, Embed, Summary


def neighbourhood(sentences: Sequence[SentenceSpan], index: int, width: int = 1) -> tuple[int, int]:
    """Offsets of a sentence with its neighbours: enough context to read the cited sentence in."""
    lo = sentences[max(index - width, 0)].start
    hi = sentences[min(index + width, len(sentences) - 1)].end
    return lo, hi


def summarize_article(
    article: Article, embed: Embed, n: int, splits: SentenceSplitCache, method: str = "lead"
) -> Summary:
    sentences = splits.get(article)
    chosen = select_summary(article.text, article.title, embed, n, method)
    position = {(s.start, s.end): i for i, s in enumerate(sentences)}
    citations = []
    for k, span in enumerate(chosen, 1):
        i = position.get((span.start, span.end))
        passage = neighbourhood(sentences, i) if i is not None else (span.start, span.end)
        citations.append(Citation.of(k, article, (span.start, span.end), passage))
    parts = [AnswerSentence(c.sentence, [c.n]) for c in citations]
    return Summary(
        text=" ".join(f"{p.text} [{p.citations[0]}]" for p in parts),
        sentences=parts,
        citations=citations,
        articles=[source_of(article)],
        first_date=article.published_at,
        last_date=article.published_at,
    )


def summarize_topic(
    topic: str,
    hits: Sequence[NodeWithScore],
    article: Callable[[str], Article],
    embed: Embed,
    splits: SentenceSplitCache,
    max_articles: int = 6,
    per_article: int = 2,
    min_relative: float = 0.75,
) -> Summary:
    """Representative sentences of the articles a topic retrieves, as a timeline where dates exist.

    An article joins when its best sentence is within `min_relative` of the best article's
    similarity to the topic; sentences repeating one already chosen (cosine > .8) are dropped.
    """
    topic_vector = embed([topic])[0]
    by_article: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        bounds = (hit.node.start_char_idx or 0, hit.node.end_char_idx or 0)  # type: ignore[attr-defined]
        by_article.setdefault(hit.node.ref_doc_id or "", []).append(bounds)
    picked: list[tuple[Article, list[tuple[int, SentenceSpan, float]]]] = []
    chosen_vectors: list[np.ndarray] = []
    best_overall = 0.0
    for article_id, spans in list(by_article.items())[: max_articles * 2]:
        art = article(article_id)
        sentences = splits.get(art)
        inside = [
            i
            for i, s in enumerate(sentences)
            if summary_worthy(s) and any(lo <= s.start and s.end <= hi for lo, hi in spans)
        ]
        if not inside:
            continue
        vectors = embed([sentences[i].text for i in inside])
        sims = vectors @ topic_vector
        best_overall = max(best_overall, float(sims.max()))
        if float(sims.max()) < min_relative * best_overall:
            continue
        keep: list[tuple[int, SentenceSpan, float]] = []
        for j in np.argsort(-sims):
            if len(keep) == per_article:
                break
            if any(float(vectors[j] @ v) > 0.8 for v in chosen_vectors):
                continue
            keep.append((inside[j], sentences[inside[j]], float(sims[j])))
            chosen_vectors.append(vectors[j])
        if keep:
            picked.append((art, sorted(keep, key=lambda k: k[1].start)))
        if len(picked) == max_articles:
            break
    # A timeline: dated articles oldest first, undated ones after them in retrieval order.
    picked.sort(key=lambda p: (p[0].published_at is None, p[0].published_at or ""))
    citations: list[Citation] = []
    parts: list[AnswerSentence] = []
    lines: list[str] = []
    for art, keep in picked:
        sentences = splits.get(art)
        cited = []
        for i, span, _ in keep:
            n = len(citations) + 1
            citations.append(Citation.of(n, art, (span.start, span.end), neighbourhood(sentences, i)))
            parts.append(AnswerSentence(span.text, [n]))
            cited.append(f"{span.text} [{n}]")
        date = (art.published_at or "")[:10] or "undated"
        lines.append(f"- {date}, {art.source or 'unknown source'}: {' '.join(cited)}")
    dates = sorted(a.published_at[:10] for a, _ in picked if a.published_at)
    first, last = (dates[0], dates[-1]) if dates else (None, None)
    count = len(picked)
    span_text = f", {first} to {last}" if first and first != last else (f", {first}" if first else "")
    undated = sum(1 for a, _ in picked if not a.published_at)
    header = f"From {count} article{'s' if count != 1 else ''}{span_text}"
    header += f" ({undated} undated)" if undated and first else ""
    text = header + ":\n" + "\n".join(lines) if picked else f"The articles don't cover “{topic}”."
    return Summary(text, parts, citations, [source_of(a) for a, _ in picked], topic, first, last)
