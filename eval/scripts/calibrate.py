"""Sweep the answerer's refusal threshold over the QA set: how the default was chosen.

    python -m newsrag.eval.scripts.calibrate [--index-dir DIR]

Prints answer accuracy and refusal precision/recall for each threshold on data/eval/qa.jsonl
(the bundled sample corpus is indexed first, or reused from the eval cache).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from newsrag.eval.run_data import bundled
from newsrag.eval.runner import open_engine
from newsrag.eval.suites import qa_suite
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

THRESHOLDS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    work = Path(".newsrag") / "calibrate"
    data = bundled(work, quick=False)
    settings = Settings.load().replace(answerer="extractive")  # the answerer whose threshold this sweeps
    if args.index_dir:
        engine = NewsRAG.open(settings.replace(index_dir=args.index_dir), embedder, build_from=data.corpus)
    else:
        engine = open_engine(settings, embedder, data)
    answerer = engine.answerer("extractive")
    default = answerer.weights
    print(f"{'refuse below':>12} {'accuracy':>9} {'refusal P':>9} {'refusal R':>9}")
    for threshold in THRESHOLDS:
        answerer.weights = replace(default, refuse_below=threshold)
        row = qa_suite(engine, data.qa).rows["newsrag extractive"]
        mark = "  <- default" if threshold == default.refuse_below else ""
        print(
            f"{threshold:12.2f} {row['answer accuracy']:9.1%} {row['refusal precision']:9.1%} "
            f"{row['refusal recall']:9.1%}{mark}"
        )


if __name__ == "__main__":
    main()
