"""Fit the extractive answerer's sentence and refusal models on the dev QA set only.

    python -m newsrag.eval.scripts.fit_answerer [--folds 5]

Answers every dev question (data/eval/qa.jsonl; the held-out test set is never read) with every
candidate sentence embedded and refusals off, and keeps each candidate's FEATURES (rag/answer.py)
with its label: whether it holds an accepted answer (every sentence of an unanswerable question is
a negative). A logistic regression of the label on the features is the sentence model; a second
one, over each question's best sentence (its logit and features), of "the quote answers it" is the
refusal model, and `refuse_below` its threshold by answer accuracy plus refusal F1. The two
regularisations and `keep_ratio` are chosen by the same objective in cross-validation over
questions (a question and its earlier turns stay in one fold), so the figures printed for them are
out-of-fold; then both models are fitted on all of dev and printed as the `Weights` to paste into
rag/answer.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from newsrag.eval.formats import QAItem
from newsrag.eval.metrics import answer_contains
from newsrag.eval.run_data import bundled
from newsrag.eval.runner import open_engine
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.answer import (
    FEATURES,
    Candidate,
    ExtractiveAnswerer,
    Weights,
    choose_sentences,
    refusal_input,
)
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

C_GRID = (0.01, 0.03, 0.1)
KEEP_GRID = (0.3, 0.5)
C_REFUSAL_GRID = (0.3, 1.0, 3.0)
REFUSE_GRID = tuple(np.round(np.arange(0.0, 0.95, 0.025), 3))
# Fold assignments the grid is scored over: with one, the point chosen followed the folds' luck (the point
# seed 0 chose scored 1.388 +- .038 over five, the worst of four points compared; the kept one 1.422 +- .027).
FOLD_SEEDS = (0, 1, 2, 3, 4)


@dataclass
class Question:
    """One dev question's candidate sentences: features, labels and vectors (for the redundancy rule)."""

    item: QAItem
    features: np.ndarray
    labels: np.ndarray
    vectors: np.ndarray


def observe(engine: NewsRAG, items: list[QAItem]) -> list[Question]:
    """Each item asked after its earlier turns, as the chat asks it, with every candidate embedded and
    no refusal: the candidates' features as ExtractiveAnswerer.score computed them."""
    answerer = engine.answerer("extractive")
    assert isinstance(answerer, ExtractiveAnswerer)
    kept = answerer.weights
    answerer.weights = replace(kept, embed_at_most=100_000, refuse_below=-1.0)
    scored = answerer.score
    seen: list[tuple[list[Candidate], np.ndarray]] = []

    def capture(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = scored(*args, **kwargs)
        seen.append(found)
        return found

    answerer.score = capture  # type: ignore[method-assign]
    try:
        questions = []
        for item in items:
            for k, turn in enumerate(item.history):
                engine.ask(turn, item.history[:k])
            seen.clear()
            engine.ask(item.question, item.history)
            candidates, vectors = seen[-1] if seen else ([], np.zeros((0, 1)))
            labels = np.array(
                [item.answerable and answer_contains(c.span.text, item.answers) for c in candidates],
                dtype=bool,
            )
            features = np.array([c.features for c in candidates], dtype="float32").reshape(-1, len(FEATURES))
            questions.append(Question(item, features, labels, vectors))
        return questions
    finally:
        answerer.score = scored  # type: ignore[method-assign]
        answerer.weights = kept


def fit(questions: list[Question], c: float) -> LogisticRegression:
    x = np.vstack([q.features for q in questions])
    y = np.concatenate([q.labels for q in questions])
    return LogisticRegression(C=c, max_iter=2000).fit(x, y)


def outcome(q: Question, logits: np.ndarray, keep: float) -> tuple[int, bool]:
    """The best sentence, and whether the sentences ExtractiveAnswerer.select would choose hold an answer."""
    if not len(logits):
        return -1, False
    redundancy = Weights().redundancy
    at_most = Settings().answer_sentences
    chosen = choose_sentences(list(1 / (1 + np.exp(-logits))), q.vectors, at_most, keep, redundancy)
    return chosen[0], bool(q.labels[chosen].any())


def refusal_row(q: Question, logits: np.ndarray, best: int) -> np.ndarray:
    """What the refusal model reads (rag/answer.py refusal_input); a question with no candidate reads -20."""
    if best < 0:
        return refusal_input(-20.0, np.zeros(len(FEATURES), dtype="float32"))
    return refusal_input(float(logits[best]), q.features[best])


def scores(questions: list[Question], answered: list[bool], right: list[bool]) -> dict[str, float]:
    refused = [not a for a in answered]
    right = [r and a for r, a in zip(right, answered, strict=True)]
    answerable = [k for k, q in enumerate(questions) if q.item.answerable]
    followups = [k for k, q in enumerate(questions) if q.item.kind == "followup"]
    true_refusals = sum(r and not q.item.answerable for q, r in zip(questions, refused, strict=True))
    precision = true_refusals / max(sum(refused), 1)
    recall = true_refusals / max(len(questions) - len(answerable), 1)
    return {
        "accuracy": sum(right[k] for k in answerable) / max(len(answerable), 1),
        "follow-ups": sum(right[k] for k in followups) / max(len(followups), 1),
        "refusal P": precision,
        "refusal R": recall,
        "refusal F1": 2 * precision * recall / max(precision + recall, 1e-9),
    }


def objective(row: dict[str, float]) -> float:
    return row["accuracy"] + row["refusal F1"]


@dataclass
class Fitted:
    """Both models and the thresholds, fitted on some questions, and how they answer others."""

    sentences: LogisticRegression
    refusal: LogisticRegression
    keep: float
    refuse_below: float

    def answer(self, q: Question) -> tuple[bool, bool]:
        """Whether it answers (does not refuse) and whether the answer holds an accepted one."""
        logits = self.sentences.decision_function(q.features) if len(q.features) else np.zeros(0)
        best, hit = outcome(q, logits, self.keep)
        answers = self.refusal.predict_proba(refusal_row(q, logits, best)[None])[0, 1]
        return bool(answers >= self.refuse_below), hit


def fit_all(questions: list[Question], c: float, keep: float, c_refusal: float) -> Fitted:
    """The sentence model, then the refusal model on its best sentences (label: the quote answers), then
    the refusal threshold by accuracy plus refusal F1, all on `questions`."""
    sentences = fit(questions, c)
    rows, labels, hits = [], [], []
    for q in questions:
        logits = sentences.decision_function(q.features) if len(q.features) else np.zeros(0)
        best, hit = outcome(q, logits, keep)
        rows.append(refusal_row(q, logits, best))
        labels.append(bool(q.item.answerable and hit))
        hits.append(hit)
    refusal = LogisticRegression(C=c_refusal, max_iter=2000).fit(np.array(rows), np.array(labels))
    answers = refusal.predict_proba(np.array(rows))[:, 1]
    threshold = max(REFUSE_GRID, key=lambda t: objective(scores(questions, list(answers >= t), hits)))
    return Fitted(sentences, refusal, keep, float(threshold))


def cross_validate(
    questions: list[Question], folds: int, c: float, keep: float, c_refusal: float, seed: int = 0
) -> dict[str, float]:
    """Out-of-fold figures: each fold answered by models and a threshold fitted on the other folds."""
    fold_of = np.random.default_rng(seed).permutation(len(questions)) % folds
    answered, right = [False] * len(questions), [False] * len(questions)
    for f in range(folds):
        fitted = fit_all([q for q, k in zip(questions, fold_of, strict=True) if k != f], c, keep, c_refusal)
        for k in np.flatnonzero(fold_of == f):
            answered[k], right[k] = fitted.answer(questions[k])
    return scores(questions, answered, right)


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    data = bundled(Path(".newsrag") / "calibrate", quick=False)
    engine = open_engine(Settings.load().replace(answerer="extractive"), embedder, data)
    questions = observe(engine, data.qa)
    print(
        f"dev set: {len(questions)} questions, {sum(not q.item.answerable for q in questions)} unanswerable"
    )
    print(
        f"candidate sentences: {sum(len(q.labels) for q in questions)}, holding an answer: "
        f"{sum(int(q.labels.sum()) for q in questions)}; questions with one: {sum(q.labels.any() for q in questions)}"
    )
    results = {
        point: mean_scores([cross_validate(questions, args.folds, *point, seed=s) for s in FOLD_SEEDS])
        for point in itertools.product(C_GRID, KEEP_GRID, C_REFUSAL_GRID)
    }
    point = max(results, key=lambda p: objective(results[p]))
    print(
        f"{args.folds}-fold cross-validation on dev, out-of-fold, mean over {len(FOLD_SEEDS)} fold seeds, "
        f"at the best of {len(results)} points "
        f"(C {point[0]}, keep_ratio {point[1]}, refusal C {point[2]}): "
        + ", ".join(f"{k} {v:.1%}" for k, v in results[point].items())
    )
    fitted = fit_all(questions, *point)
    answered, right = zip(*(fitted.answer(q) for q in questions), strict=True)
    row = scores(questions, list(answered), list(right))
    print("fitted on all of dev (in-sample): " + ", ".join(f"{k} {v:.1%}" for k, v in row.items()))
    sentence_model = [float(fitted.sentences.intercept_[0]), *map(float, fitted.sentences.coef_[0])]
    refusal_model = [float(fitted.refusal.intercept_[0]), *map(float, fitted.refusal.coef_[0])]
    print("Weights(")
    print("    model=(" + ", ".join(f"{v:.3f}" for v in sentence_model) + "),")
    print("    refusal_model=(" + ", ".join(f"{v:.3f}" for v in refusal_model) + "),")
    print(f"    keep_ratio={fitted.keep}, refuse_below={fitted.refuse_below},")
    print(")")
    for name, value, refusal in zip(
        ("intercept", *FEATURES), sentence_model, [refusal_model[0], *refusal_model[2:]], strict=True
    ):
        print(f"  {name:>18} {value:+.3f} {refusal:+.3f}")
    print(f"  {'sentence logit':>18} {'':>6} {refusal_model[1]:+.3f}")


if __name__ == "__main__":
    main()
