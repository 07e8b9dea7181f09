"""`newsrag eval`: open an engine over the data set, run the suites with baselines in the same run, write the report."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsrag.eval import registry
from newsrag.eval.baselines import BASELINES
from newsrag.eval.report import terminal_summary, write_report
from newsrag.eval.run_data import EvalData, bundled, user_dataset
from newsrag.eval.suites import SuiteInputs, SuiteResult
from newsrag.index.embedder import EmbeddingCache, SentenceTransformerEmbedding
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class EvalRun:
    """Where the report went, the terminal's short tables, the figures and the wall time."""

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
    baselines: tuple[str, ...] = registry.BASELINE_NAMES,
    qa_sets: tuple[str, ...] = ("dev", "test"),
) -> EvalRun:
    """Run the named suites that the data supports, beside the named baselines, and write the report to `out`."""
    unknown = [name for name in suites if name not in registry.SUITE_BY_NAME]
    if unknown:
        known = ", ".join(registry.SUITE_NAMES)
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}: the suites are {known}")
    unknown = [name for name in baselines if name not in BASELINES]
    if unknown:
        raise ValueError(
            f"unknown baseline(s) {', '.join(unknown)}: the baselines are {', '.join(BASELINES)}"
        )
    started = time.perf_counter()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    data = user_dataset(dataset, work) if dataset else bundled(work, quick)
    data.qa_sets = qa_sets
    # Most sentences an eval embeds (articles, summaries, candidate quotes) are the same every run.
    cache = EmbeddingCache.beside(settings.index_dir, embedder)
    embedder.use_cache(cache)
    try:
        return _run(settings, embedder, out, quick, data, suites, baselines, started, cache)
    finally:
        embedder.use_cache(None)
        cache.save()


def _run(
    settings: Settings,
    embedder: SentenceTransformerEmbedding,
    out: Path,
    quick: bool,
    data: EvalData,
    suites: tuple[str, ...],
    baselines: tuple[str, ...],
    started: float,
    cache: EmbeddingCache,
) -> EvalRun:
    engine = open_engine(settings, embedder, data)
    articles = {a.id: a for a in engine.catalog.articles()}
    built = [BASELINES[name](list(articles.values()), embedder) for name in baselines]
    inputs = SuiteInputs(engine, data, articles, built, cache.path.parent)
    results = []
    for suite in registry.SUITES:
        if suite.name in suites and suite.applies_to(data):
            # Latency is measured as a user meets it: every question embedded afresh.
            embedder.use_cache(None if suite.name == "latency" else cache)
            results.append(suite.run(inputs))
    header = _header(engine, data, len(articles), quick, baselines)
    seconds = time.perf_counter() - started
    header["wall time"] = f"{seconds:.0f} s"
    header["embedding cache"] = f"{cache.hits} texts reused, {cache.misses} embedded ({cache.path})"
    path = write_report(out, header, results)
    return EvalRun(path, terminal_summary(results), results, seconds)


def open_engine(settings: Settings, embedder: SentenceTransformerEmbedding, data: EvalData) -> NewsRAG:
    """An engine over the data's own index, cached by corpus fingerprint next to the user's and built if missing."""
    index_dir = settings.index_dir.parent / "eval-indexes" / data.fingerprint
    return NewsRAG.open(settings.replace(index_dir=index_dir), embedder, build_from=data.corpus)


def _header(
    engine: NewsRAG, data: EvalData, articles: int, quick: bool, baselines: tuple[str, ...]
) -> dict[str, Any]:
    """What the report says it measured: data, index, settings, machine."""
    settings, manifest = engine.settings, engine.catalog.snapshot.manifest
    built = engine.built.summary() if engine.built else f"cached index reused ({settings.index_dir})"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data.name,
        "corpus fingerprint": data.fingerprint,
        "articles indexed": articles,
        "chunks": len(engine.catalog.chunks()),
        "index build": built,
        "embedder": f"{settings.embed_model} ({engine.embedder.dimension}-d)",
        "chunking": f"{manifest.chunk_size} word pieces, overlap {settings.chunk_overlap}",
        "retrieval": f"hybrid BM25+dense, QueryFusionRetriever {engine.retriever.fusion} fusion "
        f"(dense weight {engine.retriever.dense_weight}), "
        f"top {settings.top_k}, {settings.max_chunks_per_article} chunks per article",
        "answerer": settings.answerer,
        "baselines": ", ".join(baselines) or "none",
        "mode": "quick" if quick else "full",
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }
