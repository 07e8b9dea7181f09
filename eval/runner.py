"""`newsrag eval`: index the data set, run the suites with baselines in the same run, write the report."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsrag.eval import registry
from newsrag.eval.baselines import LlamaIndexDefault
from newsrag.eval.report import terminal_summary, write_report
from newsrag.eval.run_data import bundled, user_dataset
from newsrag.eval.suites import SuiteInputs, SuiteResult
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

log = logging.getLogger(__name__)
SUITES = registry.SUITE_NAMES  # the name ui/cli.py imports until it reads newsrag.eval.registry


@dataclass
class EvalRun:
    report: Path
    summary: str
    results: list[SuiteResult]
    seconds: float


def run_eval(
    settings: Settings,
    embedder: SentenceTransformerEmbedding,
    out: Path,
    quick: bool = False,
    dataset: Path | None = None,
    suites: tuple[str, ...] = registry.SUITE_NAMES,
    baseline: str | None = "llamaindex-default",
) -> EvalRun:
    unknown = [name for name in suites if name not in registry.SUITE_BY_NAME]
    if unknown:
        known = ", ".join(registry.SUITE_NAMES)
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}: the suites are {known}")
    started = time.perf_counter()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    data = user_dataset(dataset, work) if dataset else bundled(work, quick)
    # Each corpus gets its own cached index next to the user's, reused (unchanged) on the next run.
    index_dir = settings.index_dir.parent / "eval-indexes" / data.fingerprint
    eval_settings = settings.replace(index_dir=index_dir)
    report = ingest(eval_settings, [str(p) for p in data.corpus], embedder)
    engine = NewsRAG(eval_settings, embedder)
    articles = {a.id: a for a in engine.catalog.articles()}
    base = LlamaIndexDefault(list(articles.values()), embedder) if baseline == "llamaindex-default" else None
    inputs = SuiteInputs(engine, data, articles, base)
    results = [
        suite.run(inputs) for suite in registry.SUITES if suite.name in suites and suite.applies_to(data)
    ]
    header = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data.name,
        "corpus fingerprint": data.fingerprint,
        "articles indexed": len(articles),
        "chunks": len(engine.catalog.chunks()),
        "index build": report.summary(),
        "embedder": f"{settings.embed_model} ({embedder.dimension}-d)",
        "chunking": f"{engine.catalog.snapshot.manifest.chunk_size} word pieces, overlap {settings.chunk_overlap}",
        "retrieval": f"hybrid BM25+dense, relative-score fusion (dense weight {engine.retriever.dense_weight}), "
        f"top {settings.top_k}, {settings.max_chunks_per_article} chunks per article",
        "answerer": "extractive",
        "baseline": baseline or "none",
        "mode": "quick" if quick else "full",
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }
    seconds = time.perf_counter() - started
    header["wall time"] = f"{seconds:.0f} s"
    path = write_report(out, header, results)
    return EvalRun(path, terminal_summary(results), results, seconds)
