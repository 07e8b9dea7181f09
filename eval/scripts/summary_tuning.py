"""Measure the extractive summarizer against Lead-3 on CNN/DailyMail highlights (ROUGE F1 x100).

    python -m newsrag.eval.scripts.summary_tuning [--limit N] [--n 3] [--grid]

Prints the ROUGE table of Lead-n and summarize_text on the 250 sample articles; `--grid` reruns
the weight grid the defaults in rag/extractive_summary.py came from.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.baselines import lead
from newsrag.eval.formats import load_highlights
from newsrag.eval.metrics import ROUGE_TYPES, rouge_scores
from newsrag.index.embedder import EmbeddingCache, SentenceTransformerEmbedding
from newsrag.index.settings import IndexSettings
from newsrag.rag.extractive_summary import SummaryWeights, summarize_text
from newsrag.rag.sentences import SentenceSpan, split_sentences

ARTICLES = SAMPLE_CORPUS / "cnndm" / "articles.jsonl"


@dataclass(frozen=True)
class Article:
    """One evaluation article with the journalist highlights it is scored against."""

    id: str
    title: str
    text: str
    highlights: list[str]


def load_articles(limit: int | None = None) -> list[Article]:
    """Articles joined with their highlights by id, in file order."""
    highlights = load_highlights()
    articles: list[Article] = []
    with ARTICLES.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            articles.append(Article(row["id"], row["title"], row["text"], highlights[row["id"]]))
    return articles[:limit] if limit else articles


def rouge(articles: list[Article], summarize: Callable[[Article], list[SentenceSpan]]) -> dict[str, float]:
    """Mean ROUGE-1/2/Lsum F1 x100 over articles, scored as `newsrag eval` scores them."""
    return rouge_scores([[s.text for s in summarize(a)] for a in articles], [a.highlights for a in articles])


def grid_search(articles: list[Article], embed: Callable[[list[str]], np.ndarray], n: int) -> None:
    """Re-run the small grid the default weights came from: pick on the first half, check on the second."""
    half = len(articles) // 2
    tune, check = articles[:half], articles[half:]
    results: list[tuple[float, SummaryWeights]] = []
    for decay, title, redundancy, quote in itertools.product(
        (1.5, 2, 2.5, 3), (0.25, 0.5, 1), (0.5, 1, 1.5), (0, 0.5)
    ):
        weights = SummaryWeights(
            title=title, position_decay=decay, redundancy=redundancy, quote_penalty=quote
        )
        scores = rouge(tune, lambda a, w=weights: summarize_text(a.text, a.title, embed, n, w))
        results.append((sum(scores.values()), weights))
    results.sort(key=lambda r: -r[0])
    lead_tune = sum(rouge(tune, lambda a: lead(a.text, n)).values())
    lead_check = sum(rouge(check, lambda a: lead(a.text, n)).values())
    print(f"sum of R1+R2+RLsum; Lead-{n}: first half {lead_tune:.2f}, second half {lead_check:.2f}")
    for total, weights in results[:5]:
        held_out = sum(
            rouge(check, lambda a, w=weights: summarize_text(a.text, a.title, embed, n, w)).values()
        )
        print(f"first half {total:.2f}  second half {held_out:.2f}  {weights}")


def _row(name: str, scores: dict[str, float]) -> str:
    return f"{name:<28}" + "".join(f"{scores[k]:>10.2f}" for k in ROUGE_TYPES)


def main(argv: list[str] | None = None) -> None:
    """Print the ROUGE table of Lead-3 against summarize_text."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--n", type=int, default=3, help="sentences per summary")
    parser.add_argument("--grid", action="store_true", help="also rerun the weight grid (about a minute)")
    args = parser.parse_args(argv)

    articles = load_articles(args.limit)
    embedder = SentenceTransformerEmbedding()
    cache = EmbeddingCache.beside(IndexSettings().index_dir, embedder)  # shared with `newsrag eval`
    embedder.use_cache(cache)
    embed = embedder.encode
    # everything up front in large batches (much faster than per-article calls)
    embed(
        list(
            dict.fromkeys(
                [s.text for a in articles for s in split_sentences(a.text)] + [a.title for a in articles]
            )
        )
    )
    cache.save()
    weights = SummaryWeights()
    print(f"{len(articles)} articles, n={args.n}, weights={weights}")
    print(f"{'':<28}" + "".join(f"{k:>10}" for k in ROUGE_TYPES))
    print(_row(f"Lead-{args.n}", rouge(articles, lambda a: lead(a.text, args.n))))
    print(_row("summarize_text", rouge(articles, lambda a: summarize_text(a.text, a.title, embed, args.n))))
    if args.grid:
        grid_search(articles, embed, args.n)
    cache.save()


if __name__ == "__main__":
    main()
