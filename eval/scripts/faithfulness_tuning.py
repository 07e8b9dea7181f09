"""Fit the claim checker's faithfulness score on FRANK's validation split; report it on the test split.

    python -m newsrag.eval.scripts.faithfulness_tuning

Each peer summary sentence is scored against its whole article by ClaimChecker.faithfulness:
cosine to the closest article sentence, n-gram precision against the article and against its
three closest sentences, the share of related word pairs the article also relates
(SupportChecker.paired), and a penalty per hard problem (a number, month, name or quoted words
the article lacks). A summary's score is the mean over its sentences.

Word pairs weigh by their words' IDF across the articles (TermWeights). Everything is chosen on
the 375 validation judgements, by Pearson against human factuality: first the pair span and
reach (the pair share alone), then the weights over a grid, then (with the llama-cpp extra) the
weights of the sentence's likelihood after its article to SmolLM2 and of its new words' likelihood
(rag/likelihood.py). Pearson and Spearman are printed for both splits beside the unigram baseline;
only the test rows are unbiased.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from typing import Any

import numpy as np

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.formats import CNNDM_DIR, read_jsonl
from newsrag.eval.metrics import detokenize_ptb, pearson, spearman, unigram_precision
from newsrag.eval.suites import _peer_sentences
from newsrag.index.embedder import EmbeddingCache, SentenceTransformerEmbedding
from newsrag.index.settings import IndexSettings
from newsrag.rag.claims import ClaimChecker
from newsrag.rag.lexical import TermWeights
from newsrag.rag.likelihood import LikelihoodCache, SourceLikelihood
from newsrag.rag.llms import LLMUnavailableError
from newsrag.rag.sentences import split_sentences

SPANS = (2, 3, 4)
REACHES = (3, 5, 10, 20)
GRID = {
    "semantic": (0.1, 0.3, 0.5),
    "lexical": (0.2, 0.5, 0.8),
    "aligned": (0.2, 0.5, 0.8),
    "problem": (0.0, 0.03, 0.06, 0.1),
    "paired": (0.0, 0.5, 1.0, 1.5, 2.0),
}

Key = tuple[str, str]


def sentence_parts(
    checker: ClaimChecker, embedder: SentenceTransformerEmbedding
) -> tuple[
    dict[Key, list[dict[str, float]]], list[dict[str, Any]], dict[str, dict[str, str]], dict[str, str]
]:
    """Every judged summary's sentences, each with the components of the faithfulness score."""
    support = checker.support
    texts = {r["id"]: r["text"] for r in read_jsonl(SAMPLE_CORPUS / "cnndm" / "articles.jsonl")}
    idf = TermWeights.of_texts(texts.values()).idf
    peers = {r["id"]: r for r in read_jsonl(CNNDM_DIR / "peer_summaries.jsonl")}
    judgements = [
        j for j in read_jsonl(CNNDM_DIR / "factuality.jsonl") if j["id"] in texts and j["id"] in peers
    ]
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for j in judgements:
        by_article[j["id"]].append(j)
    parts: dict[Key, list[dict[str, float]]] = {}
    for article_id, rows in by_article.items():
        text = texts[article_id]
        source = [s.text for s in split_sentences(text)] or [text]
        vectors = embedder.encode(source)
        for j in rows:
            sentences = [detokenize_ptb(s) for s in _peer_sentences(peers[article_id][j["system"]])]
            found = []
            for claim, vector in zip(sentences, embedder.encode(sentences) if sentences else [], strict=True):
                similarities = vectors @ vector
                closest = " ".join(source[i] for i in sorted(np.argsort(-similarities)[:3]))
                found.append(
                    {
                        "semantic": float(similarities.max()),
                        "lexical": support.lexical(claim, text),
                        "aligned": support.lexical(claim, closest),
                        "problem": -float(len(checker.hard_problems(claim, text))),
                        **{
                            f"paired {span} {reach}": support.paired(claim, source, idf, span, reach)
                            for span in SPANS
                            for reach in REACHES
                        },
                    }
                )
            parts[(article_id, j["system"])] = found
    return parts, judgements, peers, texts


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    cache = EmbeddingCache.beside(IndexSettings().index_dir, embedder)  # shared with `newsrag eval`
    embedder.use_cache(cache)
    checker = ClaimChecker(embedder.encode)
    parts, judgements, peers, texts = sentence_parts(checker, embedder)
    cache.save()
    splits = {name: [j for j in judgements if j["split"] == name] for name in ("valid", "test")}
    human = {name: [float(j["factuality"]) for j in rows] for name, rows in splits.items()}

    def scores(split: str, weights: dict[str, float]) -> list[float]:
        return [
            float(np.mean([sum(w * p[k] for k, w in weights.items()) for p in rows])) if rows else 0.0
            for rows in (parts[(j["id"], j["system"])] for j in splits[split])
        ]

    span, reach = max(
        itertools.product(SPANS, REACHES),
        key=lambda sr: pearson(scores("valid", {f"paired {sr[0]} {sr[1]}": 1.0}), human["valid"]),
    )
    print(f"word pairs, chosen on valid ({len(splits['valid'])}): span {span}, reach {reach}")
    for p in parts.values():
        for sentence in p:
            sentence["paired"] = sentence[f"paired {span} {reach}"]
    fits = []
    for values in itertools.product(*GRID.values()):
        weights = dict(zip(GRID, values, strict=True))
        fits.append((pearson(scores("valid", weights), human["valid"]), values))
    best = dict(zip(GRID, max(fits)[1], strict=True))
    print(f"weights, fitted on valid: {best}")
    for name, rows in splits.items():
        ours = scores(name, best)
        base = [unigram_precision(detokenize_ptb(peers[j["id"]][j["system"]]), texts[j["id"]]) for j in rows]
        print(
            f"{name:5} ({len(rows)}): claim check P {pearson(ours, human[name]):.3f} "
            f"S {spearman(ours, human[name]):.3f}"
            f" | unigram baseline P {pearson(base, human[name]):.3f} S {spearman(base, human[name]):.3f}"
        )
    try:
        scorer = SourceLikelihood()
    except LLMUnavailableError as exc:
        print(f"no likelihood weight: {exc}")
        return
    # The language model's scores, two more weights beside the ones just fitted (rag/likelihood.py).
    likely = LikelihoodCache(cache.path.parent / f"{scorer.name}-likelihood.json")
    try:
        for key, found in parts.items():
            sentences = [detokenize_ptb(s) for s in _peer_sentences(peers[key[0]][key[1]])]
            for sentence, read in zip(found, likely.read(scorer, texts[key[0]], sentences), strict=True):
                sentence["likelihood"], sentence["novel"] = read.mean, read.novel
    finally:
        likely.save()
    # A summary's score is linear in the weights: fit on the summaries' means of each part.
    means = {
        name: {
            part: np.array([np.mean([p[part] for p in parts[(j["id"], j["system"])]] or [0.0]) for j in rows])
            for part in ("likelihood", "novel")
        }
        for name, rows in splits.items()
    }
    fixed = {name: np.asarray(scores(name, best)) for name in splits}

    def combined(name: str, mean: float, novel: float) -> list[float]:
        return list(fixed[name] + mean * means[name]["likelihood"] + novel * means[name]["novel"])

    weight = max(
        itertools.product(np.arange(0.0, 0.5001, 0.01), np.arange(-1.0, 1.0001, 0.01)),
        key=lambda mn: pearson(combined("valid", *mn), human["valid"]),
    )
    print(
        f"likelihood weights ({scorer.name}), fitted on valid with the weights above: "
        f"mean {weight[0]:.2f}, new words {weight[1]:.2f}"
    )
    for name in splits:
        ours = combined(name, *weight)
        print(
            f"{name:5}: claim check + likelihood P {pearson(ours, human[name]):.3f} "
            f"S {spearman(ours, human[name]):.3f}"
        )


if __name__ == "__main__":
    main()
