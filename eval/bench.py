"""`newsrag bench`: what a newsroom archive costs (issue 12), measured in one run so ratios survive a noisy machine.

1. Ingest of the bundled sample corpus vs bare `SentenceTransformer.encode` of the very same chunk
   texts (the best of a few batch sizes) and vs LlamaIndex's `VectorStoreIndex.from_documents`.
2. Adding 1 and 100 articles, re-ingesting 100 unchanged ones and removing 1, at each corpus size.
3. Warm retrieval and answer latency (p50/p95), with and without a source + date filter.
4. Start-up of the command: `--help`, a cold `newsrag ask`, a fresh `newsrag serve` to its first answer.
5. Peak memory of those processes and the index's size on disk.

It reaches the system only through its public entry points (ingest, remove, NewsRAG, the CLI as
a subprocess), so it measures whatever storage layer is installed. The large corpora are
synthesised (eval/synthetic.py) and indexed once per size and code version under
`<index_dir's parent>/bench/`; every measurement that writes works on a copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import QueryBundle
from pydantic import PrivateAttr

from newsrag.data import SAMPLE_CORPUS
from newsrag.errors import NewsRagError
from newsrag.eval import processes, synthetic
from newsrag.eval.bench_report import (
    BenchRun,
    BuildFigures,
    IngestFigures,
    Percentiles,
    ScaleFigures,
    markdown,
)
from newsrag.eval.formats import QA_SET, QA_TEST_SET, load_qa
from newsrag.index.articles import Article
from newsrag.index.embedder import SentenceTransformerEmbedding, resolve_model_path
from newsrag.index.ingest import IngestReport, ingest, ingest_articles, remove
from newsrag.rag.engine import NewsRAG
from newsrag.rag.filters import Filters
from newsrag.settings import Settings

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # the layout of the bench's cache folder
DEFAULT_SCALES = (250, 10_000)
QUICK_SCALES = (30,)
BUILD_BATCH = 2_500  # articles per ingest while building a large index: memory stays bounded
FILTER = Filters(sources=(synthetic.PUBLISHERS[0],), date_from="2022-01-01", date_to="2022-12-31")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does: the full benchmark, or a quick smoke run of it."""

    sample_articles: int | None  # CNN/DailyMail lines of the sample ingested (None: the whole corpus)
    sweep_texts: int  # chunk texts each batch size of the bare-encode sweep is timed on
    batch_sizes: tuple[int, ...]
    questions: int
    warmup: int
    add_many: int
    repeats: int  # of add 1 and remove 1 (the median is reported) and of `--help`
    slices: int  # the sample corpus in this many parts, on which the three ingests take turns
    timeout: float  # seconds a subprocess may take


FULL = Plan(None, 256, (16, 32, 64, 128), 40, 3, 100, 3, 8, 900.0)
QUICK = Plan(6, 16, (16, 64), 2, 1, 3, 1, 2, 300.0)


class CountingEmbedding(SentenceTransformerEmbedding):
    """The real embedder, also keeping the texts it is handed and its seconds: how ingest time splits."""

    _texts: list[str] = PrivateAttr(default_factory=list)
    _seconds: float = PrivateAttr(default=0.0)

    def __init__(self, model_name: str, batch_size: int) -> None:
        super().__init__(model_name, batch_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = super().encode(texts)
        self._seconds += time.perf_counter() - started
        self._texts.extend(texts)
        return vectors

    def take(self) -> tuple[list[str], float]:
        """The texts embedded and the seconds spent since the last take."""
        taken = self._texts, self._seconds
        self._texts, self._seconds = [], 0.0
        return taken


def run_bench(
    settings: Settings,
    out: Path,
    scales: Sequence[int] = DEFAULT_SCALES,
    quick: bool = False,
    progress: Progress = log.info,
) -> BenchRun:
    """Measure everything, write `bench.json` and `bench.md` to `out` and return the run."""
    if not scales or min(scales) < 1:
        raise NewsRagError("--scales: give corpus sizes of at least 1 article, e.g. 250,10000")
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    embedder = CountingEmbedding(settings.embed_model, settings.embed_batch_size)
    embedder.encode(["warm the model up"])
    archive = synthetic.SyntheticArchive()
    try:
        progress("ingest: the sample corpus, bare encode, LlamaIndex ...")
        ingest_figures = measure_ingest(settings, embedder, work, plan)
        empty_add_one = statistics.median(
            _timed_add(settings.replace(index_dir=work / f"empty-{k}"), archive.articles(k, k + 1), embedder)[
                0
            ]
            for k in range(plan.repeats)
        )
        progress("start-up: newsrag --help ...")
        help_seconds = statistics.median(
            processes.run(
                [*processes.newsrag_command(), "--help"], processes.child_env({}), plan.timeout
            ).seconds
            for _ in range(plan.repeats)
        )
        figures = [
            measure_scale(settings, embedder, archive, n, work, plan, progress) for n in sorted(set(scales))
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = BenchRun(
        _header(settings, embedder, archive, plan, quick, load_at_start),
        ingest_figures,
        empty_add_one,
        help_seconds,
        figures,
        _notes(figures),
        time.perf_counter() - started,
    )
    run.header["wall time"] = f"{run.seconds:.0f} s"
    run.markdown = markdown(run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(run.to_json(), indent=2))
    run.report = out / "bench.md"
    run.report.write_text(run.markdown + "\n")
    return run


# --- 1. ingest throughput --------------------------------------------------------------------


def measure_ingest(settings: Settings, embedder: CountingEmbedding, work: Path, plan: Plan) -> IngestFigures:
    """Ours, bare encode and LlamaIndex on the same slices of the corpus, taking turns slice by slice.

    On a shared machine the load changes by the minute: systems measured one after the other can
    differ by 2x for that alone. Taking turns every few seconds, each in every position (ABC, BCA,
    CAB, ...), they share the good and the bad minutes. A first, untimed pass into another index
    gives each slice's chunk texts (what bare encode is handed) and warms everything up.
    """
    slices = _sample_slices(work, plan.sample_articles, plan.slices)
    first = settings.replace(index_dir=work / "sample-first")
    texts: list[list[str]] = []
    ids: list[list[str]] = []
    for inputs in slices:
        embedder.take()
        report = ingest(first, inputs, embedder)
        if report.failed:
            raise NewsRagError(f"the sample corpus did not ingest: {report.failed[0]}")
        texts.append(embedder.take()[0])
        ids.append(report.new)
    engine = NewsRAG.open(first, embedder)
    articles = {a.id: a for a in engine.catalog.articles()}
    indexed = len(engine.catalog.chunks())
    del engine

    sweep = _sweep(embedder, [t for part in texts for t in part], plan)
    best = max(sweep, key=lambda size: sweep[size])
    target = settings.replace(index_dir=work / "sample-index")
    written = llama_chunks = 0
    llama_embedder = _llamaindex_embedder(settings, best)
    llama_embedder.get_text_embedding("warm the model up")
    systems = ["ours", "bare", "llamaindex", "llamaindex_persisted", "llamaindex_our_embedder"]
    turns: dict[str, list[float]] = {name: [] for name in [*systems, "ours_encode"]}
    for k, inputs in enumerate(slices):
        chosen = [articles[i] for i in ids[k]]
        for system in systems[k % len(systems) :] + systems[: k % len(systems)]:
            embedder.take()
            started = time.perf_counter()
            if system == "ours":
                report = ingest(target, inputs, embedder)
                written += report.chunks_written
            elif system == "bare":
                _bare_encode(embedder, texts[k], best)
            elif system == "llamaindex":
                llama_chunks += _llamaindex_ingest(chosen, llama_embedder, embedder, settings.chunk_overlap)
            elif system == "llamaindex_persisted":
                _llamaindex_ingest(
                    chosen, llama_embedder, embedder, settings.chunk_overlap, work / f"llamaindex-{k}"
                )
            else:
                _llamaindex_ingest(chosen, embedder, embedder, settings.chunk_overlap)
            turns[system].append(time.perf_counter() - started)
            if system == "ours":
                turns["ours_encode"].append(embedder.take()[1])
    return IngestFigures(
        articles=len(articles),
        chunks_written=written,
        chunks_embedded=sum(len(part) for part in texts),
        chunks_indexed=indexed,
        seconds=sum(turns["ours"]),
        encode_seconds=sum(turns["ours_encode"]),
        sweep=sweep,
        sweep_texts=min(plan.sweep_texts, sum(len(part) for part in texts)),
        best_batch=best,
        bare_seconds=sum(turns["bare"]),
        llamaindex_seconds=sum(turns["llamaindex"]),
        llamaindex_chunks=llama_chunks,
        slices=turns,
        llamaindex_persisted_seconds=sum(turns["llamaindex_persisted"]),
        llamaindex_our_embedder_seconds=sum(turns["llamaindex_our_embedder"]),
        llamaindex_batch=llama_embedder.embed_batch_size,
    )


def _sample_slices(work: Path, articles: int | None, slices: int) -> list[list[str]]:
    """The bundled sample corpus (or, quick, its seed and first CNN/DailyMail lines) as `slices` inputs."""
    lines = (SAMPLE_CORPUS / "cnndm" / "articles.jsonl").read_text().splitlines()[:articles]
    folder = work / "sample-slices"
    folder.mkdir()
    found = []
    for k in range(slices):
        path = folder / f"slice-{k}.jsonl"
        path.write_text("".join(line + "\n" for line in lines[k::slices]))
        found.append([str(path)])
    found[0] += [str(p) for p in sorted((SAMPLE_CORPUS / "seed").iterdir())]
    return found


def _sweep(embedder: CountingEmbedding, texts: list[str], plan: Plan) -> dict[int, float]:
    """Bare encode's chunks/s at each batch size, taking turns on quarters of a spread sample of the texts."""
    step = max(1, len(texts) // plan.sweep_texts)
    subset = texts[::step][: plan.sweep_texts]
    seconds = dict.fromkeys(plan.batch_sizes, 0.0)
    sizes = list(plan.batch_sizes)
    for k in range(4):
        for size in sizes[k % len(sizes) :] + sizes[: k % len(sizes)]:
            seconds[size] += _bare_encode(embedder, subset[k::4], size)
    return {size: len(subset) / took for size, took in seconds.items()}


def _bare_encode(embedder: SentenceTransformerEmbedding, texts: list[str], batch_size: int) -> float:
    """Seconds for SentenceTransformer.encode itself, as our embedder calls it, at this batch size."""
    started = time.perf_counter()
    embedder.model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - started


def _llamaindex_embedder(settings: Settings, batch_size: int) -> BaseEmbedding:
    """The same model as LlamaIndex users load a sentence-transformers model: its `HuggingFaceEmbedding`,
    at the batch size bare encode was fastest at (it is also the group LlamaIndex hands the model)."""
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as exc:
        raise NewsRagError(
            "the bench compares with LlamaIndex's HuggingFaceEmbedding: pip install 'newsrag[eval]'"
        ) from exc
    return HuggingFaceEmbedding(
        model_name=resolve_model_path(settings.embed_model), embed_batch_size=batch_size, device="cpu"
    )


def _llamaindex_ingest(
    articles: list[Article],
    embed_model: BaseEmbedding,
    ours: SentenceTransformerEmbedding,
    overlap: int,
    persist_to: Path | None = None,
) -> int:
    """LlamaIndex's VectorStoreIndex.from_documents, chunks sized in the embedder's word pieces so none is cut
    (counted by our embedder's tokenizer); with `persist_to`, then written there with its default stores.
    The number of chunks it embedded."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    documents = [Document(id_=a.id, text=a.text, metadata={"title": a.title}) for a in articles]
    splitter = SentenceSplitter(
        chunk_size=ours.max_tokens, chunk_overlap=overlap, tokenizer=ours.count_tokens
    )
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model, transformations=[splitter])
    if persist_to is not None:
        index.storage_context.persist(persist_dir=str(persist_to))
    return len(index.index_struct.nodes_dict)


# --- 2-5. one corpus size ----------------------------------------------------------------------


def measure_scale(
    settings: Settings,
    embedder: CountingEmbedding,
    archive: synthetic.SyntheticArchive,
    n: int,
    work: Path,
    plan: Plan,
    progress: Progress,
) -> ScaleFigures:
    cached, build = cached_index(settings, embedder, archive, n, progress)
    copy = work / f"n{n}" / "index"
    shutil.copytree(cached, copy)
    here = settings.replace(index_dir=copy)
    figures = ScaleFigures(n, build, dir_bytes=_directory_bytes(copy))
    question = _questions(1)[0]

    progress(f"{n:,} articles: a cold `newsrag ask` and a fresh `newsrag serve` ...")
    cli = [*processes.newsrag_command()]
    env = processes.child_env(
        {
            "index_dir": str(copy),
            "embed_model": settings.embed_model,
            "chunk_size": str(settings.chunk_size),
            "chunk_overlap": str(settings.chunk_overlap),
        }
    )
    asked = processes.run([*cli, "ask", question, "--json"], env, plan.timeout)
    if "answer" not in json.loads(asked.stdout):
        raise NewsRagError(f"`newsrag ask --json` printed no answer: {asked.stdout[:300]}")
    figures.cold_ask_seconds, figures.cold_ask_rss = asked.seconds, asked.peak_rss
    served = processes.serve_first_answer(cli, env, question, plan.timeout)
    figures.serve_ready_seconds = served.ready_seconds
    figures.serve_answer_seconds = served.first_answer_seconds
    figures.serve_rss = served.peak_rss

    progress(f"{n:,} articles: warm latency of {plan.questions} questions ...")
    measure_latency(here, embedder, figures, plan)

    progress(f"{n:,} articles: adding and removing articles ...")
    measure_updates(here, embedder, archive, figures, plan)
    shutil.rmtree(copy.parent)
    return figures


def measure_latency(
    settings: Settings, embedder: CountingEmbedding, figures: ScaleFigures, plan: Plan
) -> None:
    started = time.perf_counter()
    engine = NewsRAG.open(settings, embedder)
    figures.open_seconds = time.perf_counter() - started
    stats = engine.catalog.stats()
    figures.articles, figures.chunks, figures.live_bytes = stats.articles, stats.chunks, stats.size_bytes
    for question in _questions(plan.warmup, held_out=True):
        engine.ask(question)
    questions = _questions(plan.questions)
    passages = []
    for name, filters in (("", None), (" filtered", FILTER)):
        samples: dict[str, list[float]] = {"query embedding": [], "search": [], "retrieve": [], "answer": []}
        refused = 0
        for question in questions:
            t0 = time.perf_counter()
            embedding = engine.embedder.get_query_embedding(question)
            t1 = time.perf_counter()
            engine.retrieve(QueryBundle(question, embedding=embedding), filters)
            t2 = time.perf_counter()
            hits = engine.retrieve(question, filters)
            t3 = time.perf_counter()
            refused += engine.ask(question, filters=filters).refused
            t4 = time.perf_counter()
            for key, took in zip(samples, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                samples[key].append(took)
            if filters:
                passages.append(len(hits))
        for key, values in samples.items():
            if not (filters and key == "query embedding"):
                figures.latency[key + name] = Percentiles.of(values)
        figures.refused["answer" + name] = refused / len(questions)
    figures.filtered_passages = statistics.mean(passages)


def measure_updates(
    settings: Settings,
    embedder: CountingEmbedding,
    archive: synthetic.SyntheticArchive,
    figures: ScaleFigures,
    plan: Plan,
) -> None:
    """On the copy: add 1 (repeated), add many, re-ingest those unchanged, remove 1 (repeated)."""
    n = figures.scale
    singles = archive.articles(n, n + plan.repeats)
    for article in singles:
        seconds, encode = _timed_add(settings, [article], embedder)
        figures.add_one.append(seconds)
        figures.add_one_encode.append(encode)
    low = n + plan.repeats
    figures.added_many = plan.add_many
    figures.add_many, figures.add_many_encode = _timed_add(
        settings, archive.articles(low, low + plan.add_many), embedder
    )
    started = time.perf_counter()
    again = ingest_articles(settings, archive.articles(low, low + plan.add_many), embedder)
    figures.unchanged_many = time.perf_counter() - started
    if len(again.unchanged) != plan.add_many:
        raise NewsRagError(f"re-ingesting {plan.add_many} unchanged articles: {again.summary()}")
    for article in singles:
        started = time.perf_counter()
        removed = remove(settings, [article.id])
        figures.remove_one.append(time.perf_counter() - started)
        if removed.removed != [article.id]:
            raise NewsRagError(f"removing {article.id} removed {removed.removed}")


def _timed_add(
    settings: Settings, articles: list[Article], embedder: CountingEmbedding
) -> tuple[float, float]:
    """Wall seconds of ingesting new articles, and the seconds of it spent embedding."""
    embedder.take()
    started = time.perf_counter()
    report = ingest_articles(settings, articles, embedder)
    seconds = time.perf_counter() - started
    _check_all_new(report, len(articles))
    return seconds, embedder.take()[1]


def _check_all_new(report: IngestReport, expected: int) -> None:
    if len(report.new) != expected or report.failed:
        raise NewsRagError(f"expected {expected} new articles, the ingest says: {report.summary()}")


def _questions(count: int, held_out: bool = False) -> list[str]:
    """Single-turn questions of the bundled QA sets (the held-out set for warming up)."""
    items = [q for q in load_qa(QA_TEST_SET if held_out else QA_SET) if not q.history]
    if count > len(items):
        raise NewsRagError(f"the QA set has {len(items)} single-turn questions, {count} were asked for")
    return [q.question for q in items[:count]]


# --- the cached large indexes ------------------------------------------------------------------


def cache_stamp(settings: Settings) -> str:
    """What a cached index depends on: the synthesis, the embedder and chunking, and index/'s own code."""
    digest = hashlib.sha256(
        f"{CACHE_FORMAT}|{synthetic.VERSION}|{settings.embed_model}|{settings.chunk_size}|"
        f"{settings.chunk_overlap}".encode()
    )
    package = Path(str(files("newsrag.index")))
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def cached_index(
    settings: Settings,
    embedder: CountingEmbedding,
    archive: synthetic.SyntheticArchive,
    n: int,
    progress: Progress,
) -> tuple[Path, BuildFigures]:
    """The index of the archive's first n articles, built in batches the first time and kept."""
    root = settings.index_dir.parent / "bench"
    folder = root / f"n{n}-{cache_stamp(settings)}"
    marker = folder / "built.json"
    if marker.exists():
        build = BuildFigures(**json.loads(marker.read_text()))
        build.cached = True
        return folder / "index", build
    for stale in root.glob(f"n{n}-*"):  # built by other code or settings: it measures nothing now
        if stale != folder:
            shutil.rmtree(stale)
    target = settings.replace(index_dir=folder / "index")
    build = BuildFigures(n, 0, 0.0, 0.0, [])
    embedder.take()
    for batch in archive.batches(0, n, BUILD_BATCH):
        started = time.perf_counter()
        report = ingest_articles(target, batch, embedder)
        if report.unchanged:  # a build interrupted before: those batches are already in
            build.resumed = True
            embedder.take()
            continue
        _check_all_new(report, len(batch))
        build.batch_seconds.append(time.perf_counter() - started)
        build.encode_seconds += embedder.take()[1]
        build.chunks += report.chunks_written
        done = int(batch[-1].id.rsplit("-", 1)[1]) + 1
        progress(
            f"building the {n:,}-article index: {done:,} done, {build.chunks / sum(build.batch_seconds):.1f} chunks/s"
        )
    build.seconds = sum(build.batch_seconds)
    marker.write_text(json.dumps({k: v for k, v in asdict(build).items() if k != "cached"}))
    return folder / "index", build


def _directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# --- header and notes ----------------------------------------------------------------------------


def _header(
    settings: Settings,
    embedder: CountingEmbedding,
    archive: synthetic.SyntheticArchive,
    plan: Plan,
    quick: bool,
    load: tuple[float, float, float],
) -> dict[str, Any]:
    import faiss
    import llama_index.core
    import sentence_transformers
    import torch

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "llama-index-core": llama_index.core.__version__,
        "embedder": f"{settings.embed_model} ({embedder.dimension}-d, batch {settings.embed_batch_size})",
        "chunking": f"{settings.chunk_size or embedder.max_tokens} word pieces, overlap {settings.chunk_overlap}",
        "sample corpus": "bundled sample (seed + 250 CNN/DailyMail)"
        if plan.sample_articles is None
        else f"seed + first {plan.sample_articles} CNN/DailyMail articles of the bundled sample",
        "scale corpora": archive.describe(),
        "questions": f"{plan.questions} single-turn questions of data/eval/qa.jsonl, after {plan.warmup} "
        "warm-up questions of qa_test.jsonl; filtered: "
        f"source {FILTER.sources[0]!r}, {FILTER.date_from} to {FILTER.date_to}",
        "mode": "quick" if quick else "full",
        "peak RSS of the bench process": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
    }


def _notes(figures: list[ScaleFigures]) -> list[str]:
    """The projection to 100,000 articles when that size was not run, from the largest size that was built."""
    if not figures or max(f.scale for f in figures) >= 100_000:
        return []
    built = [f for f in figures if f.build.seconds > 0 and not f.build.resumed]
    if not built:
        return []
    largest = max(built, key=lambda f: f.scale)
    per_article = largest.build.seconds / largest.scale
    hours = per_article * 100_000 / 3600
    return [
        f"not run: 100,000 articles (`--scales 250,10000,100000`); building its index would take about "
        f"{hours:.1f} h here at the {1 / per_article:.1f} articles/s "
        f"({largest.build.chunks_per_s:.1f} chunks/s) measured building {largest.scale:,}, "
        "more as each batch's load and save grow with the index"
    ]
