"""Fit the claim checker's faithfulness score on FRANK's validation split; report it on the test split.

    python -m newsrag.eval.scripts.faithfulness_tuning

Each peer summary sentence is checked against its whole article: SupportChecker's score (n-gram
precision and cosine), and the hard problems ClaimChecker finds (a number, month, name or quoted
words the article lacks). A summary's score is the mean over its sentences of
`support - penalty * problems`; the penalty is chosen on the 375 validation judgements, and
Pearson/Spearman against human factuality are printed for both splits beside the unigram baseline.
The weights of ClaimChecker.faithfulness (claims.FAITHFULNESS) came from the wider grid the same
way: cosine, whole-source and aligned n-gram precision, and the problem penalty, by validation
Pearson (valid .576; test .545 / Spearman .490).
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.formats import CNNDM_DIR, read_jsonl
from newsrag.eval.metrics import detokenize_ptb, pearson, spearman, unigram_precision
from newsrag.eval.suites import _peer_sentences
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.claims import ClaimChecker
from newsrag.rag.sentences import split_sentences

PENALTIES = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    checker = ClaimChecker(embedder.encode)
    texts = {r["id"]: r["text"] for r in read_jsonl(SAMPLE_CORPUS / "cnndm" / "articles.jsonl")}
    peers = {r["id"]: r for r in read_jsonl(CNNDM_DIR / "peer_summaries.jsonl")}
    judgements = [
        j for j in read_jsonl(CNNDM_DIR / "factuality.jsonl") if j["id"] in texts and j["id"] in peers
    ]
    by_article: dict[str, list[dict]] = defaultdict(list)
    for j in judgements:
        by_article[j["id"]].append(j)
    # (support score, hard problems) per sentence, per judged summary
    checked: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for article_id, rows in by_article.items():
        text = texts[article_id]
        vectors = embedder.encode([s.text for s in split_sentences(text)] or [text])
        for j in rows:
            sentences = [detokenize_ptb(s) for s in _peer_sentences(peers[article_id][j["system"]])]
            checked[(article_id, j["system"])] = [
                (checker.support.check(s, text, vectors).score, len(checker.hard_problems(s, text)))
                for s in sentences
            ]

    def score(key: tuple[str, str], penalty: float) -> float:
        rows = checked[key]
        return float(np.mean([s - penalty * p for s, p in rows])) if rows else 0.0

    splits = {name: [j for j in judgements if j["split"] == name] for name in ("valid", "test")}
    human = {name: [float(j["factuality"]) for j in rows] for name, rows in splits.items()}
    fits = []
    for penalty in PENALTIES:
        ours = [score((j["id"], j["system"]), penalty) for j in splits["valid"]]
        fits.append((pearson(ours, human["valid"]), penalty))
    best = max(fits)[1]
    print(f"penalty per hard problem, fitted on valid ({len(splits['valid'])}): {best}")
    for name, rows in splits.items():
        ours = [score((j["id"], j["system"]), best) for j in rows]
        plain = [score((j["id"], j["system"]), 0.0) for j in rows]
        base = [unigram_precision(detokenize_ptb(peers[j["id"]][j["system"]]), texts[j["id"]]) for j in rows]
        print(
            f"{name:5} ({len(rows)}): claim check P {pearson(ours, human[name]):.3f} S {spearman(ours, human[name]):.3f}"
            f" | support only P {pearson(plain, human[name]):.3f} S {spearman(plain, human[name]):.3f}"
            f" | unigram baseline P {pearson(base, human[name]):.3f} S {spearman(base, human[name]):.3f}"
        )


if __name__ == "__main__":
    main()
