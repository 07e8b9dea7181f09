"""Turn files, folders and feeds into Articles; a bad input becomes an InputError, never an exception."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsrag.index.articles import Article, InputError, article_id, parse_date, split_authors

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | FEED_SUFFIXES

# "The post <TITLE> appeared first on <PUBLISHER>." as WordPress-style feeds append it.
TRAILER = re.compile(r"^\s*The post (?P<title>.+?) appeared first on (?P<publisher>.+?)\.?\s*$", re.MULTILINE)
CREDIT = re.compile(
    r"^[A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){0,3}(?:,? and [A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){0,3})? contributed (?:reporting|research)\b.*$"
)
BIO = re.compile(
    r"^(?P<name>[A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){1,3}) (?:covers|writes|reports|is (?:a|an|the)) .{0,200}\bfor (?:The |the )?[A-Z][\w ]+\.$"
)
KNOWN_KEYS = {
    "id",
    "title",
    "text",
    "body",
    "content",
    "url",
    "link",
    "source",
    "publisher",
    "published_at",
    "date",
    "author",
    "authors",
}


def iter_inputs(paths: list[str]) -> Iterator[Article | InputError]:
    """Every article in the given files, folders (recursive) and feed URLs, in a stable order."""
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            yield from load_feed(raw, raw)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            for file in files:
                if file.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield from load_file(file)
                else:
                    log.info("skipping %s: unsupported file type", file)
        elif path.is_file():
            yield from load_file(path)
        else:
            yield InputError(raw, "no such file or directory")


def load_file(path: Path) -> Iterator[Article | InputError]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield InputError(
            str(path), f"unsupported file type '{suffix}' (accepted: {', '.join(sorted(SUPPORTED_SUFFIXES))})"
        )
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield InputError(str(path), f"cannot read: {exc.strerror}")
        return
    if not data.strip():
        yield InputError(str(path), "empty file")
        return
    if b"\x00" in data[:8192]:
        yield InputError(str(path), "binary file, not text")
        return
    if suffix in FEED_SUFFIXES:
        yield from load_feed(data, str(path))
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield InputError(str(path), f"not valid UTF-8 (byte {exc.start})")
        return
    if suffix in TEXT_SUFFIXES:
        yield parse_text(text, str(path), markdown=suffix != ".txt")
    elif suffix in HTML_SUFFIXES:
        yield parse_html(text, str(path))
    else:
        yield from parse_json(text, str(path), lines=suffix != ".json")


def split_trailer(text: str) -> tuple[str, dict[str, Any]]:
    """Remove the feed trailer, reporting credits and the author bio from the body; return them as metadata.

    Only the closing block is scanned (from the end up to the first body line), so a body
    paragraph that happens to look like a bio ("Ana Ruiz is a spokeswoman for ...") stays.
    """
    meta: dict[str, Any] = {}
    lines = text.strip().splitlines()
    end = len(lines)
    closing: list[str] = []
    while end > 0:
        stripped = lines[end - 1].strip()
        if not stripped:
            end -= 1
        elif match := TRAILER.match(stripped):
            meta["title"], meta["publisher"] = match["title"].strip(), match["publisher"].strip()
            end -= 1
        elif CREDIT.match(stripped):
            closing.insert(0, stripped)
            end -= 1
        elif match := BIO.match(stripped):
            meta["authors"] = [match["name"], *meta.get("authors", [])]
            closing.insert(0, stripped)
            end -= 1
        else:
            break
    if closing:
        meta["credits"] = closing
    body = "\n".join(line.rstrip() for line in lines[:end]).strip()
    return re.sub(r"\n{3,}", "\n\n", body), meta


def credits_of(meta: dict[str, Any]) -> dict[str, Any]:
    """Credit and bio lines kept out of the answerable text, but kept."""
    return {"credits": meta["credits"]} if "credits" in meta else {}


def parse_text(text: str, origin: str, markdown: bool = False) -> Article | InputError:
    body, meta = split_trailer(text)
    title = meta.get("title")
    if markdown and (heading := re.match(r"\s*#\s+(.+)\n", body)):
        title = title or heading.group(1).strip()
        body = body[heading.end() :].strip()
    if not body:
        return InputError(origin, "no article text")
    if not title:
        first = body.split("\n", 1)[0].strip()
        if len(first) < 120 and not first.endswith((".", "!", "?", "\u201d", '"')) and "\n" in body:
            title, body = first, body.split("\n", 1)[1].strip()
        else:
            title = Path(origin).stem.replace("-", " ").replace("_", " ").strip().capitalize()
    return Article(
        id=article_id(None, None, body),
        title=title,
        text=body,
        source=meta.get("publisher"),
        authors=meta.get("authors", []),
        metadata={"origin": origin, **credits_of(meta)},
    )


def parse_html(html: str, origin: str) -> Article | InputError:
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, favor_precision=True)
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(text) < 40:
        return InputError(origin, "no article text found in the HTML")
    text, meta = split_trailer(text)
    url = getattr(doc, "url", None)
    return Article(
        id=article_id(None, url, text),
        title=getattr(doc, "title", None) or meta.get("title") or Path(origin).stem,
        text=text,
        source=getattr(doc, "sitename", None) or meta.get("publisher"),
        url=url,
        published_at=parse_date(getattr(doc, "date", None)),
        authors=split_authors(getattr(doc, "author", None)) or meta.get("authors", []),
        metadata={"origin": origin, **credits_of(meta)},
    )


def parse_json(text: str, origin: str, lines: bool) -> Iterator[Article | InputError]:
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield InputError(origin, f"invalid JSON at line {exc.lineno}: {exc.msg}")
            return
        records = data if isinstance(data, list) else [data]
        for n, record in enumerate(records, 1):
            yield record_to_article(record, f"{origin}[{n}]")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(f"{origin}:{n}", f"invalid JSON: {exc.msg}")
            continue
        yield record_to_article(record, f"{origin}:{n}")


def record_to_article(record: Any, origin: str) -> Article | InputError:
    """Map the documented JSON fields; unknown fields are kept as metadata."""
    if not isinstance(record, dict):
        return InputError(origin, f"expected a JSON object, got {type(record).__name__}")
    raw_text = record.get("text") or record.get("body") or record.get("content")
    if not isinstance(raw_text, str) or not raw_text.strip():
        return InputError(origin, "no 'text' or 'body' field with article text")
    text, meta = split_trailer(raw_text)
    url = record.get("url") or record.get("link")
    extra = {k: v for k, v in record.items() if k not in KNOWN_KEYS}
    return Article(
        id=article_id(record.get("id"), url, text),
        title=str(record.get("title") or meta.get("title") or "").strip() or text[:80],
        text=text,
        source=record.get("source") or record.get("publisher") or meta.get("publisher"),
        url=url,
        published_at=parse_date(record.get("published_at") or record.get("date")),
        authors=split_authors(record.get("authors") or record.get("author")) or meta.get("authors", []),
        metadata={"origin": origin, **extra, **credits_of(meta)},
    )


def load_feed(data: bytes | str, origin: str) -> Iterator[Article | InputError]:
    """RSS/Atom from bytes or an http(s) URL, one article per entry."""
    import feedparser

    feed = feedparser.parse(data)
    if feed.get("status", 200) >= 400:
        yield InputError(origin, f"HTTP {feed['status']} fetching the feed")
        return
    if not feed.entries:
        reason = str(feed.get("bozo_exception") or "no entries")
        yield InputError(origin, f"not a readable RSS/Atom feed: {reason}")
        return
    publisher = feed.feed.get("title")
    for n, entry in enumerate(feed.entries, 1):
        html = entry["content"][0]["value"] if entry.get("content") else entry.get("summary", "")
        text, meta = split_trailer(html_to_text(html))
        where = f"{origin}#{n}"
        if not text:
            yield InputError(where, "feed entry has no text")
            continue
        url = entry.get("link")
        yield Article(
            id=article_id(entry.get("id") if not url else None, url, text),
            title=entry.get("title") or meta.get("title") or text[:80],
            text=text,
            source=meta.get("publisher") or publisher,
            url=url,
            published_at=parse_date(entry.get("published_parsed") or entry.get("updated_parsed")),
            authors=split_authors(entry.get("author")) or meta.get("authors", []),
            metadata={"origin": where, **credits_of(meta)},
        )


def html_to_text(html: str) -> str:
    """Paragraph-preserving text of an HTML fragment (feed entries are fragments, not pages)."""
    if "<" not in html:
        return html.strip()
    import lxml.html

    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for el in root.iter("p", "div", "li", "h1", "h2", "h3", "blockquote"):
        el.tail = "\n" + (el.tail or "")
    text = root.text_content()
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
