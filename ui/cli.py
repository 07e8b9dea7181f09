"""The `newsrag` command: thin click wrappers over index/, rag/ and eval/."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from newsrag.data import SAMPLE_CORPUS
from newsrag.errors import NewsRagError
from newsrag.eval.registry import BASELINE_NAMES, SUITE_NAMES
from newsrag.settings import Settings


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass


class Context:
    """Settings and the lazily loaded embedder, shared by the commands of one invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Any = None

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from newsrag.index.embedder import SentenceTransformerEmbedding

            _quiet_libraries()
            self._embedder = SentenceTransformerEmbedding(
                self.settings.embed_model, self.settings.embed_batch_size
            )
        return self._embedder


class FriendlyGroup(click.Group):
    """Our own errors print as one line and exit 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsRagError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=FriendlyGroup)
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index directory (env NEWSRAG_INDEX_DIR).")
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file ([newsrag] table)."
)
@click.option("--embed-model", help="sentence-transformers model name or path (env NEWSRAG_EMBED_MODEL).")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def cli(
    ctx: click.Context, index_dir: Path | None, config: Path | None, embed_model: str | None, verbose: bool
) -> None:
    """NewsRAG: ask questions about news articles and get answers cited to their passages."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = Context(Settings.load(config=config, index_dir=index_dir, embed_model=embed_model))


@cli.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build a new index from these inputs only, replacing the old one when done.",
)
@click.option("--chunk-size", type=int, help="Chunk size in word pieces (default: what the embedder reads).")
@click.option("--chunk-overlap", type=int, help="Overlap between chunks in word pieces.")
@click.pass_obj
def ingest(
    obj: Context, paths: tuple[str, ...], rebuild: bool, chunk_size: int | None, chunk_overlap: int | None
) -> None:
    """Add files, folders (recursive) and RSS/Atom feeds (file or URL) to the index; default: the sample corpus."""
    from newsrag.index.ingest import ingest as run_ingest

    obj.settings = obj.settings.replace(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    inputs = list(paths) or [str(SAMPLE_CORPUS)]
    interactive = sys.stderr.isatty()
    from tqdm import tqdm

    # Reading and parsing (trafilatura on many pages) can be the long part: count articles as they come;
    # LlamaIndex's own bars then show chunking and embedding.
    with tqdm(desc="Reading articles", unit=" articles", disable=not interactive, leave=False) as bar:
        report = run_ingest(
            obj.settings,
            inputs,
            obj.embedder,
            rebuild=rebuild,
            show_progress=interactive,
            on_article=lambda n: bar.update(n - bar.n),
        )
    if report.warning:
        click.echo(f"warning: {report.warning}", err=True)
    for dup_input, kept in report.duplicates:
        click.echo(f"duplicate: {dup_input} (same text as {kept})", err=True)
    for failure in report.failed:
        click.echo(f"failed: {failure}", err=True)
    if not report.changed and not rebuild:
        click.echo("index unchanged")
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def remove(obj: Context, ids: tuple[str, ...]) -> None:
    """Delete articles by id."""
    from newsrag.index.ingest import remove as run_remove

    report = run_remove(obj.settings, list(ids))
    if report.warning:
        click.echo(f"warning: {report.warning}", err=True)
    for failure in report.failed:
        click.echo(f"failed: {failure}", err=True)
    click.echo(f"{len(report.removed)} removed in {report.seconds:.1f}s")
    if report.failed:
        sys.exit(1)


class Interval(click.ParamType):
    """'30s', '15m', '2h', '1d' or seconds."""

    name = "interval"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        from newsrag.index.watch import parse_interval

        if isinstance(value, float):
            return value
        try:
            return parse_interval(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@cli.group()
def feeds() -> None:
    """Feed subscriptions: `newsrag refresh` and `newsrag watch` keep the index current from them."""


@feeds.command(name="add")
@click.argument("url")
@click.option("--name", default="", help="A name to show for it (default: the host).")
@click.option("--keep-days", type=int, help="Remove its articles older than this many days at each refresh.")
@click.pass_obj
def feeds_add(obj: Context, url: str, name: str, keep_days: int | None) -> None:
    """Subscribe to an RSS/Atom feed URL; the CLI's subscriptions may be on this machine (127.0.0.1)."""
    from newsrag.index.subscriptions import Subscriptions

    added = Subscriptions(obj.settings.index_dir).add(url, name, keep_days, local_allowed=True)
    click.echo(f"subscribed to {added.url} as '{added.name}'; `newsrag refresh` fetches it")


@feeds.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def feeds_list(obj: Context, as_json: bool) -> None:
    """Subscriptions with their last fetch, its status and the articles they brought."""
    from newsrag.index.subscriptions import Subscriptions

    subs = Subscriptions(obj.settings.index_dir).all()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in subs], indent=1))
        return
    if not subs:
        click.echo("no subscriptions: `newsrag feeds add URL` adds one")
    for s in subs:
        keep = f", keeps {s.keep_days} days" if s.keep_days else ""
        click.echo(
            f"{s.url}\t{s.name}\tlast fetched {s.last_fetched or 'never'}\t{s.last_status}\t"
            f"{s.articles} articles{keep}"
        )


@feeds.command(name="remove")
@click.argument("url")
@click.pass_obj
def feeds_remove(obj: Context, url: str) -> None:
    """Unsubscribe; the articles it brought stay (`newsrag remove ID` deletes them)."""
    from newsrag.index.subscriptions import Subscriptions

    removed = Subscriptions(obj.settings.index_dir).remove(url)
    click.echo(f"unsubscribed from {removed.url}")


@cli.command()
@click.pass_obj
def refresh(obj: Context) -> None:
    """Fetch every subscription once and ingest what is new or changed; one line per feed, one overall."""
    from newsrag.index.refresh import refresh as run_refresh

    report = run_refresh(obj.settings, obj.embedder)
    for feed in report.feeds:
        click.echo(feed.line())
    click.echo(report.summary())
    if any(f.status == "failed" for f in report.feeds):
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--every", type=Interval(), default="15m", show_default=True, help="Time between rounds.")
@click.option("--rounds", type=int, help="Stop after this many rounds (default: until Ctrl-C).")
@click.pass_obj
def watch(obj: Context, paths: tuple[Path, ...], every: float, rounds: int | None) -> None:
    """Refresh the subscriptions every --every and ingest files that appear or change in PATHS."""
    import threading

    from newsrag.index.watch import Round, Watcher

    stop = threading.Event()
    done = 0

    def report(finished: Round) -> None:
        nonlocal done
        for line in finished.lines() or ["nothing to do"]:
            click.echo(line)
        done += 1
        if rounds is not None and done >= rounds:
            stop.set()

    click.echo(f"watching {len(paths)} path(s) and the subscriptions every {every:g} s (Ctrl-C to stop)")
    try:
        Watcher(obj.settings, obj.embedder, [str(p) for p in paths]).run(every, stop, report)
    except KeyboardInterrupt:
        stop.set()


def _catalog(settings: Settings) -> Any:
    """The index's articles and chunks; Milvus is not opened, so this works while `serve` holds a Lite file."""
    from newsrag.index.catalog import Catalog
    from newsrag.index.storage import load_snapshot
    from newsrag.index.vector_backend import VectorBackend

    with VectorBackend.from_settings(settings) as vectors:
        return Catalog(load_snapshot(settings.index_dir, vectors, offline=True))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def stats(obj: Context, as_json: bool) -> None:
    """Articles, chunks, sources, date range, embedder and size on disk."""
    figures = _catalog(obj.settings).stats()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(figures), indent=2))
        return
    click.echo(f"articles:  {figures.articles}")
    click.echo(f"chunks:    {figures.chunks}")
    click.echo("sources:   " + ", ".join(f"{k} ({v})" for k, v in figures.sources.items()))
    click.echo(f"dates:     {figures.first_date or '-'} .. {figures.last_date or '-'}")
    click.echo(f"embedder:  {figures.embed_model} ({figures.dimension}-d)")
    click.echo(f"on disk:   {figures.size_bytes / 1e6:.1f} MB in {obj.settings.index_dir}")
    click.echo(f"updated:   {figures.updated_at}")
    if figures.warning:
        click.echo(f"warning:   {figures.warning}")


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_articles(obj: Context, as_json: bool) -> None:
    """Articles with id, date, source and title, newest first."""
    articles = _catalog(obj.settings).articles()
    if as_json:
        rows = [
            {k: v for k, v in dataclasses.asdict(a).items() if k not in {"text", "metadata"}}
            for a in articles
        ]
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    for a in articles:
        click.echo(f"{a.id}\t{(a.published_at or '')[:10] or '-':10}\t{a.source or '-'}\t{a.title}")


def _engine(obj: Context, build_from: list[Path] | None = None) -> Any:
    """The ready engine; with `build_from`, a missing index is first built from those inputs."""
    from newsrag.rag.engine import NewsRAG

    def announce(inputs: Any) -> None:
        click.echo(f"No index in {obj.settings.index_dir} yet: indexing {', '.join(inputs)} ...")

    engine = NewsRAG.open(
        obj.settings,
        obj.embedder,
        build_from=build_from or (),
        on_build=announce,
        show_progress=sys.stderr.isatty(),
    )
    if engine.built is not None:
        click.echo(engine.built.summary())
    return engine


answerer_option = click.option(
    "--answerer",
    metavar="NAME",
    help="Who writes the answer: a registered answerer (see `newsrag answerers`; env NEWSRAG_ANSWERER).",
)
llm_option = click.option(
    "--llm",
    type=click.Choice(["none", "llama-cpp", "openai"]),
    help="Write answers with an LLM, every sentence checked against its source (env NEWSRAG_LLM; "
    "openai: set llm_base_url / NEWSRAG_LLM_BASE_URL).",
)


def _choose(obj: Context, answerer: str | None, llm: str | None) -> None:
    """--llm X (X not none) means the llm answerer, unless --answerer names another."""
    obj.settings = obj.settings.replace(llm=llm)
    if llm and llm != "none" and not answerer:
        answerer = "llm"
    if llm == "none" and not answerer and obj.settings.answerer == "llm":
        answerer = "extractive"
    obj.settings = obj.settings.replace(answerer=answerer)


def _filters(source: tuple[str, ...], date_from: str | None, date_to: str | None) -> Any:
    from newsrag.rag.filters import Filters

    return Filters(sources=tuple(source), date_from=date_from, date_to=date_to)


def _print_citations(citations: list[Any]) -> None:
    for c in citations:
        meta = ", ".join(x for x in (c.source, (c.published_at or "")[:10]) if x)
        click.echo(f"[{c.n}] {c.title} ({meta or 'no date'})  id={c.article_id}  chars {c.start}-{c.end}")
        if c.url:
            click.echo(f"    {c.url}")


filter_options = [
    click.option("--source", multiple=True, help="Only articles from this publisher (repeatable)."),
    click.option("--from", "date_from", help="Only articles published on or after this ISO date."),
    click.option("--to", "date_to", help="Only articles published on or before this ISO date."),
]


def with_filters(fn: Any) -> Any:
    for option in reversed(filter_options):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("question")
@click.option(
    "--history", multiple=True, help="An earlier user question of the conversation (repeat, oldest first)."
)
@click.option("--top-k", type=int, help="Passages to draw the answer from.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@answerer_option
@llm_option
@with_filters
@click.pass_obj
def ask(
    obj: Context,
    question: str,
    history: tuple[str, ...],
    top_k: int | None,
    as_json: bool,
    answerer: str | None,
    llm: str | None,
    **filters: Any,
) -> None:
    """Answer a question from the indexed articles, every sentence cited (and checked, with --llm)."""
    from newsrag.rag.types import Answer

    _choose(obj, answerer, llm)
    parts = _engine(obj).ask_stream(question, list(history), _filters(**filters), top_k)
    answer: Answer | None = None
    streamed = False
    for part in parts:
        if isinstance(part, Answer):
            answer = part
        elif not as_json and sys.stderr.isatty():  # tokens as they come; the checked answer follows
            click.echo(part, nl=False, err=True)
            streamed = True
    assert answer is not None
    if streamed:
        click.echo("\n", err=True)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    if answer.notice:
        click.echo(f"note: {answer.notice}", err=True)
    if answer.mode == "extractive" or answer.refused:
        click.echo(answer.text)
    else:
        from newsrag.ui.render import ATTRIBUTED_NOTE

        for sentence in answer.sentences:
            mark = "" if sentence.supported else "  [unsupported: " + "; ".join(sentence.problems) + "]"
            if sentence.attributed:
                mark = f"  [{ATTRIBUTED_NOTE}]"
            click.echo(sentence.text + mark)
    if answer.citations:
        click.echo()
        _print_citations(answer.citations)


@cli.command()
@click.argument("article_id", required=False)
@click.option("--topic", help="Summarise what the articles say about a topic instead of one article.")
@click.option("--sentences", type=int, help="Sentences in a single-article summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@llm_option
@with_filters
@click.pass_obj
def summarize(
    obj: Context,
    article_id: str | None,
    topic: str | None,
    sentences: int | None,
    as_json: bool,
    llm: str | None,
    **filters: Any,
) -> None:
    """Summarise one article (by id) or a topic across articles, with citations (written and checked, with --llm)."""
    if bool(article_id) == bool(topic):
        raise click.UsageError("give either an ARTICLE_ID or --topic")
    obj.settings = obj.settings.replace(llm=llm)
    engine = _engine(obj)
    if topic:
        summary = engine.summarize_topic(topic, _filters(**filters))
    else:
        summary = engine.summarize_article(article_id, sentences)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    if summary.notice:
        click.echo(f"note: {summary.notice}", err=True)
    click.echo(summary.text)
    unsupported = [s for s in summary.sentences if s.supported is False]
    for sentence in unsupported:
        click.echo(f"unsupported: {sentence.text} ({'; '.join(sentence.problems)})", err=True)
    click.echo()
    _print_citations(summary.citations)


def is_loopback(host: str) -> bool:
    """Whether only this machine can connect to `host`: 127.0.0.0/8, ::1 or localhost (other names may resolve anywhere)."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure(host: str, share: bool) -> str | None:
    """How serving so reaches beyond this machine, as the refusal says it; None when it does not."""
    if share:
        return "--share opens a public gradio.live link to it"
    if not is_loopback(host):
        return f"--host {host!r} lets other machines connect to it"
    return None


class Refused(click.ClickException):
    """A command line refused as given: one line, and exit status 2 like click's usage errors."""

    exit_code = 2


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes it).")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to serve on.")
@click.option("--share", is_flag=True, help="Also open a public gradio.live link (off unless asked).")
@click.option(
    "--auth",
    envvar="NEWSRAG_AUTH",
    metavar="USER:PASSWORD",
    help="Ask for this user name and password; prefer env NEWSRAG_AUTH, which `ps` does not show.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve another host than loopback, or --share, without a password: anyone who reaches it may use it.",
)
@click.option(
    "--refresh-every",
    type=Interval(),
    help="Refresh the feed subscriptions this often while serving (e.g. 15m); the chat answers from them at once.",
)
@answerer_option
@llm_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    share: bool,
    auth: str | None,
    no_auth: bool,
    refresh_every: float | None,
    answerer: str | None,
    llm: str | None,
) -> None:
    """Open the chat in the browser at http://HOST:PORT; a missing index is first built from the sample corpus.

    Beyond this machine (a host other than 127.0.0.0/8, ::1 or localhost, or --share) the chat
    lets anyone read and add articles, so it needs --auth (or NEWSRAG_AUTH), or --no-auth to mean it.
    """
    obj: Context = ctx.obj
    from_env = ctx.get_parameter_source("auth") is click.core.ParameterSource.ENVIRONMENT
    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not (sep and user and password):
            raise click.BadParameter(
                "expected USER:PASSWORD", param_hint="NEWSRAG_AUTH" if from_env else "--auth"
            )
        credentials = (user, password)
        if no_auth:
            given = "NEWSRAG_AUTH" if from_env else "--auth"
            raise Refused(f"--no-auth asks for no password but {given} sets one; drop one of them")
    reach = exposure(host, share)
    if reach and not credentials and not no_auth:
        raise Refused(
            f"refusing to serve without a password: {reach}, and anyone who reaches it can read and add "
            "articles; set NEWSRAG_AUTH=USER:PASSWORD (or give --auth), or --no-auth to mean it"
        )
    if credentials and not from_env:
        click.echo(
            "Warning: a password given with --auth shows in `ps` to every user of this machine; "
            "set NEWSRAG_AUTH=USER:PASSWORD instead.",
            err=True,
        )
    if reach and no_auth:
        click.echo(f"Warning: serving without a password: {reach}.", err=True)
    _choose(obj, answerer, llm)
    engine = _engine(obj, build_from=[SAMPLE_CORPUS])
    engine.answerer()  # an unknown --answerer fails here, before the server starts
    from newsrag.ui.app import serve as launch

    try:
        demo, url = launch(
            engine,
            obj.settings,
            host=host,
            port=port,
            share=share,
            auth=credentials,
            block=False,
        )
    except OSError as exc:
        taken = "empty port" in str(exc)
        reason = f"port {port} is in use" if taken else str(exc)
        raise click.ClickException(f"cannot serve on {host}:{port}: {reason}; pick another --port") from exc
    click.echo(f"NewsRAG is ready at {url} (Ctrl-C to stop)")
    if refresh_every:
        import threading

        from newsrag.index.watch import Watcher

        refresher = Watcher(obj.settings, obj.embedder)
        stop = threading.Event()
        threading.Thread(
            target=refresher.run, args=(refresh_every, stop), daemon=True, name="refresh"
        ).start()
        click.echo(f"refreshing the subscriptions every {refresh_every:g} s")
    demo.block_thread()


@cli.command()
def answerers() -> None:
    """List the answerers `--answerer` can name: built in, registered, or installed by plugins."""
    from newsrag.rag.answerers import answerer_names

    for name in answerer_names():
        click.echo(name)


@cli.command(name="eval")
@click.option("--quick", is_flag=True, help="A deterministic subset, fast enough for CI.")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Your own data set folder (same formats) or MultiHop-RAG.",
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(SUITE_NAMES),
    help="Run only these suites (repeatable; default: every suite the data allows).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Choice([*BASELINE_NAMES, "none"]),
    help="Measure beside these baselines (repeatable; default: all of them; 'none': no baseline).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default: eval-reports/<time>).",
)
@click.option(
    "--qa-set",
    "qa_sets",
    multiple=True,
    type=click.Choice(["dev", "test"]),
    help="Answer only these QA sets (repeatable; default both): the LLM row takes seconds a question.",
)
@llm_option
@click.pass_obj
def evaluate(
    obj: Context,
    quick: bool,
    dataset: Path | None,
    suites: tuple[str, ...],
    baselines: tuple[str, ...],
    out: Path | None,
    qa_sets: tuple[str, ...],
    llm: str | None,
) -> None:
    """Measure retrieval, answers, citations, summaries, faithfulness and latency next to baselines."""
    from datetime import datetime

    from newsrag.eval.runner import run_eval

    obj.settings = obj.settings.replace(llm=llm)  # with an LLM the qa suite adds its checked row

    out = out or Path("eval-reports") / datetime.now().strftime("%Y%m%d-%H%M%S")
    run = run_eval(
        obj.settings,
        obj.embedder,
        out,
        quick=quick,
        dataset=dataset,
        suites=suites or SUITE_NAMES,
        baselines=() if "none" in baselines else baselines or BASELINE_NAMES,
        qa_sets=qa_sets or ("dev", "test"),
    )
    click.echo(run.summary)
    click.echo(f"\nreport: {run.report} ({run.seconds:.0f} s)")


def _scales(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        sizes = tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"{value!r}: expected corpus sizes like 250,10000,100000")
    return sizes


@cli.command()
@click.option(
    "--scales",
    callback=_scales,
    help="Corpus sizes in articles, comma-separated (default 250,10000; --quick: 30).",
)
@click.option("--quick", is_flag=True, help="Tiny sizes and few questions: a smoke run of the benchmark.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default: eval-reports/bench-<time>).",
)
@click.pass_obj
def bench(obj: Context, scales: tuple[int, ...] | None, quick: bool, out: Path | None) -> None:
    """Measure ingest throughput, incremental adds, query latency, start-up, memory and disk per corpus size."""
    from datetime import datetime

    from newsrag.eval.bench import DEFAULT_SCALES, QUICK_SCALES, run_bench

    _quiet_libraries()
    out = out or Path("eval-reports") / datetime.now().strftime("bench-%Y%m%d-%H%M%S")
    run = run_bench(
        obj.settings,
        out,
        scales=scales or (QUICK_SCALES if quick else DEFAULT_SCALES),
        quick=quick,
        progress=lambda line: click.echo(line, err=True),
    )
    click.echo(run.markdown)
    click.echo(f"report: {run.report} and bench.json ({run.seconds:.0f} s)")


def main() -> None:
    cli(prog_name="newsrag")


if __name__ == "__main__":
    main()
