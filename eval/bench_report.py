"""The bench's markdown: a header, then one table per part, corpus sizes as columns."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.eval.bench import BenchRun, ScaleFigures

SECTIONS = (
    "## Ingest: the bundled sample corpus",
    "## Incremental cost",
    "## Query latency",
    "## Start-up",
    "## Memory and disk",
)
MB = 1e6


def markdown(run: BenchRun) -> str:
    lines = ["# NewsRAG benchmark", ""]
    lines += [f"- **{k}**: {v}" for k, v in run.header.items()]
    lines += ["", *_ingest(run), "", *_scaled(run), ""]
    lines += [f"_{note}._" for note in run.notes]
    return "\n".join(lines).rstrip() + "\n"


def _ingest(run: BenchRun) -> list[str]:
    f = run.ingest
    sweep = ", ".join(f"{size}: {rate:.1f}" for size, rate in f.sweep.items())
    return [
        f"{SECTIONS[0]} ({f.articles} articles)",
        "",
        "| system | seconds | chunks | chunks/s | ratio |",
        "|---|---|---|---|---|",
        f"| newsrag ingest | {f.seconds:.1f} | {f.chunks_written} | {f.chunks_per_s:.1f} | |",
        f"| bare `SentenceTransformer.encode`, batch {f.best_batch} | {f.bare_seconds:.1f} | {f.chunks_embedded} "
        f"| {f.bare_chunks_per_s:.1f} | ours / bare chunks/s: **{f.vs_bare:.2f}** (target >= 0.9) |",
        f"| LlamaIndex `VectorStoreIndex.from_documents` | {f.llamaindex_seconds:.1f} | {f.llamaindex_chunks} "
        f"| {f.llamaindex_chunks_per_s:.1f} | its seconds / ours: **{f.vs_llamaindex:.2f}** (above 1: ours faster) |",
        "",
        f"_Of the ingest, {f.encode_seconds:.1f} s ({f.encode_seconds / f.seconds:.0%}) was inside the embedder; "
        f"chunks written {f.chunks_written}, embedded {f.chunks_embedded}, served {f.chunks_indexed}. "
        f"Bare encode chunks/s by batch size on {f.sweep_texts} of the texts: {sweep}. "
        "LlamaIndex: the same articles as Documents (title in the metadata), a SentenceSplitter sized "
        "in the embedder's word pieces with the same overlap, the same embedder, in memory._",
    ]


def _scaled(run: BenchRun) -> list[str]:
    scales = run.scales
    head = [
        "| | " + " | ".join(f"{s.scale:,} articles" for s in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]

    def row(label: str, cell: Callable[[ScaleFigures], str]) -> str:
        return f"| {label} | " + " | ".join(cell(s) for s in scales) + " |"

    def latency(name: str) -> Callable[[ScaleFigures], str]:
        return lambda s: f"{s.latency[name].p50_ms:.0f} / {s.latency[name].p95_ms:.0f}"

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}"

    repeats = len(scales[0].add_one) if scales else 0
    many = f"add {scales[0].added_many if scales else 0} articles"
    return [
        f"{SECTIONS[1]} (seconds per operation, on a copy of each index)",
        "",
        *head,
        row(f"add 1 article (median of {repeats})", lambda s: median(s.add_one)),
        row("  of which embedding", lambda s: median(s.add_one_encode)),
        row(many, lambda s: f"{s.add_many:.2f}"),
        row("  of which embedding", lambda s: f"{s.add_many_encode:.2f}"),
        row("re-ingest those, unchanged (nothing embedded or written)", lambda s: f"{s.unchanged_many:.2f}"),
        row(f"remove 1 article (median of {repeats})", lambda s: median(s.remove_one)),
        "",
        f"_One article into an empty index (median of {repeats}): {run.empty_add_one:.2f} s._",
        "",
        f"{SECTIONS[2]} (milliseconds, warm, one process: p50 / p95)",
        "",
        *head,
        row("retrieve", latency("retrieve")),
        row("retrieve, source + date filter", latency("retrieve filtered")),
        row("full extractive answer", latency("answer")),
        row("full answer, source + date filter", latency("answer filtered")),
        row("passages a filtered retrieval returned (mean)", lambda s: f"{s.filtered_passages:.1f}"),
        row(
            "answers that refused, unfiltered / filtered",
            lambda s: f"{s.refused['answer']:.0%} / {s.refused['answer filtered']:.0%}",
        ),
        row("engine open, in process (s)", lambda s: f"{s.open_seconds:.1f}"),
        "",
        f"{SECTIONS[3]} (seconds, wall, from a new process)",
        "",
        *head,
        row("`newsrag --help`", lambda s: f"{run.help_seconds:.1f}"),
        row('cold `newsrag ask "..." --json` to its answer', lambda s: f"{s.cold_ask_seconds:.1f}"),
        row("`newsrag serve` until it says it is ready", lambda s: f"{s.serve_ready_seconds:.1f}"),
        row("`newsrag serve` until its first `/ask` answer", lambda s: f"{s.serve_answer_seconds:.1f}"),
        "",
        f"{SECTIONS[4]}",
        "",
        *head,
        row("articles / chunks", lambda s: f"{s.articles:,} / {s.chunks:,}"),
        row("peak RSS, cold `newsrag ask` (MB)", lambda s: f"{s.cold_ask_rss / MB:.0f}"),
        row("peak RSS, `newsrag serve` after one answer (MB)", lambda s: f"{s.serve_rss / MB:.0f}"),
        row("index on disk, live snapshot (MB)", lambda s: f"{s.live_bytes / MB:.1f}"),
        row("index folder, earlier snapshots included (MB)", lambda s: f"{s.dir_bytes / MB:.1f}"),
        row("bytes per chunk (live snapshot)", lambda s: f"{s.bytes_per_chunk:,.0f}"),
        row("index build (s; chunks/s)", _build),
    ]


def _build(s: ScaleFigures) -> str:
    b = s.build
    how = " (cached)" if b.cached else " (resumed)" if b.resumed else ""
    return f"{b.seconds:.0f}; {b.chunks_per_s:.1f}{how}"
