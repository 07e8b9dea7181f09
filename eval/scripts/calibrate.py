"""Fit the extractive answerer's refusal thresholds on the dev QA set only: how the defaults were chosen.

    python -m newsrag.eval.scripts.calibrate [--index-dir DIR] [--top 10]

Answers every dev question (data/eval/qa.jsonl; the held-out test set is never read) once with
refusals switched off, keeps the evidence each answer carries (best score, best score of a
sentence offering the asked-for kind, share of the question's words besides its names in the first
quote), then sweeps the three thresholds over a grid and prints the best points by answer accuracy plus
refusal F1, with the current defaults for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from newsrag.eval.formats import QAItem
from newsrag.eval.metrics import answer_contains
from newsrag.eval.run_data import bundled
from newsrag.eval.runner import open_engine
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.answer import ExtractiveAnswerer, Weights
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

GRID = {
    "refuse_below": (0.0, 0.5, 0.6, 0.7, 0.8, 0.9),
    "refuse_typed_below": (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0),
    "refuse_focus_below": (0.0, 0.2, 0.3, 0.4, 0.5),
}


@dataclass
class Observed:
    """One dev question answered with refusals off: its evidence and whether the quote answers it."""

    item: QAItem
    evidence: dict[str, Any]
    correct: bool


def observe(engine: NewsRAG, items: list[QAItem]) -> list[Observed]:
    answerer = engine.answerer("extractive")
    assert isinstance(answerer, ExtractiveAnswerer)
    kept = answerer.weights
    answerer.weights = replace(kept, refuse_below=-1.0, refuse_typed_below=-1.0, refuse_focus_below=-1.0)
    try:
        seen = []
        for item in items:
            for k, turn in enumerate(item.history):
                engine.ask(turn, item.history[:k])
            answer = engine.ask(item.question, item.history)
            reply = " ".join(s.text for s in answer.sentences)
            correct = item.answerable and answer_contains(reply, item.answers)
            seen.append(Observed(item, answer.evidence, bool(correct)))
        return seen
    finally:
        answerer.weights = kept


def scores(seen: list[Observed], weights: Weights) -> dict[str, float]:
    """Answer accuracy, follow-up accuracy and refusal precision/recall/F1 under `weights`' thresholds."""
    answerer = ExtractiveAnswerer(lambda texts: [], weights=weights)  # only its refusal rule is used
    refused = [bool(o.evidence) and answerer.refuses(o.evidence) for o in seen]
    answerable = [o for o in seen if o.item.answerable]
    right = [o.correct and not r for o, r in zip(seen, refused, strict=True)]
    followups = [k for k, o in enumerate(seen) if o.item.kind == "followup"]
    true_refusals = sum(r and not o.item.answerable for o, r in zip(seen, refused, strict=True))
    precision = true_refusals / max(sum(refused), 1)
    recall = true_refusals / max(sum(not o.item.answerable for o in seen), 1)
    return {
        "accuracy": sum(right) / max(len(answerable), 1),
        "follow-ups": sum(right[k] for k in followups) / max(len(followups), 1),
        "refusal P": precision,
        "refusal R": recall,
        "refusal F1": 2 * precision * recall / max(precision + recall, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    data = bundled(Path(".newsrag") / "calibrate", quick=False)
    settings = Settings.load().replace(answerer="extractive")  # the answerer whose thresholds this fits
    if args.index_dir:
        engine = NewsRAG.open(settings.replace(index_dir=args.index_dir), embedder, build_from=data.corpus)
    else:
        engine = open_engine(settings, embedder, data)
    seen = observe(engine, data.qa)
    print(f"dev set: {len(seen)} questions, {sum(not o.item.answerable for o in seen)} unanswerable")
    print(f"quote answers the question (refusals off): {sum(o.correct for o in seen)}")
    points = []
    for values in itertools.product(*GRID.values()):
        weights = replace(Weights(), **dict(zip(GRID, values, strict=True)))
        row = scores(seen, weights)
        points.append((row["accuracy"] + row["refusal F1"], values, row))
    points.sort(key=lambda p: -p[0])
    header = " ".join(f"{k:>18}" for k in GRID) + "  accuracy follow-ups refusal P refusal R"
    print(header)
    default = Weights()
    defaults = tuple(getattr(default, k) for k in GRID)
    shown = points[: args.top] + [p for p in points if p[1] == defaults and p not in points[: args.top]]
    for _, values, row in shown:
        mark = "  <- default" if values == defaults else ""
        print(
            " ".join(f"{v:>18.2f}" for v in values)
            + f"  {row['accuracy']:8.1%} {row['follow-ups']:10.1%} {row['refusal P']:9.1%} {row['refusal R']:9.1%}{mark}"
        )


if __name__ == "__main__":
    main()
