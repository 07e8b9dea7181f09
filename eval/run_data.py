"""Which data an eval run measures: the bundled sample (whole or a quick subset), or a user's folder."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.formats import CNNDM_DIR, QA_SET, QA_TEST_SET, QAItem, load_highlights, load_qa, read_jsonl
from newsrag.eval.multihop import MultiHopData, load_multihop, write_articles_jsonl

QUICK_ARTICLES = 40
SUMMARY_DEV_ARTICLES = 125  # the first 125 sample articles tuned the summariser; the rest did not


@dataclass
class EvalData:
    """Corpus inputs to index, and the sets to measure on; empty sets skip their suite."""

    name: str
    corpus: list[Path]
    qa: list[QAItem] = field(default_factory=list)  # the dev set (bundled: tuned on); a user's qa.jsonl
    qa_test: list[QAItem] = field(default_factory=list)  # the held-out set, reported beside it
    highlights: dict[str, list[str]] = field(default_factory=dict)
    # Articles the summary suite scores, and what they are (bundled: the half that tuned nothing).
    summary_ids: list[str] = field(default_factory=list)
    summary_label: str = ""
    peers: dict[str, dict[str, str]] = field(default_factory=dict)
    judgements: list[dict[str, Any]] = field(default_factory=list)
    multihop: MultiHopData | None = None
    qa_sets: tuple[str, ...] = ("dev", "test")  # which of the two the qa suite answers (`--qa-set`)

    @property
    def fingerprint(self) -> str:
        """Hash of the corpus files: the report says exactly which data it measured."""
        digest = hashlib.sha256()
        for path in sorted(
            p for root in self.corpus for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()
        ):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]


def bundled(work: Path, quick: bool) -> EvalData:
    """The sample corpus and data/eval; `quick` keeps the seed and the first CNN/DailyMail articles."""
    highlights = load_highlights(CNNDM_DIR)
    peers = {r["id"]: r for r in read_jsonl(CNNDM_DIR / "peer_summaries.jsonl")}
    judgements = read_jsonl(CNNDM_DIR / "factuality.jsonl")
    qa = load_qa(QA_SET)
    qa_test = load_qa(QA_TEST_SET)
    ordered = [r["id"] for r in read_jsonl(SAMPLE_CORPUS / "cnndm" / "articles.jsonl")]
    if not quick:
        return EvalData(
            "bundled sample",
            [SAMPLE_CORPUS],
            qa,
            qa_test,
            highlights,
            ordered[SUMMARY_DEV_ARTICLES:],
            "test: the last 125 CNN/DailyMail articles (the first 125 tuned the centrality weights)",
            peers=peers,
            judgements=judgements,
        )
    folder = work / "quick-corpus"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "seed").mkdir(parents=True)
    for seed in (SAMPLE_CORPUS / "seed").iterdir():
        shutil.copy(seed, folder / "seed" / seed.name)
    lines = (SAMPLE_CORPUS / "cnndm" / "articles.jsonl").read_text().splitlines()[:QUICK_ARTICLES]
    (folder / "articles.jsonl").write_text("\n".join(lines) + "\n")
    kept = {r["id"] for r in read_jsonl(folder / "articles.jsonl")}

    def keep(items: list[QAItem]) -> list[QAItem]:
        return [q for q in items if q.article is None or q.article in kept or q.article.startswith("seed:")]

    return EvalData(
        f"bundled sample, quick ({QUICK_ARTICLES} CNN/DailyMail articles + seed)",
        [folder],
        keep(qa),
        keep(qa_test),
        {k: v for k, v in highlights.items() if k in kept},
        [i for i in ordered if i in kept],
        "dev: a quick run's articles are among the 125 that tuned the centrality weights",
        {k: v for k, v in peers.items() if k in kept},
        [j for j in judgements if j["id"] in kept],
    )


def user_dataset(path: Path, work: Path) -> EvalData:
    """A folder in the bundled formats (articles.jsonl or corpus/, qa.jsonl, highlights.jsonl, ...), or MultiHop-RAG."""
    if not path.is_dir():
        raise ValueError(f"--dataset {path}: expected a folder")
    if (path / "MultiHopRAG.json").exists() or (path / "dataset" / "MultiHopRAG.json").exists():
        data = load_multihop(path)
        corpus = work / "multihop-corpus.jsonl"
        write_articles_jsonl(data.articles, corpus)
        return EvalData(f"MultiHop-RAG ({path})", [corpus], multihop=data)
    corpus = [p for p in (path / "articles.jsonl", path / "corpus") if p.exists()]
    if not corpus:
        raise ValueError(f"--dataset {path}: no articles.jsonl or corpus/ folder to index")

    def optional(name: str) -> list[dict[str, Any]]:
        return read_jsonl(path / name) if (path / name).exists() else []

    return EvalData(
        f"user data set ({path})",
        corpus,
        load_qa(path / "qa.jsonl") if (path / "qa.jsonl").exists() else [],
        load_qa(path / "qa_test.jsonl") if (path / "qa_test.jsonl").exists() else [],
        load_highlights(path) if (path / "highlights.jsonl").exists() else {},
        peers={r["id"]: r for r in optional("peer_summaries.jsonl")},
        judgements=optional("factuality.jsonl"),
    )
