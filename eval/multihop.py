"""Load the MultiHop-RAG benchmark (github.com/yixuantt/MultiHop-RAG, dataset/) into typed records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS_FILE = "corpus.json"
QUERIES_FILE = "MultiHopRAG.json"
NULL_QUERY = "null_query"
_LFS_PREFIX = "version https://git-lfs"


class MultiHopFormatError(ValueError):
    """The dataset files are missing, LFS pointers, or not in the official format."""


@dataclass(frozen=True)
class MultiHopArticle:
    """One news article of corpus.json."""

    title: str
    url: str
    body: str
    author: str | None = None
    source: str | None = None
    published_at: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One gold evidence item: the article it comes from and the fact a relevant chunk must contain."""

    fact: str
    title: str
    url: str
    author: str | None = None
    source: str | None = None
    category: str | None = None
    published_at: str | None = None


@dataclass(frozen=True)
class MultiHopQuery:
    """One benchmark query with its answer and evidence list."""

    query: str
    answer: str
    question_type: str
    evidence: tuple[Evidence, ...]

    @property
    def facts(self) -> list[str]:
        """Gold facts in dataset order, the input multihop_metrics expects."""
        return [e.fact for e in self.evidence]

    @property
    def is_null(self) -> bool:
        """Null queries have no evidence; the official retrieval evaluation skips them."""
        return self.question_type == NULL_QUERY


@dataclass(frozen=True)
class MultiHopData:
    """The whole benchmark: corpus articles and queries."""

    articles: list[MultiHopArticle]
    queries: list[MultiHopQuery]

    def retrieval_queries(self) -> list[MultiHopQuery]:
        """Queries scored for retrieval: all but null_query, as retrieval_evaluate.py does."""
        return [q for q in self.queries if not q.is_null]


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise MultiHopFormatError(
            f"{path} not found: point at MultiHop-RAG's dataset/ folder (or the HF dataset yixuantt/MultiHopRAG)"
        )
    text = path.read_text(encoding="utf-8")
    if text.startswith(_LFS_PREFIX):
        raise MultiHopFormatError(f"{path} is a Git LFS pointer, not data: run `git lfs pull` in the clone")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MultiHopFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MultiHopFormatError(f"{path} should hold a JSON list of objects")
    return data


def _required(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise MultiHopFormatError(f"{where}: missing or non-string field {key!r}")
    return value


def _optional(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None or value == "" else str(value)


def _article(item: dict[str, Any], where: str) -> MultiHopArticle:
    return MultiHopArticle(
        title=_required(item, "title", where),
        url=_required(item, "url", where),
        body=_required(item, "body", where),
        author=_optional(item, "author"),
        source=_optional(item, "source"),
        published_at=_optional(item, "published_at"),
        category=_optional(item, "category"),
    )


def _evidence(item: dict[str, Any], where: str) -> Evidence:
    return Evidence(
        fact=_required(item, "fact", where),
        title=_required(item, "title", where),
        url=_required(item, "url", where),
        author=_optional(item, "author"),
        source=_optional(item, "source"),
        category=_optional(item, "category"),
        published_at=_optional(item, "published_at"),
    )


def _query(item: dict[str, Any], where: str) -> MultiHopQuery:
    evidence = item.get("evidence_list", [])
    if not isinstance(evidence, list):
        raise MultiHopFormatError(f"{where}: evidence_list should be a list")
    return MultiHopQuery(
        query=_required(item, "query", where),
        answer=_required(item, "answer", where),
        question_type=_required(item, "question_type", where),
        evidence=tuple(_evidence(e, f"{where} evidence {j}") for j, e in enumerate(evidence)),
    )


def load_multihop(dir: Path) -> MultiHopData:
    """Read corpus.json and MultiHopRAG.json from a dataset folder (or a repo clone holding dataset/)."""
    folder = Path(dir)
    if not (folder / CORPUS_FILE).exists() and (folder / "dataset" / CORPUS_FILE).exists():
        folder = folder / "dataset"
    corpus_path, queries_path = folder / CORPUS_FILE, folder / QUERIES_FILE
    articles = [_article(a, f"{corpus_path} item {i}") for i, a in enumerate(_read_json_list(corpus_path))]
    queries = [_query(q, f"{queries_path} item {i}") for i, q in enumerate(_read_json_list(queries_path))]
    return MultiHopData(articles=articles, queries=queries)


def corpus_to_jsonl_articles(articles: Iterable[MultiHopArticle]) -> list[dict[str, str | None]]:
    """Map corpus articles to our JSON ingester's fields, with the url as the stable article id."""
    return [
        {
            "id": a.url,
            "title": a.title,
            "text": a.body,
            "url": a.url,
            "source": a.source,
            "published_at": a.published_at,
            "author": a.author,
        }
        for a in articles
    ]


def write_articles_jsonl(articles: Iterable[MultiHopArticle], path: Path) -> int:
    """Write the corpus as JSON lines for `newsrag ingest`; returns the number of articles written."""
    rows = corpus_to_jsonl_articles(articles)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)
