"""Pure functions turning answers, summaries and articles into safe HTML and chat markdown.

Every string that comes from an article, an upload or an LLM (title, text, source, authors, url,
file name, error, generated sentence, claim-check problem, notice) is escaped here for the sink
it meets: `esc` for gr.HTML, which renders raw HTML; `md_text` for gr.Markdown and the chat,
which render Markdown; `safe_url` for an href, which only an http(s) URL becomes (any other is
shown as text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from newsrag.index.articles import Article
from newsrag.index.catalog import IndexStats
from newsrag.index.ingest import IngestReport
from newsrag.index.refresh import FeedResult, RefreshReport
from newsrag.index.subscriptions import Subscription
from newsrag.rag.filters import Filters
from newsrag.rag.types import Answer, AnswerSentence, Citation, Source, Summary

EMPTY_SOURCES = (
    '<div class="nr-empty">Sources of the answer appear here: each <b>[n]</b> in the answer '
    "is the card with the same number, its cited sentence highlighted in the passage.</div>"
)
REFUSAL_MARK = "\u26a0\ufe0f"  # warning sign: a refusal never looks like an answer
# CommonMark lets any ASCII punctuation be backslash-escaped. Escaped are all that can open
# markup: links and images, emphasis, code, headings, lists (`-`, `+`, `1.`, `1)`), tables,
# setext underlines (`=`), math (`$`), and GFM's bare autolinks (`http://`, `www.`, `a@b.c`),
# which `:`, `.` and `@` start. `& < >` are HTML-escaped instead, so no tag or entity survives.
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+!|~$=:.@^-])")
LINE_BREAK = re.compile(r"[ \t]*(?:\r\n?|\n)\s*")  # a hard break; no blank line or indent starts a block
URL_SHOWN_CHARS = 200  # an unlinkable URL is shown as text, cut to this length
PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def esc(text: object) -> str:
    """HTML-escape anything, quotes included, so it is safe in text and in attribute values."""
    return html.escape("" if text is None else str(text), quote=True)


def md_text(text: object) -> str:
    """Plain text as Markdown that renders as exactly that text: no link, image, tag or emphasis."""
    escaped = html.escape(MARKDOWN_SPECIALS.sub(r"\\\1", "" if text is None else str(text)), quote=False)
    return LINE_BREAK.sub("  \n", escaped)


def safe_url(url: str | None) -> str | None:
    """The URL when it may become an href (http or https with a host), else None."""
    url = (url or "").strip()
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced [ in the host
        return None
    return url if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def date_of(published_at: str | None) -> str:
    return (published_at or "")[:10] or "undated"


def moment(stamp: object, missing: str = "-") -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' in UTC; `missing` when absent or unreadable (it may come from an upload)."""
    try:
        at = datetime.fromisoformat(str(stamp)) if stamp else None
    except ValueError:
        at = None
    if at is None:
        return missing
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M")


def meta_line(source: str | None, published_at: str | None, url: str | None) -> str:
    parts = [
        f'<span class="nr-source">{esc(source or "unknown publisher")}</span>',
        esc(date_of(published_at)),
    ]
    link = safe_url(url)
    if link:
        parts.append(f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow">link</a>')
    elif url and url.strip():  # javascript:, data:, a relative path...: shown, never followed
        parts.append(f'<span class="nr-url">{esc(url.strip()[:URL_SHOWN_CHARS])}</span>')
    return '<div class="nr-meta">' + " \u00b7 ".join(parts) + "</div>"


# --- chat --------------------------------------------------------------------

UNSUPPORTED_MARK = "\u26a0\ufe0f"  # warning sign before a generated sentence its sources do not support
WRITING_MARK = "\u258d"  # a cursor after text an LLM is still writing, before it is checked
CHECKING = (
    '<div class="nr-empty">The answer is being written; its sources appear here once every '
    "sentence is checked against them.</div>"
)
CITE_MARKER = re.compile(r"\s*\[(\d+)\]")


# Beside a generated sentence the LLM left uncited, whose source the claim check found.
ATTRIBUTED_NOTE = "source found by the claim check"


def shown_sentence(text: str, citations: Sequence[int]) -> str:
    """The sentence without the [n] it cites written inline (an LLM writes them), which its bold marks show."""
    cited = set(citations)
    return CITE_MARKER.sub(lambda m: "" if int(m.group(1)) in cited else m.group(0), text).strip()


def sentence_markdown(sentence: AnswerSentence) -> str:
    """One sentence and its bold [n]; one its sources do not support is flagged, in italics, with why."""
    marks = "".join(f"\\[{n}\\]" for n in sentence.citations)
    text = md_text(shown_sentence(sentence.text, sentence.citations))
    cited = f" **{marks}**" if marks else ""
    if sentence.supported is not False:
        found = f" {md_text(f'({ATTRIBUTED_NOTE})')}" if sentence.attributed else ""
        return f"{text}{cited}{found}"
    why = "; ".join(sentence.problems) or "its sources do not say this"
    # Emphasis only around non-empty text, or the asterisks would show; md_text leaves no * of its own.
    flagged = f"*{text}*" if text else ""
    return f"{UNSUPPORTED_MARK} {flagged}{cited} {md_text(f'(unsupported: {why})')}"


def notice_markdown(answer: Answer) -> str:
    """The answer's notice (e.g. the LLM failed and these are quotes) as a quoted warning line, or nothing."""
    return f"> {REFUSAL_MARK} {md_text(answer.notice)}\n\n" if answer.notice else ""


def answer_markdown(answer: Answer) -> str:
    """The whole reply as chat markdown; a refusal is a quoted warning, never an answer look-alike."""
    if answer.refused or not answer.sentences:
        head, sep, rest = answer.text.partition(". ")
        text = f"**{md_text(head)}.** {md_text(rest)}" if sep else f"**{md_text(answer.text)}**"
        return f"{notice_markdown(answer)}> {REFUSAL_MARK} {text}"
    return notice_markdown(answer) + " ".join(sentence_markdown(s) for s in answer.sentences)


def answer_stream(answer: Answer) -> Iterator[str]:
    """Growing prefixes of the reply, one sentence more each time, ending with the whole reply."""
    if not answer.refused and answer.sentences:
        for i in range(1, len(answer.sentences)):
            yield notice_markdown(answer) + " ".join(sentence_markdown(s) for s in answer.sentences[:i])
    yield answer_markdown(answer)


def writing_markdown(text: str) -> str:
    """Text an LLM is still writing, escaped like any other, with a cursor: it is not yet checked."""
    return f"{md_text(text.strip())} {WRITING_MARK}"


# --- source cards ------------------------------------------------------------


def mark_spans(text: str, spans: Iterable[tuple[int, int, str]], lo: int = 0, hi: int | None = None) -> str:
    """text[lo:hi] escaped, each (start, end, label) span in it wrapped in <mark> and followed by its label."""
    hi = len(text) if hi is None else hi
    parts, pos = [], lo
    for start, end, label in sorted(spans):
        start, end = max(start, pos), min(end, hi)
        if start >= end:
            continue
        parts += [esc(text[pos:start]), f"<mark>{esc(text[start:end])}</mark>{label}"]
        pos = end
    parts.append(esc(text[pos:hi]))
    return "".join(parts)


def locate(
    passage: str, passage_start: int, start: int, end: int, sentence: str = ""
) -> tuple[int, int] | None:
    """The cited sentence's span inside its passage: by the offsets, else by its text, else None."""
    lo, hi = start - passage_start, end - passage_start
    if 0 <= lo < hi <= len(passage) and (not sentence or passage[lo:hi].strip() == sentence.strip()):
        return lo, hi
    found = passage.find(sentence) if sentence else -1
    return (found, found + len(sentence)) if found >= 0 else None


def highlight(passage: str, passage_start: int, start: int, end: int, sentence: str = "") -> str:
    """The passage escaped, with the cited sentence (article offsets start..end) wrapped in <mark>."""
    span = locate(passage, passage_start, start, end, sentence)
    return mark_spans(passage, [(*span, "")] if span else [])


def passage_card(cited: Sequence[Citation], show_passage: bool = True) -> str:
    """One card for citations of the same passage: their [n], the article, the passage with each sentence marked."""
    first = cited[0]
    numbers = " ".join(f"[{c.n}]" for c in cited)

    def label(c: Citation) -> str:
        return f'<sup class="nr-n">[{c.n}]</sup>' if len(cited) > 1 else ""

    if show_passage:
        spans = []
        for c in cited:
            span = locate(c.passage, c.passage_start, c.start, c.end, c.sentence)
            spans += [(*span, label(c))] if span else []
        body = mark_spans(first.passage, spans)
    else:
        body = " ".join(f"<mark>{esc(c.sentence)}</mark>{label(c)}" for c in cited)
    return (
        f'<div class="nr-card" id="nr-cite-{first.n}">'
        f'<div class="nr-card-head"><span class="nr-n">{numbers}</span> '
        f'<span class="nr-title">{esc(first.title)}</span></div>'
        f"{meta_line(first.source, first.published_at, first.url)}"
        f'<div class="nr-passage">{body}</div></div>'
    )


def citation_card(c: Citation, show_passage: bool = True) -> str:
    return passage_card([c], show_passage)


def by_passage(citations: Iterable[Citation]) -> list[list[Citation]]:
    """Citations grouped by the passage they quote, in the order of their first [n]."""
    groups: dict[tuple[str, int, str], list[Citation]] = {}
    for c in sorted(citations, key=lambda c: c.n):
        groups.setdefault((c.article_id, c.passage_start, c.passage), []).append(c)
    return list(groups.values())


def source_card(s: Source) -> str:
    return (
        '<div class="nr-card nr-closest"><div class="nr-card-head">'
        f'<span class="nr-title">{esc(s.title)}</span></div>'
        f"{meta_line(s.source, s.published_at, s.url)}</div>"
    )


def sources_html(answer: Answer) -> str:
    """The panel beside the chat: one card per [n], or for a refusal the closest articles."""
    question = f'<div class="nr-question">For: {esc(answer.question)}</div>'
    if answer.refused or not answer.citations:
        cards = "".join(source_card(s) for s in answer.closest) or (
            '<div class="nr-empty">No article in the index is close to this question.</div>'
        )
        return (
            f'<div class="nr-sources nr-refused">{question}'
            f'<div class="nr-refusal-head">{REFUSAL_MARK} The articles don\u2019t answer this. '
            f"Closest articles:</div>{cards}</div>"
        )
    cards = "".join(passage_card(group) for group in by_passage(cited_only(answer)))
    return f'<div class="nr-sources">{question}{cards}</div>'


def cited_only(answer: Answer) -> list[Citation]:
    """The citations some sentence cites: an LLM's answer numbers every passage it was given, cited or not."""
    cited = {n for s in answer.sentences for n in s.citations}
    return [c for c in answer.citations if c.n in cited] or answer.citations


# --- articles and summaries --------------------------------------------------


def marked_paragraphs(text: str, spans: Sequence[tuple[int, int, int]] = ()) -> str:
    """Text as escaped paragraphs ("- " lines as a list), each (start, end, n) span in <mark> with its [n]."""
    labelled = [(s, e, f'<sup class="nr-n">[{n}]</sup>') for s, e, n in spans if 0 <= s < e <= len(text)]
    out, items = [], []
    for line in re.finditer(r"[^\n]+", text):
        lo, hi = line.span()
        if not line.group().strip():
            continue
        if line.group().startswith("- "):
            items.append(f"<li>{mark_spans(text, labelled, lo + 2, hi)}</li>")
            continue
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
        out.append(f"<p>{mark_spans(text, labelled, lo, hi)}</p>")
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    return "".join(out)


def article_html(article: Article, cited: Sequence[Citation] = ()) -> str:
    """One article to read, escaped; the sentences `cited` (e.g. of its summary) highlighted with their [n]."""
    authors = f'<div class="nr-meta">By {esc(", ".join(article.authors))}</div>' if article.authors else ""
    spans = [(c.start, c.end, c.n) for c in cited if c.article_id == article.id]
    return (
        f'<div class="nr-article"><h2 class="nr-title">{esc(article.title)}</h2>'
        f"{meta_line(article.source, article.published_at, article.url)}{authors}"
        f'<div class="nr-article-text">{marked_paragraphs(article.text, spans)}</div>'
        f'<div class="nr-meta nr-id">id: {esc(article.id)}</div></div>'
    )


def summary_html(summary: Summary, heading: str, cards: bool = True) -> str:
    """A cited summary with the dates it covers; `cards` adds the cited sentence of each [n] with its article."""
    dates = ""
    if summary.first_date or summary.last_date:
        dates = f'<div class="nr-meta">Articles dated {esc(summary.first_date or "?")} to {esc(summary.last_date or "?")}</div>'
    by_article: dict[str, list[Citation]] = {}
    for c in sorted(summary.citations, key=lambda c: c.n):
        by_article.setdefault(c.article_id, []).append(c)
    listed = "".join(passage_card(g, show_passage=False) for g in by_article.values()) if cards else ""
    return (
        f'<div class="nr-summary"><h3>{esc(heading)}</h3>{dates}'
        f'<div class="nr-summary-text">{marked_paragraphs(summary.text)}</div>{listed}</div>'
    )


# --- corpus list -------------------------------------------------------------

ARTICLE_COLUMNS = ["Date", "Publisher", "Title", "Added (UTC)"]


def normalize_date(value: str | None, end: bool = False) -> str | None:
    """'2015', '2015-04' or '2015-04-07' as an inclusive bound; None when empty; ValueError when unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if not PARTIAL_DATE.fullmatch(value):
        raise ValueError(f"'{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    if end:
        return value + "-12-31"[len(value) - 4 :] if len(value) < 10 else value
    return value


def filter_articles(
    articles: Iterable[Article], query: str = "", filters: Filters | None = None
) -> list[Article]:
    """Articles whose title holds every word of `query` and that `filters` accepts, as retrieval would."""
    words = query.lower().split()
    return [
        a
        for a in articles
        if all(w in a.title.lower() for w in words) and (filters is None or filters.accepts_article(a))
    ]


def article_rows(articles: Iterable[Article]) -> list[list[str]]:
    """Date, publisher and title of each article: the cells that tell one article from another."""
    return [[date_of(a.published_at), a.source or "", a.title] for a in articles]


def browse_rows(articles: Iterable[Article]) -> list[list[str]]:
    """The Browse list: article_rows and when each was added; plain strings the table shows as text."""
    return [[*article_rows([a])[0], moment(a.metadata.get("added_at"))] for a in articles]


def article_of_row(articles: Iterable[Article], row: Sequence[object]) -> Article | None:
    """The article a table row shows (the table may be sorted in the browser, so match by content).

    A Browse row is matched whole, its added time included; a row of article_rows by its three cells.
    """
    wanted = [str(v) for v in row]
    if len(wanted) < 3:  # without its date, publisher and title a row names no article
        return None
    return next((a for a in articles if browse_rows([a])[0][: len(wanted)] == wanted), None)


def corpus_line(stats: IndexStats) -> str:
    """The header's Markdown line; publisher names come from articles, so each is Markdown-escaped."""
    sources = ", ".join(f"{md_text(k)} ({v})" for k, v in stats.sources.items())
    dates = (
        f" \u00b7 dated {md_text(stats.first_date)} to {md_text(stats.last_date)}" if stats.first_date else ""
    )
    line = f"**{stats.articles} articles** from {sources or 'no publisher'}{dates}"
    # A damaged live snapshot is served from the previous one: every visitor should know.
    return line + (f"\n\n{REFUSAL_MARK} {md_text(stats.warning)}" if stats.warning else "")


# --- ingest ------------------------------------------------------------------


MAX_LISTED = 20  # lines of one kind in an upload's result; the rest are counted


def listed(label: str, items: Sequence[str]) -> list[str]:
    """Result lines `- label: item` (items already Markdown), at most MAX_LISTED and a count of the rest."""
    lines = [f"- {label}: {item}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"- \u2026 and {len(items) - MAX_LISTED} more {label}")
    return lines


def ingest_markdown(
    report: IngestReport | None,
    names: dict[str, str],
    titles: dict[str, str],
    rejected: Sequence[str] = (),
) -> str:
    """The result line of an upload: counts, then each article and each input left out with why.

    `names` maps temp paths to upload names, `rejected` holds the uploads the app refused before
    ingesting (limit or type), and `report` is None when nothing was left to ingest.
    """

    def shown(where: str) -> str:
        for path, name in names.items():
            where = where.replace(path, name)
        return md_text(where)

    refused = listed("rejected", [md_text(r) for r in rejected])
    if report is None:
        head = "**Nothing to add.**" if rejected else "**Nothing to add:** choose files or give a feed URL."
        return "\n".join([head, *refused])
    counts = (
        f"{len(report.new)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.duplicates)} duplicate, {len(report.failed)} failed"
    )
    if rejected:
        counts += f", {len(rejected)} rejected"
    lines = [
        f"**{counts}** ({report.chunks_written} passage{'' if report.chunks_written == 1 else 's'} "
        f"indexed in {report.seconds:.1f}s)"
    ]
    for label, ids in (("new", report.new), ("updated", report.updated)):
        lines += listed(label, [md_text(titles.get(i, i)) for i in ids])
    lines += listed(
        "duplicate",
        [
            f"{shown(where)} (same text as {md_text(titles.get(kept, kept))})"
            for where, kept in report.duplicates
        ],
    )
    lines += listed("failed", [f"{shown(f.input)}: {md_text(f.reason)}" for f in report.failed])
    return "\n".join(lines + refused)


# --- subscriptions -----------------------------------------------------------

SUBSCRIPTION_COLUMNS = ["Name", "Feed URL", "Last fetched (UTC)", "Last status", "Articles"]


def subscription_rows(subscriptions: Iterable[Subscription]) -> list[list[str]]:
    """The subscription table; names, URLs and statuses are plain strings the table shows as text."""
    rows = []
    for s in subscriptions:
        status = s.last_status + (f" (next try after {moment(s.retry_after)})" if s.retry_after else "")
        rows.append([s.name, s.url, moment(s.last_fetched, "never"), status, str(s.articles)])
    return rows


def refresh_markdown(report: RefreshReport) -> str:
    """What "Refresh now" did: the summary, then one line per feed, a failed one marked."""
    if not report.feeds:
        return "**No subscriptions yet:** subscribe to a feed URL first."
    lines = [f"**{md_text(report.summary())}**"]
    lines += [feed_markdown(f) for f in report.feeds]
    return "\n".join(lines)


def feed_markdown(result: FeedResult) -> str:
    """One feed's line of a refresh, as a list item; a failure (or a feed backing off) leads with a warning."""
    mark = f"{REFUSAL_MARK} " if result.status in ("failed", "waiting") else ""
    return f"- {mark}{md_text(result.line())}"


def subscribed_markdown(result: FeedResult) -> str:
    """The result of subscribing from the page: its first fetch, or why it was not subscribed."""
    s = result.subscription
    if result.status in ("failed", "waiting"):
        return (
            f"{REFUSAL_MARK} **Not subscribed to {md_text(s.url)}:** {md_text(result.error or result.line())}. "
            "Nothing was added to the index."
        )
    return f"**Subscribed to {md_text(s.name)}.**\n{feed_markdown(result)}"
