"""Turn files, folders and feeds into Articles; a bad input becomes an InputError, never an exception."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsrag.index.articles import Article, InputError, article_id, parse_date, split_authors
from newsrag.index.cleaning import (
    MAX_TITLE_CHARS,
    FieldError,
    as_authors,
    as_date,
    as_id,
    as_label,
    as_metadata,
    as_string,
    as_url,
    clean_article,
    clean_body,
    clean_line,
    kind_of,
)
from newsrag.index.decoding import NotText, decode, looks_binary
from newsrag.index.feeds import load_feed, load_feed_url
from newsrag.index.fetch import FeedPolicy
from newsrag.index.settings import IndexSettings
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


def iter_inputs(
    paths: list[str], feeds: FeedPolicy | None = None, settings: IndexSettings | None = None
) -> Iterator[Article | InputError]:
    """Every article in the given files, folders (recursive) and feed URLs (fetched within `feeds`), in a stable order.

    Every article is typed and cleaned (cleaning.clean_article) and held to the caps in
    `settings` (max_article_chars, max_articles_per_file per file or feed URL). Each path is
    read on its own, so an input that fails in a way no parser foresaw costs only itself.
    """
    settings = settings or IndexSettings()
    for raw in paths:
        cap = settings.max_articles_per_file if raw.startswith(("http://", "https://")) else None
        yield from _guarded(raw, _unchecked_inputs([raw], feeds, settings), cap, settings.max_article_chars)


def feed_articles(
    data: bytes, origin: str, settings: IndexSettings, content_type: str = "", location: str = ""
) -> Iterator[Article | InputError]:
    """The entries of feed bytes fetched elsewhere (a subscription's refresh), checked like any feed input."""
    items = load_feed(data, origin, settings.feed_policy, content_type=content_type, location=location)
    return _guarded(origin, items, settings.max_articles_per_file, settings.max_article_chars)


def _guarded(
    name: str, items: Iterator[Article | InputError], cap: int | None = None, clean_to: int | None = None
) -> Iterator[Article | InputError]:
    """At most `cap` items of one input, articles cleaned to `clean_to` characters at most; an
    exception no parser foresaw ends only this input, as an InputError naming it."""
    try:
        for n, item in enumerate(items, 1):
            if cap is not None and n > cap:
                yield InputError(
                    name,
                    f"more than {cap:,} articles in one input (max_articles_per_file): the rest was not read",
                )
                return
            yield (
                clean_article(item, clean_to) if clean_to is not None and isinstance(item, Article) else item
            )
    except Exception as exc:
        log.exception("unexpected failure reading %s", name)
        yield InputError(name, f"cannot be read: unexpected {type(exc).__name__} (the log has the details)")


def _unchecked_inputs(
    paths: list[str], feeds: FeedPolicy | None, settings: IndexSettings
) -> Iterator[Article | InputError]:
    """What the paths hold as the parsers give it; iter_inputs checks it, one path at a time."""
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            yield from load_feed_url(raw, feeds)
            continue
        path = Path(raw)
        if path.is_dir():
            # Links to folders are not followed (no loops); a broken or looping link to a file is reported.
            files = sorted(
                p for p in path.rglob("*") if not p.name.startswith(".") and (p.is_file() or _dangling(p))
            )
            for file in files:
                if file.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield from _guarded(str(file), load_file(file), settings.max_articles_per_file)
                else:
                    log.info("skipping %s: unsupported file type", file)
        elif path.is_file() or _dangling(path):
            yield from _guarded(raw, load_file(path), settings.max_articles_per_file)
        elif path.exists():
            yield InputError(raw, "not a regular file or folder")
        else:
            yield InputError(raw, "no such file or directory")


def _dangling(path: Path) -> bool:
    """A symbolic link to nothing, or to itself through others."""
    return path.is_symlink() and not path.exists()


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
    if looks_binary(data):
        yield InputError(str(path), "binary file, not text")
        return
    if suffix in FEED_SUFFIXES:
        yield from load_feed(data, str(path))
        return
    try:
        text, codec = decode(data)
    except NotText as exc:
        yield InputError(str(path), exc.reason)
        return
    for item in _parse(text, str(path), suffix):
        if isinstance(item, Article) and codec not in ("utf-8", "utf-8-sig"):
            item.metadata["encoding"] = codec  # said, since the single-byte one is a guess
        yield item


def _parse(text: str, origin: str, suffix: str) -> Iterator[Article | InputError]:
    if suffix in TEXT_SUFFIXES:
        yield parse_text(text, origin, markdown=suffix != ".txt")
    elif suffix in HTML_SUFFIXES:
        yield parse_html(text, origin)
    else:
        yield from parse_json(text, origin, lines=suffix != ".json")


def parse_text(text: str, origin: str, markdown: bool = False) -> Article | InputError:
    body, meta = split_trailer(clean_body(text))
    title = meta.get("title")
    first, _, rest = body.partition("\n")
    # Not a regular expression: "#" and a long run of spaces with no newline made one take minutes.
    if markdown and rest and first.startswith(("# ", "#\t")):
        title = title or first[1:].strip()
        body = rest.strip()
    if not body:
        return InputError(origin, _no_text(meta))
    if not title:
        first, _, rest = body.partition("\n")
        if len(first) < 120 and not first.endswith((".", "!", "?", "\u201d", '"')) and rest:
            title, body = first.strip(), rest.strip()
        else:
            title = clean_line(
                Path(origin).stem.replace("-", " ").replace("_", " "), MAX_TITLE_CHARS
            ).capitalize()
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
    text = clean_body(getattr(doc, "text", None) or "") if doc is not None else ""
    if len(text) < 40:
        return InputError(origin, "no article text found in the HTML")
    text, meta = split_trailer(text)
    if not text:
        return InputError(origin, _no_text(meta))
    try:
        url = as_url(getattr(doc, "url", None))
    except FieldError:
        url = None  # the page's own canonical link, not something the user asserted
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
        except (ValueError, RecursionError) as exc:  # an integer of over 4,300 digits; nesting too deep
            yield InputError(origin, f"invalid JSON: {_json_failure(exc)}")
            return
        records = data if isinstance(data, list) else [data]
        for n, record in enumerate(records, 1):
            yield record_to_article(record, f"{origin}[{n}]")
        return
    # Only "\n" ends a JSON line: str.splitlines would also break at U+2028, which a JSON string may hold.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(f"{origin}:{n}", f"invalid JSON: {exc.msg}")
            continue
        except (ValueError, RecursionError) as exc:
            yield InputError(f"{origin}:{n}", f"invalid JSON: {_json_failure(exc)}")
            continue
        yield record_to_article(record, f"{origin}:{n}")


def _json_failure(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0]


TEXT_KEYS = ("text", "body", "content")


def record_to_article(record: Any, origin: str) -> Article | InputError:
    """Map the documented JSON fields, each checked by type; unknown fields are kept as metadata."""
    if not isinstance(record, dict):
        return InputError(origin, f"expected a JSON object, got {kind_of(record)}")
    try:
        text_key = _given(record, *TEXT_KEYS)
        if text_key is None:
            return InputError(origin, "no 'text' or 'body' field with article text")
        text, meta = split_trailer(clean_body(as_string(record[text_key], text_key, numbers=False) or ""))
        if not text:
            return InputError(origin, _no_text(meta))
        url = as_url(*_field(record, "url", "link"))
        title = as_label(*_field(record, "title"), limit=MAX_TITLE_CHARS)
        source = as_label(*_field(record, "source", "publisher"))
        published_at = as_date(*_field(record, "published_at", "date"))
        authors = as_authors(*_field(record, "authors", "author"))
        given_id = as_id(*_field(record, "id"))
        extra = as_metadata({k: v for k, v in record.items() if k not in KNOWN_KEYS})
    except FieldError as exc:
        return InputError(origin, exc.reason)
    return Article(
        id=article_id(given_id, url, text),
        title=title or meta.get("title") or "",  # no title: clean_article takes the start of the text
        text=text,
        source=source or meta.get("publisher"),
        url=url,
        published_at=published_at,
        authors=authors or meta.get("authors", []),
        metadata={**extra, **credits_of(meta), "origin": origin},
    )


def _given(record: dict[str, Any], *keys: str) -> str | None:
    """The first of `keys` (a field and its aliases) that the record gives a value: not null, not blank."""
    for key in keys:
        value = record.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return key
    return None


def _field(record: dict[str, Any], *keys: str) -> tuple[Any, str]:
    """The value of the first given key and that key's name, for the reason if it is refused."""
    key = _given(record, *keys)
    return (record[key], key) if key is not None else (None, keys[0])


def _no_text(meta: dict[str, Any]) -> str:
    if meta:
        return "no article text: only the feed trailer, credit or author lines"
    return "no article text"
