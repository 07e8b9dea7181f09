"""Where the tests find the bundled sample corpus, and the facts about it they rely on (one place)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SEED = SAMPLE / "seed" / "border-czar-minneapolis.txt"
CNNDM = SAMPLE / "cnndm" / "articles.jsonl"
SEED_TITLE = "Border Czar Says He Is Pulling 700 Immigration Agents Out of Minneapolis"
SEED_QUESTION = "How many immigration officers is the government pulling out of Minneapolis?"
FOLLOW_UP = "What did the mayor say about it?"
OUT_OF_CORPUS = "What interest rate did the Bank of England set in April 2015?"


def cnndm_rows(limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in CNNDM.read_text().splitlines()]
    return rows[:limit] if limit else rows
