"""The Gradio app: a chat over the index with source cards, a corpus browser and a tab to add articles and feeds.

Presentation only: answers, summaries and ingests come from rag/ and index/; ui/render.py
turns them into escaped HTML and markdown. Run it with `newsrag serve`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

import gradio as gr

from newsrag.errors import NewsRagError
from newsrag.index.ingest import ingest, remove
from newsrag.index.loaders import SUPPORTED_SUFFIXES
from newsrag.index.refresh import RefreshReport, refresh
from newsrag.index.subscriptions import SubscriptionError, Subscriptions
from newsrag.rag.engine import NewsRAG
from newsrag.rag.filters import Filters
from newsrag.rag.types import Answer
from newsrag.settings import Settings
from newsrag.ui import render
from newsrag.ui.limits import (
    MAX_HISTORY,
    MAX_QUESTION_CHARS,
    MAX_REQUEST_KB,
    MAX_SUBMISSION_MB,
    MAX_TOP_K,
    MAX_UPLOAD_FILES,
    MAX_UPLOAD_MB,
    MAX_URL_CHARS,
    QUEUE_SIZE,
    UPLOAD_CACHE_SECONDS,
    RequestCaps,
)

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many immigration officers is the government pulling out of Minneapolis?",
    "Who took pole position for the Chinese Grand Prix?",
    "What did B.B. King's doctors say about his health?",
]
ACCEPTED_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))  # what the loaders read, as `newsrag ingest` accepts
CHAT_CONCURRENCY = 4
STREAM_PAUSE = 0.04  # seconds between streamed sentences, enough for the eye to follow
PRIVATE: dict[str, Any] = {"api_visibility": "private"}  # every event but /ask serves only the page...
# ...but these, which scripts (and the tests) may call by name with gradio_client. They stay off the
# API page; they are no easier to reach than a private event, which the page itself calls by index.
SCRIPTED: dict[str, Any] = {"api_visibility": "undocumented"}
MODE_INFO = (
    "Extractive quotes the articles; LLM writes an answer from them and checks each sentence against "
    "the passage it cites, marking one that fails. Other answerers appear here once installed."
)
MODE_INFO_NO_LLM = (
    "Extractive quotes the articles. For LLM answers start the app with --llm llama-cpp (or openai); "
    "other answerers appear here once installed."
)
NO_ARTICLE = '<div class="nr-empty">Click an article in the list to read it with its summary.</div>'

INTRO = (
    "Ask about the news in the index. Every sentence of an answer is quoted from an article and cited "
    "**[n]** to the source card beside the chat, its sentence highlighted. Follow-ups such as "
    "*\u201cWhat did the mayor say about it?\u201d* use your earlier questions."
)

CSS = """
.nr-sources { display: flex; flex-direction: column; gap: 10px; }
.nr-question { font-size: 0.85em; color: var(--body-text-color-subdued); }
.nr-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-secondary); }
.nr-card-head { font-weight: 600; line-height: 1.35; }
.nr-n { color: var(--color-accent); margin-right: 2px; }
.nr-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 6px; }
.nr-meta a { color: var(--link-text-color); }
.nr-passage { font-size: 0.9em; line-height: 1.5; max-height: 15em; overflow-y: auto; }
.nr-passage mark, .nr-summary mark, .nr-article mark { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 3px; }
.nr-refusal-head { background: #fff7ed; border: 1px solid #fdba74; color: #9a3412; padding: 8px 10px;
  border-radius: 8px; font-weight: 600; }
.nr-closest { border-style: dashed; }
.nr-empty { color: var(--body-text-color-subdued); font-style: italic; padding: 8px 2px; }
/* In a reply only a sentence its sources do not support is in italics (render.sentence_markdown). */
#nr-chat em { text-decoration: underline wavy #f97316; text-underline-offset: 3px; }
#nr-chat blockquote { border-left: 4px solid #f97316; background: #fff7ed; color: #9a3412;
  padding: 6px 10px; margin: 0; }
.nr-article h2 { margin: 0 0 4px; font-size: 1.25em; }
.nr-article-text p, .nr-summary-text p { margin: 0 0 0.6em; line-height: 1.55; }
.nr-summary { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin-bottom: 12px; background: var(--background-fill-secondary); }
.nr-summary h3 { margin: 0 0 4px; }
.nr-summary .nr-card { margin-top: 6px; background: var(--background-fill-primary); }
.nr-id { margin-top: 10px; }
"""

# System fonts only: the app makes no request outside the machine it runs on.
THEME = gr.themes.Soft(
    primary_hue="blue",
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
)


def message_text(content: Any) -> str:
    """The text of a chat message, whether Gradio hands it over as a string or as content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list | tuple):
        return " ".join(message_text(c) for c in content).strip()
    return ""


def user_questions(history: list[dict[str, Any]]) -> list[str]:
    """Earlier user messages of a chat, oldest first: what `NewsRAG.ask` takes as `history`."""
    return [t for m in history if m.get("role") == "user" if (t := message_text(m.get("content")).strip())]


def make_filters(sources: list[str] | None, date_from: str | None, date_to: str | None) -> Filters:
    """The chat's and browser's filter inputs as Filters; ValueError names an unreadable date."""
    return Filters(
        sources=tuple(sources or ()),
        date_from=render.normalize_date(date_from),
        date_to=render.normalize_date(date_to, end=True),
    )


def notice(text: str) -> str:
    """A problem with the user's input, shown in place of an answer (it is not one)."""
    return f"> {render.REFUSAL_MARK} {render.md_text(text)}"


def shown_error(message: object) -> gr.Error:
    """A gr.Error for the page: Gradio renders its message as HTML, so the text is escaped."""
    return gr.Error(render.esc(message))


def question_of(text: str, what: str = "question") -> str:
    """The question (or topic) stripped; NewsRagError when it is longer than one request may ask about."""
    text = message_text(text).strip()
    if len(text) > MAX_QUESTION_CHARS:
        raise NewsRagError(f"the {what} is {len(text):,} characters long; keep it to {MAX_QUESTION_CHARS:,}")
    return text


def earlier_questions(history: list[str]) -> list[str]:
    """The last MAX_HISTORY earlier questions, each cut to MAX_QUESTION_CHARS: all a follow-up reads."""
    return [str(h)[:MAX_QUESTION_CHARS] for h in history[-MAX_HISTORY:]]


def stage_uploads(files: list[str], folder: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """Copy accepted uploads under generated names; return their paths, path-to-upload-name map and rejections.

    One submission adds at most MAX_UPLOAD_FILES files of MAX_UPLOAD_MB each and MAX_SUBMISSION_MB
    in all; every file left out is named in the rejections with the limit it met.
    """
    paths: list[str] = []
    names: dict[str, str] = {}
    rejected: list[str] = []
    total = 0
    for n, upload in enumerate(files or [], 1):
        name = Path(upload).name
        suffix = Path(name).suffix.lower()
        if n > MAX_UPLOAD_FILES:
            rejected.append(
                f"{name}: one submission adds at most {MAX_UPLOAD_FILES} files; add it in another"
            )
            continue
        if suffix not in ACCEPTED_SUFFIXES:
            rejected.append(
                f"{name}: file type '{suffix or '(none)'}' not accepted (accepted: {' '.join(ACCEPTED_SUFFIXES)})"
            )
            continue
        size = Path(upload).stat().st_size
        if size > MAX_UPLOAD_MB * 1024 * 1024:
            rejected.append(f"{name}: {size / 1e6:.1f} MB is over the {MAX_UPLOAD_MB} MB limit")
            continue
        if total + size > MAX_SUBMISSION_MB * 1024 * 1024:
            rejected.append(
                f"{name}: {size / 1e6:.1f} MB would take this submission over {MAX_SUBMISSION_MB} MB "
                "in all; add it in another"
            )
            continue
        total += size
        # The stem only seeds a title for untitled text files; it never becomes part of a path as given.
        stem = "".join(ch if ch.isalnum() else "-" for ch in Path(name).stem.lower()).strip("-")[:60]
        target = folder / f"{n:03d}" / f"{stem or 'article'}{suffix}"
        target.parent.mkdir()
        shutil.copyfile(upload, target)
        paths.append(str(target))
        names[str(target)] = name
    return paths, names, rejected


def feed_url(url: str | None) -> str | None:
    """The feed URL stripped, None when empty; gr.Error when too long or not http(s)."""
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > MAX_URL_CHARS:
        raise shown_error(f"the feed URL is {len(url):,} characters long; at most {MAX_URL_CHARS:,} are read")
    if not render.safe_url(url):
        raise shown_error(f"'{url}' is not an http(s) feed URL")
    return url


class NewsApp:
    """The event handlers of one app; per-user state lives in the Gradio session, not here."""

    def __init__(self, engine: NewsRAG, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.ingest_lock = threading.Lock()

    @property
    def modes(self) -> list[str]:
        """The answerers to choose from; a configured one that is unknown stays listed, so the chat can say so.

        "llm" is left out without an `llm` setting, which it cannot work without.
        """
        names = [n for n in self.engine.answerer_names() if n != "llm" or self.settings.llm != "none"]
        return names if self.settings.answerer in names else [*names, self.settings.answerer]

    def mode_label(self, name: str) -> str:
        """What the mode control shows for answerer `name`: the LLM's with its backend."""
        return f"LLM ({self.settings.llm}), checked" if name == "llm" else name

    def sources(self) -> list[str]:
        return sorted({a.source for a in self.engine.catalog.articles() if a.source})

    # --- chat ------------------------------------------------------------------

    def chat(
        self,
        message: str,
        history: list[dict[str, Any]],
        sources: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        top_k: float | None = None,
        mode: str | None = None,
    ) -> Iterator[tuple[str, str]]:
        """Answer one chat message, streaming the reply; the side panel gets its sources.

        An LLM's text grows in the chat as it is written, then gives way to the checked answer;
        quotes come sentence by sentence.
        """
        written = ""
        try:
            question = question_of(message)
            if not question:
                yield "Type a question about the articles.", render.EMPTY_SOURCES
                return
            filters = make_filters(sources, date_from, date_to)
            for part in self.engine.ask_stream(
                question,
                earlier_questions(user_questions(history or [])),
                filters if filters.active else None,
                max(1, min(MAX_TOP_K, int(top_k))) if top_k else None,
                answerer=mode or None,
            ):
                if isinstance(part, Answer):
                    answer = part
                    break
                # The old sources would pass for this answer's: the panel says they are coming.
                yield render.writing_markdown(written + part), (gr.skip() if written else render.CHECKING)
                written += part
            else:
                raise NewsRagError(f"answerer '{mode or self.settings.answerer}' gave no answer")
        except (ValueError, NewsRagError) as exc:
            # Said in the chat: an exception here would leave the chat blank and its textbox locked.
            yield (
                notice(f"{exc} (see Answer settings)" if isinstance(exc, ValueError) else str(exc)),
                render.EMPTY_SOURCES if written else gr.skip(),
            )
            return
        panel = render.sources_html(answer)
        if written:  # the reader watched it being written: the checked answer replaces it at once
            yield render.answer_markdown(answer), panel
            return
        for i, partial in enumerate(render.answer_stream(answer)):
            if i:
                time.sleep(STREAM_PAUSE)
            yield partial, panel

    def ask(self, question: str, history: list[str] | None = None) -> dict[str, Any]:
        """Answer `question` as `newsrag ask --json` does and return that JSON object (Answer.to_dict()).

        `history` is the list of the conversation's earlier user questions, oldest first, e.g.
        ["How many immigration officers is the government pulling out of Minneapolis?"]; leave it
        empty for a first question. (A single string is read as one earlier question per line.)
        """
        earlier = history.splitlines() if isinstance(history, str) else list(history or [])
        try:
            question = question_of(question or "")
            if not question:
                raise gr.Error("question is empty")
            return self.engine.ask(question, earlier_questions(earlier)).to_dict()
        except NewsRagError as exc:  # for API clients, so not HTML-escaped
            raise gr.Error(str(exc)) from exc

    # --- browse ----------------------------------------------------------------

    def corpus(self) -> str:
        return render.corpus_line(self.engine.catalog.stats())

    def article_table(
        self, query: str = "", sources: list[str] | None = None, date_from: str = "", date_to: str = ""
    ) -> list[list[str]]:
        try:
            filters = make_filters(sources, date_from, date_to)
        except ValueError as exc:
            gr.Warning(render.esc(exc))
            filters = Filters(sources=tuple(sources or ()))
        return render.browse_rows(render.filter_articles(self.engine.catalog.articles(), query, filters))

    def open_article(self, evt: gr.SelectData) -> str:
        article = render.article_of_row(self.engine.catalog.articles(), evt.row_value or [])
        if article is None:
            return '<div class="nr-empty">That article is no longer in the index; search again.</div>'
        try:
            summary = self.engine.summarize_article(article.id)
        except NewsRagError as exc:
            raise shown_error(exc) from exc
        return render.summary_html(summary, "Summary", cards=False) + render.article_html(
            article, summary.citations
        )

    def topic_summary(self, topic: str, sources: list[str] | None, date_from: str, date_to: str) -> str:
        if not (topic or "").strip():
            return '<div class="nr-empty">Type a topic first, e.g. \u201cimmigration\u201d.</div>'
        try:
            topic = question_of(topic, "topic")
            filters = make_filters(sources, date_from, date_to)
            summary = self.engine.summarize_topic(topic, filters if filters.active else None)
        except (ValueError, NewsRagError) as exc:
            return f'<div class="nr-empty">{render.esc(exc)}</div>'
        if not summary.citations:
            return (
                f'<div class="nr-empty">The articles say nothing about \u201c{render.esc(topic)}\u201d.</div>'
            )
        return render.summary_html(summary, f"What the articles say about \u201c{topic}\u201d")

    def select_article(self, evt: gr.SelectData) -> tuple[str, dict[str, Any], str]:
        """The id of the article a click opened, which "Remove article" removes; clears a stale confirmation."""
        article = render.article_of_row(self.engine.catalog.articles(), evt.row_value or [])
        return (article.id if article else ""), gr.update(visible=False), ""

    def confirm_removal(self, article_id: str) -> tuple[dict[str, Any], str]:
        """The confirmation step before a removal, naming the article by title and id."""
        catalog = self.engine.catalog
        if not article_id or not catalog.has_article(article_id):
            gr.Warning("Click an article in the list first: that is the one removed.")
            return gr.update(visible=False), ""
        article = catalog.article(article_id)
        return gr.update(visible=True), (
            f"Really remove \u201c{render.md_text(article.title)}\u201d (id {render.md_text(article.id)}) "
            "from the index? It can only come back by adding it again."
        )

    def remove_article(
        self, article_id: str
    ) -> tuple[str, str, str, str, list[list[str]], dict[str, Any], dict[str, Any]]:
        """Remove one article by id and reload the engine, so no answer cites it; new values for the views.

        Returns the result line, the emptied article view and selection, then the IndexViews in order.
        """
        article_id = (article_id or "").strip()
        catalog = self.engine.catalog
        if not article_id:
            raise shown_error("choose the article to remove: click it in the list")
        title = catalog.article(article_id).title if catalog.has_article(article_id) else None
        with self.ingest_lock:
            try:
                report = remove(self.settings, [article_id])
                if report.removed:
                    self.engine.reload()
            except NewsRagError as exc:
                raise shown_error(exc) from exc
        if report.removed:
            message = f"**Removed** \u201c{render.md_text(title or article_id)}\u201d from the index."
        else:
            shown = article_id if len(article_id) <= 200 else article_id[:200] + "\u2026"
            message = (
                f"{render.REFUSAL_MARK} **Nothing removed:** no article with id \u201c{render.md_text(shown)}\u201d "
                "is in the index (removed already?)."
            )
        return message, NO_ARTICLE, "", *self.refreshed()

    # --- add articles ----------------------------------------------------------

    def add_articles(self, files: list[str] | None, url: str | None, progress: Any = None) -> str:
        """Index uploaded files and/or a feed URL, then reload the engine so they are answerable at once."""
        progress = progress or (lambda *args, **kwargs: None)
        feed = feed_url(url)
        with tempfile.TemporaryDirectory(prefix="newsrag-upload-") as tmp:
            paths, names, rejected = stage_uploads(files or [], Path(tmp))
            inputs = paths + ([feed] if feed else [])
            if not inputs:
                return render.ingest_markdown(None, names, {}, rejected)
            progress(0, desc="Waiting for the index")
            with self.ingest_lock:
                try:
                    report = ingest(
                        self.settings,
                        inputs,
                        self.engine.embedder,
                        on_article=lambda n: progress(
                            (n, None), desc="Reading and indexing", unit="articles"
                        ),
                    )
                    progress(1.0, desc="Loading the new index")
                    if report.changed:
                        self.engine.reload()
                except NewsRagError as exc:
                    raise shown_error(exc) from exc
        titles = {a.id: a.title for a in self.engine.catalog.articles()}
        return render.ingest_markdown(report, names, titles, rejected)

    def refreshed(self) -> tuple[str, list[list[str]], dict[str, Any], dict[str, Any]]:
        """New values for the IndexViews, in their order: what an ingest changes."""
        choices = self.sources()
        return self.corpus(), self.article_table(), gr.update(choices=choices), gr.update(choices=choices)

    # --- subscriptions ---------------------------------------------------------

    def subscription_table(self) -> list[list[str]]:
        try:
            return render.subscription_rows(Subscriptions(self.settings.index_dir).all())
        except NewsRagError as exc:  # an unreadable subscriptions.json: said, and the page still works
            log.warning("%s", exc)
            gr.Warning(render.esc(exc))
            return []

    def subscribe(self, url: str | None, name: str | None = "", progress: Any = None) -> str:
        """Subscribe to a feed URL typed into the page and fetch it at once; one that cannot be fetched is not kept.

        The URL may reach this machine or its network only while the operator allows local feeds.
        """
        progress = progress or (lambda *args, **kwargs: None)
        feed = feed_url(url)
        if feed is None:
            raise shown_error("give the URL of an RSS or Atom feed to subscribe to")
        book = Subscriptions(self.settings.index_dir)
        progress(0, desc="Waiting for the index")
        with self.ingest_lock:
            try:
                # Never local_allowed: that marks the operator's own (CLI) subscriptions, which stay
                # local when allow_local_feeds is turned off; a typed URL follows the setting at each fetch.
                added = book.add(feed, " ".join((name or "").split()), local_allowed=False)
            except NewsRagError as exc:
                raise shown_error(exc) from exc
            progress(0.2, desc="Fetching the feed")
            try:
                report = self.refresh_index()
            except NewsRagError as exc:
                raise shown_error(
                    f"subscribed to {added.url}, but the refresh failed: {exc}; Refresh now tries again"
                ) from exc
            result = next((f for f in report.feeds if f.subscription.url == added.url), None)
            if result is None:
                raise shown_error(f"{added.url} was unsubscribed while it was being fetched")
            if result.status in ("failed", "waiting"):
                # Nothing of it landed: a web user's feed that cannot be fetched is not kept to be retried.
                with contextlib.suppress(SubscriptionError):  # unsubscribed meanwhile: as wanted
                    book.remove(added.url)
        return render.subscribed_markdown(result)

    def refresh_feeds(self, progress: Any = None) -> str:
        """Fetch every due subscription once (what `newsrag refresh` does) and say what each did."""
        progress = progress or (lambda *args, **kwargs: None)
        progress(0, desc="Waiting for the index")
        with self.ingest_lock:
            progress(0.1, desc="Fetching the feeds")
            try:
                report = self.refresh_index()
            except NewsRagError as exc:
                raise shown_error(exc) from exc
        return render.refresh_markdown(report)

    def refresh_index(self) -> RefreshReport:
        """Refresh the subscriptions and reload the engine when articles came or went; hold ingest_lock."""
        report = refresh(self.settings, self.engine.embedder)
        if report.changed:
            self.engine.reload()
        return report


# --- the page: one function per tab, then the events between them -------------


class IndexViews(NamedTuple):
    """The components that show what is in the index, refreshed after an ingest or removal and on each page load."""

    corpus: gr.Markdown
    articles: gr.Dataframe
    chat_sources: gr.Dropdown
    browse_sources: gr.Dropdown


def header(app: NewsApp) -> gr.Markdown:
    """The title and the corpus line, which every ingest updates."""
    with gr.Row(equal_height=True):
        gr.Markdown("# NewsRAG", elem_id="nr-title")
        return gr.Markdown(app.corpus(), elem_id="nr-corpus", latex_delimiters=[])


def answer_settings(app: NewsApp) -> list[str | gr.components.Component]:
    """The chat's extra inputs, in `NewsApp.chat`'s order: publishers, dates, top-k, answerer by name."""
    return [
        gr.Dropdown(
            app.sources(), value=[], multiselect=True, label="Publishers (all when empty)", render=False
        ),
        gr.Textbox(label="From date", placeholder="YYYY-MM-DD", render=False),
        gr.Textbox(label="To date", placeholder="YYYY-MM-DD", render=False),
        gr.Slider(1, 20, value=app.settings.top_k, step=1, label="Passages to draw on (top-k)", render=False),
        gr.Dropdown(
            [(app.mode_label(name), name) for name in app.modes],
            value=app.settings.answerer,
            label="Answer mode",
            info=MODE_INFO if app.settings.llm != "none" else MODE_INFO_NO_LLM,
            render=False,
        ),
    ]


def ask_tab(app: NewsApp, examples: list[str]) -> gr.Dropdown:
    """The chat with its answer settings and the source panel beside it; returns the publisher filter."""
    inputs = answer_settings(app)
    with gr.Tab("Ask", id="ask"):
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=3, min_width=420):
                panel = gr.HTML(render.EMPTY_SOURCES, elem_id="nr-sources", render=False, js_on_load=None)
                chatbot = gr.Chatbot(
                    elem_id="nr-chat",
                    height=520,
                    label="Chat",
                    show_label=False,
                    sanitize_html=True,
                    allow_tags=False,
                    render_markdown=True,
                    latex_delimiters=[],
                    feedback_options=None,
                    placeholder="**Ask a question about the news**, or pick one of these:",
                )
                chat = gr.ChatInterface(
                    app.chat,
                    chatbot=chatbot,
                    textbox=gr.Textbox(
                        placeholder="Ask about the articles\u2026",
                        submit_btn=True,
                        stop_btn=True,
                        autofocus=True,
                        elem_id="nr-question",
                    ),
                    additional_inputs=inputs,
                    additional_inputs_accordion=gr.Accordion(
                        "Answer settings: publishers, dates, passages, mode", open=False, render=False
                    ),
                    additional_outputs=[panel],
                    examples=[[q] for q in examples] or None,
                    fill_height=False,
                    analytics_enabled=False,
                    api_name="chat",
                    api_visibility="private",
                    concurrency_limit=CHAT_CONCURRENCY,
                )
                clear = gr.Button("Clear conversation", size="sm", variant="secondary")
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("### Sources")
                panel.render()

    def reset() -> tuple[list, list, str]:
        return [], [], render.EMPTY_SOURCES

    clear.click(reset, None, [chat.chatbot, chat.chatbot_state, panel], queue=False, **PRIVATE)
    chatbot.clear(lambda: render.EMPTY_SOURCES, None, panel, queue=False, **PRIVATE)
    return cast(gr.Dropdown, inputs[0])  # the publisher filter, which an ingest updates


def browse_tab(app: NewsApp, corpus: gr.Markdown, chat_sources: gr.Dropdown) -> IndexViews:
    """Search, read, summarise and remove articles; returns the IndexViews, its own and those given."""
    with gr.Tab("Browse articles", id="browse"):
        with gr.Row():
            query = gr.Textbox(label="Search titles", placeholder="words in the title", scale=3)
            sources = gr.Dropdown(app.sources(), value=[], multiselect=True, label="Publishers", scale=2)
            date_from = gr.Textbox(label="From date", placeholder="YYYY-MM-DD", scale=1)
            date_to = gr.Textbox(label="To date", placeholder="YYYY-MM-DD", scale=1)
        with gr.Row():
            topic = gr.Textbox(
                label="Summarise a topic across the articles (uses the publisher and date filters)",
                placeholder="e.g. immigration",
                scale=4,
            )
            topic_btn = gr.Button("Summarise topic", scale=1)
        topic_view = gr.HTML("", js_on_load=None, elem_id="nr-topic")
        with gr.Row():
            with gr.Column(scale=3):
                table = gr.Dataframe(
                    app.article_table(),
                    headers=render.ARTICLE_COLUMNS,
                    datatype="str",
                    interactive=False,
                    wrap=True,
                    max_height=620,
                    column_widths=["12%", "14%", "56%", "18%"],
                    label="Articles (click one to read it)",
                    elem_id="nr-articles",
                )
            with gr.Column(scale=2):
                article_view = gr.HTML(NO_ARTICLE, js_on_load=None, elem_id="nr-article", max_height=720)
                # The id of the article opened: what a removal removes (a hidden input, so scripts can give it).
                selected = gr.Textbox(visible=False, elem_id="nr-selected")
                ask_remove = gr.Button("Remove article", size="sm", variant="secondary", elem_id="nr-remove")
                with gr.Column(visible=False, elem_id="nr-confirm") as confirm:
                    question = gr.Markdown(elem_id="nr-confirm-text", latex_delimiters=[])
                    with gr.Row():
                        really = gr.Button("Remove", variant="stop", size="sm", elem_id="nr-remove-yes")
                        cancel = gr.Button("Cancel", size="sm", elem_id="nr-remove-no")
                removal = gr.Markdown(elem_id="nr-removal-result", latex_delimiters=[])
    views = IndexViews(corpus, table, chat_sources, sources)

    gr.on(
        [query.change, sources.change, date_from.submit, date_to.submit],
        app.article_table,
        [query, sources, date_from, date_to],
        table,
        show_progress="hidden",
        **PRIVATE,
    )
    table.select(app.open_article, None, article_view, **PRIVATE)
    table.select(app.select_article, None, [selected, confirm, removal], queue=False, **PRIVATE)
    gr.on(
        [topic.submit, topic_btn.click],
        app.topic_summary,
        [topic, sources, date_from, date_to],
        topic_view,
        **PRIVATE,
    )
    ask_remove.click(app.confirm_removal, selected, [confirm, question], queue=False, **PRIVATE)
    gr.on(
        [really.click, cancel.click], lambda: gr.update(visible=False), None, confirm, queue=False, **PRIVATE
    )
    really.click(
        app.remove_article,
        selected,
        [removal, article_view, selected, *views],
        api_name="remove_article",
        concurrency_limit=1,
        concurrency_id="ingest",
        **SCRIPTED,
    ).success(
        app.article_table, [query, sources, date_from, date_to], table, show_progress="hidden", **PRIVATE
    )
    return views


def add_tab(app: NewsApp, views: IndexViews) -> None:
    """Uploads, feed URLs and subscriptions; once indexed, the other tabs' `views` show the new articles."""
    with gr.Tab("Add articles", id="add") as tab:
        gr.Markdown(
            f"Upload article files ({', '.join(ACCEPTED_SUFFIXES)}; at most {MAX_UPLOAD_FILES} files "
            f"of {MAX_UPLOAD_MB} MB each and {MAX_SUBMISSION_MB} MB in all at a time) or give an RSS/Atom "
            "feed URL. New articles are answerable as soon as indexing ends."
        )
        files = gr.File(
            label="Article files",
            file_count="multiple",
            file_types=list(ACCEPTED_SUFFIXES),
            type="filepath",
            elem_id="nr-upload",
        )
        url = gr.Textbox(label="Feed URL", placeholder="https://example.com/feed.xml", elem_id="nr-feed")
        button = gr.Button("Add to the index", variant="primary", elem_id="nr-add")
        result = gr.Markdown(elem_id="nr-ingest-result", latex_delimiters=[])
        subscriptions = subscriptions_section(app, views)

    def add(files: list[str] | None, url: str, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        return app.add_articles(files, url, progress), None, *app.refreshed()

    button.click(
        add,
        [files, url],
        [result, files, *views],
        concurrency_limit=1,
        concurrency_id="ingest",
        **PRIVATE,
    )
    # A refresh in the background (`serve --refresh-every`) changes the list: read it when it is shown.
    tab.select(app.subscription_table, None, subscriptions, show_progress="hidden", **PRIVATE)


def subscriptions_section(app: NewsApp, views: IndexViews) -> gr.Dataframe:
    """Feeds the index follows with their last fetch, and a form to add one; returns the list.

    A feed typed here obeys the web's stricter rules: see NewsApp.subscribe.
    """
    local = (
        ""
        if app.settings.allow_local_feeds
        else " The feed must be on the public internet: addresses of this machine or its network are refused."
    )
    gr.Markdown(
        "### Subscriptions\nFeeds the index follows. Subscribing fetches the feed at once; each refresh "
        f"(*Refresh now*, or `newsrag serve --refresh-every`) adds what is new in every feed.{local}"
    )
    table = gr.Dataframe(
        app.subscription_table(),
        headers=render.SUBSCRIPTION_COLUMNS,
        datatype="str",
        interactive=False,
        wrap=True,
        max_height=360,
        column_widths=["16%", "34%", "14%", "28%", "8%"],
        label="Subscriptions",
        elem_id="nr-subscriptions",
    )
    with gr.Row():
        url = gr.Textbox(
            label="Feed URL to subscribe to",
            placeholder="https://example.com/feed.xml",
            scale=3,
            elem_id="nr-sub-url",
        )
        name = gr.Textbox(
            label="Name (optional)", placeholder="the feed's host", scale=2, elem_id="nr-sub-name"
        )
    with gr.Row():
        subscribe_btn = gr.Button("Subscribe", variant="primary", elem_id="nr-subscribe")
        refresh_btn = gr.Button("Refresh now", variant="secondary", elem_id="nr-refresh")
    result = gr.Markdown(elem_id="nr-sub-result", latex_delimiters=[])

    def subscribe(url: str, name: str, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        return app.subscribe(url, name, progress), app.subscription_table(), *app.refreshed()

    def refresh_feeds(progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        return app.refresh_feeds(progress), app.subscription_table(), *app.refreshed()

    outputs = [result, table, *views]
    events: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "ingest", **SCRIPTED}
    gr.on([subscribe_btn.click, url.submit], subscribe, [url, name], outputs, api_name="subscribe", **events)
    refresh_btn.click(refresh_feeds, None, outputs, api_name="refresh_feeds", **events)
    return table


def wire_events(demo: gr.Blocks, app: NewsApp, views: IndexViews) -> None:
    """The page-wide events: the public /ask API, and fresh index views on each page load."""
    gr.api(app.ask, api_name="ask", concurrency_limit=CHAT_CONCURRENCY, concurrency_id="ask")
    demo.load(app.refreshed, None, list(views), **PRIVATE)


def build_app(engine: NewsRAG, settings: Settings, examples: list[str] | None = None) -> gr.Blocks:
    """The whole UI over one engine; its answer modes are the engine's answerers, chosen by name."""
    app = NewsApp(engine, settings)
    with gr.Blocks(
        title="NewsRAG",
        analytics_enabled=False,
        fill_width=True,
        delete_cache=(UPLOAD_CACHE_SECONDS, UPLOAD_CACHE_SECONDS),
    ) as demo:
        corpus = header(app)
        with gr.Tabs():
            chat_sources = ask_tab(app, EXAMPLES if examples is None else examples)
            views = browse_tab(app, corpus, chat_sources)
            add_tab(app, views)
        wire_events(demo, app, views)
    return demo


def serve(
    engine: NewsRAG,
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    block: bool = True,
) -> tuple[gr.Blocks, str]:
    """Build and launch the app at http://host:port; block=False returns once it is up (CLI, tests).

    Whether it may be served beyond this machine without `auth` is `newsrag serve`'s to check.
    """
    demo = build_app(engine, settings)
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=QUEUE_SIZE)
    # As (class, args, kwargs), which is what the app unpacks a starlette Middleware into: starlette
    # comes with gradio and is not a dependency of ours to import.
    caps = (
        RequestCaps,
        (),
        {
            "upload_bytes": (MAX_SUBMISSION_MB + 1) * 1024 * 1024,  # the files and their multipart framing
            "other_bytes": MAX_REQUEST_KB * 1024,
        },
    )
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        app_kwargs={"middleware": [caps]},
        prevent_thread_lock=True,
        show_error=False,  # an unexpected error's text may quote an article; the page says only that one occurred
        quiet=not share,  # Gradio's own lines only carry news when there is a public link
        ssr_mode=False,
        footer_links=["api"],
        enable_monitoring=False,  # else /monitoring/summary tells any visitor who asked what, and how fast
        theme=THEME,
        css=CSS,
    )
    if block:
        demo.block_thread()
    return demo, url


if __name__ == "__main__":
    from newsrag.ui.cli import cli

    cli(["serve"], prog_name="newsrag")
