"""`newsrag eval`: index the data set, run the suites with baselines in the same run, write the report."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsrag.eval.baselines import LlamaIndexDefault
from newsrag.eval.formats import HighlightQuery
from newsrag.eval.metrics import multihop_metrics
from newsrag.eval.report import terminal_summary, write_report
from newsrag.eval.run_data import EvalData, bundled, user_dataset
from newsrag.eval.suites import (
    SuiteResult,
    faithfulness_suite,
    latency_suite,
    qa_suite,
    retrieval_suite,
    summary_suite,
    timed,
)
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest
from newsrag.rag.engine import NewsRAG
from newsrag.settings import Settings

log = logging.getLogger(__name__)
SUITES = ("retrieval", "qa", "summaries", "faithfulness", "latency")


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
    suites: tuple[str, ...] = SUITES,
    baseline: str | None = "llamaindex-default",
) -> EvalRun:
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
    results: list[SuiteResult] = []
    if "retrieval" in suites and data.highlights:
        queries = [HighlightQuery(h, i) for i, hs in data.highlights.items() if i in articles for h in hs]
        results.append(retrieval_suite(engine, queries, base))
    if data.multihop is not None:
        results.append(multihop_suite(engine, data))
    if "qa" in suites and data.qa:
        results.append(qa_suite(engine, data.qa, base))
    if "summaries" in suites and data.highlights:
        results.append(summary_suite(engine, articles, data.highlights, data.peers))
    if "faithfulness" in suites and data.judgements and data.peers:
        results.append(faithfulness_suite(engine, articles, data.peers, data.judgements))
    if "latency" in suites and data.qa:
        engine.reload()  # fresh caches: latency of questions not seen before
        results.append(latency_suite(engine, data.qa))
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


@timed
def multihop_suite(engine: NewsRAG, data: EvalData) -> SuiteResult:
    """MultiHop-RAG's Hits@4/@10 and MRR@10 over retrieved chunk texts, its own relevance rule."""
    assert data.multihop is not None
    result = SuiteResult("multihop")
    queries = data.multihop.retrieval_queries()
    for name, options in {
        "newsrag hybrid": {},
        "BM25 only": {"mode": "bm25"},
        "dense only": {"mode": "dense"},
    }.items():
        retriever = engine.retriever.with_options(top_k=10, per_article=10, **options)
        retrieved = [[h.node.get_content() for h in retriever.ranked(q.query)[:10]] for q in queries]
        result.rows[name] = multihop_metrics(retrieved, [q.facts for q in queries])
    result.notes.append(f"{len(queries)} queries with evidence (null queries skipped, as the benchmark does)")
    return result
