"""Turn files, folders and feeds into Articles; a bad input becomes an InputError, never an exception."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsrag.index.articles import Article, InputError, article_id, parse_date, split_authors
from newsrag.index.feeds import load_feed, load_feed_url
from newsrag.index.fetch import FeedPolicy
from newsrag.index.trailers import credits_of, split_trailer

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | FEED_SUFFIXES

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


def iter_inputs(paths: list[str], feeds: FeedPolicy | None = None) -> Iterator[Article | InputError]:
    """Every article in the given files, folders (recursive) and feed URLs (fetched within `feeds`), in a stable order."""
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            yield from load_feed_url(raw, feeds)
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
