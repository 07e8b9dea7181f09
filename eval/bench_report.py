"""The bench's figures, typed, and their report: JSON of everything, markdown with corpus sizes as columns."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        return cls(float(np.percentile(seconds, 50)) * 1000, float(np.percentile(seconds, 95)) * 1000)


@dataclass
class IngestFigures:
    """Part 1: the sample corpus through our ingest, through bare encode, through LlamaIndex."""

    articles: int
    chunks_written: int  # as the ingest reports
    chunks_embedded: int  # texts the embedder was handed
    chunks_indexed: int  # chunks the engine then serves
    seconds: float  # wall, reading and parsing the files included
    encode_seconds: float  # of which inside the embedder
    sweep: dict[int, float]  # batch size: chunks/s of bare encode on `sweep_texts` of the chunk texts
    sweep_texts: int
    best_batch: int
    bare_seconds: float  # every chunk text at the best batch size
    llamaindex_seconds: float  # in memory, as from_documents leaves it
    llamaindex_chunks: int
    slices: dict[str, list[float]] = field(default_factory=dict)  # each system's seconds slice by slice
    llamaindex_persisted_seconds: float = 0.0  # the same, then written to disk (storage_context.persist)
    llamaindex_our_embedder_seconds: float = 0.0  # in memory, handed our embedder object instead
    llamaindex_batch: int = 0  # HuggingFaceEmbedding's embed_batch_size

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_written / self.seconds

    @property
    def bare_chunks_per_s(self) -> float:
        return self.chunks_embedded / self.bare_seconds

    @property
    def llamaindex_chunks_per_s(self) -> float:
        return self.llamaindex_chunks / self.llamaindex_seconds

    @property
    def vs_bare(self) -> float:
        """Our chunks/s over bare encode's (target >= 0.9)."""
        return self.chunks_per_s / self.bare_chunks_per_s

    @property
    def vs_llamaindex(self) -> float:
        """LlamaIndex's seconds over ours for the same articles (above 1: ours is faster)."""
        return self.llamaindex_seconds / self.seconds

    @property
    def vs_llamaindex_persisted(self) -> float:
        """The same with LlamaIndex also writing its index to disk, as ours does."""
        return self.llamaindex_persisted_seconds / self.seconds

    @property
    def vs_llamaindex_our_embedder(self) -> float:
        """The same with LlamaIndex handed our embedder: the pipelines alone compared."""
        return self.llamaindex_our_embedder_seconds / self.seconds


@dataclass
class BuildFigures:
    """How a scale's index was built (possibly by an earlier run: `cached`)."""

    articles: int
    chunks: int
    seconds: float
    encode_seconds: float
    batch_seconds: list[float]
    cached: bool = False
    resumed: bool = False  # an interrupted build was finished: seconds cover only the batches built now

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


@dataclass
class ScaleFigures:
    """Parts 2 to 5 at one corpus size."""

    scale: int
    build: BuildFigures
    articles: int = 0
    chunks: int = 0
    live_bytes: int = 0  # the live snapshot, as `newsrag stats` counts it
    dir_bytes: int = 0  # the whole index folder (earlier snapshots kept for recovery included)
    cold_ask_seconds: float = 0.0
    cold_ask_rss: int = 0
    serve_ready_seconds: float = 0.0
    serve_answer_seconds: float = 0.0
    serve_rss: int = 0
    open_seconds: float = 0.0
    latency: dict[str, Percentiles] = field(default_factory=dict)
    filtered_passages: float = 0.0  # mean passages a filtered retrieval returned (0 would time nothing)
    refused: dict[str, float] = field(default_factory=dict)  # share of answers refused, unfiltered / filtered
    add_one: list[float] = field(default_factory=list)
    add_one_encode: list[float] = field(default_factory=list)
    added_many: int = 0
    add_many: float = 0.0
    add_many_encode: float = 0.0
    unchanged_many: float = 0.0
    remove_one: list[float] = field(default_factory=list)

    @property
    def bytes_per_chunk(self) -> float:
        return self.live_bytes / self.chunks if self.chunks else 0.0


@dataclass
class BenchRun:
    header: dict[str, Any]
    ingest: IngestFigures
    empty_add_one: float  # one article into an empty index (median): the floor of an add
    help_seconds: float
    scales: list[ScaleFigures]
    notes: list[str]
    seconds: float
    report: Path = Path()
    markdown: str = ""

    def to_json(self) -> dict[str, Any]:
        ingest_figures = asdict(self.ingest) | {
            k: getattr(self.ingest, k)
            for k in (
                "chunks_per_s",
                "bare_chunks_per_s",
                "llamaindex_chunks_per_s",
                "vs_bare",
                "vs_llamaindex",
                "vs_llamaindex_persisted",
                "vs_llamaindex_our_embedder",
            )
        }
        scales = [
            asdict(s) | {"bytes_per_chunk": s.bytes_per_chunk, "build_chunks_per_s": s.build.chunks_per_s}
            for s in self.scales
        ]
        return {
            "header": self.header,
            "ingest": ingest_figures,
            "empty_add_one_seconds": self.empty_add_one,
            "help_seconds": self.help_seconds,
            "scales": scales,
            "notes": self.notes,
            "seconds": self.seconds,
        }


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
        f"{SECTIONS[0]} ({f.articles} articles, in {len(f.slices.get('ours', []))} slices taking turns)",
        "",
        "| system | seconds | chunks | chunks/s | ratio |",
        "|---|---|---|---|---|",
        f"| newsrag ingest | {f.seconds:.1f} | {f.chunks_written} | {f.chunks_per_s:.1f} | |",
        f"| bare `SentenceTransformer.encode`, batch {f.best_batch} | {f.bare_seconds:.1f} | {f.chunks_embedded} "
        f"| {f.bare_chunks_per_s:.1f} | ours / bare chunks/s: **{f.vs_bare:.2f}** (target >= 0.9) |",
        f"| LlamaIndex `VectorStoreIndex.from_documents`, `HuggingFaceEmbedding` batch {f.llamaindex_batch} "
        f"| {f.llamaindex_seconds:.1f} | {f.llamaindex_chunks} | {f.llamaindex_chunks_per_s:.1f} "
        f"| its seconds / ours: **{f.vs_llamaindex:.2f}** (above 1: ours faster) |",
        f"| the same, then `storage_context.persist()` | {f.llamaindex_persisted_seconds:.1f} | {f.llamaindex_chunks} "
        f"| {f.llamaindex_chunks / f.llamaindex_persisted_seconds:.1f} | its seconds / ours: "
        f"**{f.vs_llamaindex_persisted:.2f}** |",
        f"| the same in memory, handed our embedder | {f.llamaindex_our_embedder_seconds:.1f} | {f.llamaindex_chunks} "
        f"| {f.llamaindex_chunks / f.llamaindex_our_embedder_seconds:.1f} | its seconds / ours: "
        f"**{f.vs_llamaindex_our_embedder:.2f}** (the pipelines alone) |",
        "",
        f"_Of the ingest, {f.encode_seconds:.1f} s ({f.encode_seconds / f.seconds:.0%}) was inside the embedder; "
        f"chunks written {f.chunks_written}, embedded {f.chunks_embedded}, served {f.chunks_indexed}. "
        "The five take turns slice by slice (ABCDE, BCDEA, ...) so that they share the machine's "
        "busy and idle minutes; seconds are sums over the slices, ours writing each slice to one index. "
        f"Bare encode chunks/s by batch size on {f.sweep_texts} of the texts, also taking turns: {sweep}. "
        "LlamaIndex: the same articles as Documents (title in the metadata), a SentenceSplitter sized "
        "in the embedder's word pieces (counted by our embedder's cached tokenizer) with the same overlap, "
        "the same model loaded as LlamaIndex users load one (`HuggingFaceEmbedding`, at bare encode's "
        "best batch size), in memory; then the same written with its default stores to a folder per slice, "
        "as a user who keeps the index would; then in memory with our embedder object, which batches by "
        "word pieces as our ingest does, so that row compares what the pipelines do around the encoder._",
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
        row("  its query embedding alone", latency("query embedding")),
        row("  its search alone (embedding given)", latency("search")),
        row("retrieve, source + date filter", latency("retrieve filtered")),
        row("  its search alone (embedding given)", latency("search filtered")),
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
