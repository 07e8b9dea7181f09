"""The eval sets' JSONL formats (QA items, highlights) and their loaders; the bundled sets' paths."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from newsrag.data import EVAL_DIR
from newsrag.eval.metrics import detokenize_ptb

QA_SET = EVAL_DIR / "qa.jsonl"  # dev: the refusal threshold and the answerer's weights were tuned on it
QA_TEST_SET = EVAL_DIR / "qa_test.jsonl"  # test: held out, written from the articles before any tuning
CNNDM_DIR = EVAL_DIR / "cnndm"
# The seed article has no id of its own (its id is derived from its text); the QA set names it so.
ARTICLE_ALIASES = {
    "seed:border-czar-minneapolis": "Border Czar Says He Is Pulling 700 Immigration Agents Out of Minneapolis"
}


@dataclass(frozen=True)
class QAItem:
    """One question: accepted answers, the gold article (None: the corpus does not answer it), earlier turns."""

    id: str
    question: str
    answers: list[str]
    article: str | None
    history: list[str] = field(default_factory=list)
    kind: str = "factoid"
    asks: str = ""  # the answer type: person, organisation, place, number, date, quote, reason or thing

    @property
    def answerable(self) -> bool:
        return self.article is not None


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open() as handle:
        for n, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
    return rows


def load_qa(path: Path = QA_SET) -> list[QAItem]:
    items = []
    for n, row in enumerate(read_jsonl(path), 1):
        if "question" not in row:
            raise ValueError(f"{path}:{n}: a QA item needs a 'question'")
        items.append(
            QAItem(
                id=str(row.get("id", f"q{n:03d}")),
                question=row["question"],
                answers=list(row.get("answers", [])),
                article=row.get("article"),
                history=list(row.get("history", [])),
                kind=row.get("kind", "followup" if row.get("history") else "factoid"),
                asks=str(row.get("asks", "")),
            )
        )
    return items


def resolve_gold(article: str | None, titles: dict[str, str]) -> str | None:
    """Map an alias (an article named by title) to the id the index gave it."""
    if article in ARTICLE_ALIASES:
        return titles.get(ARTICLE_ALIASES[article], article)
    return article


@dataclass(frozen=True)
class HighlightQuery:
    query: str
    article_id: str


def load_highlights(folder: Path = CNNDM_DIR) -> dict[str, list[str]]:
    """Each article's highlights, detokenised as ROUGE and answer matching need them."""
    return {
        r["id"]: [detokenize_ptb(h) for h in r["highlights"]] for r in read_jsonl(folder / "highlights.jsonl")
    }


def highlight_queries(folder: Path = CNNDM_DIR) -> list[HighlightQuery]:
    """Known-item search: every journalist-written highlight is a query whose gold is its article."""
    return [HighlightQuery(h, article_id) for article_id, hs in load_highlights(folder).items() for h in hs]
