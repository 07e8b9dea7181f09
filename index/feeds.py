"""RSS and Atom feeds: one article per entry, from a feed file's bytes or a feed URL."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from newsrag.index.articles import Article, InputError, article_id, parse_date, split_authors
from newsrag.index.fetch import FeedPolicy, FetchError, fetch
from newsrag.index.trailers import credits_of, split_trailer

# An entity declaration lets a few kilobytes expand to gigabytes (billion laughs, quadratic blowup);
# feeds have no use for one. Matched in the UTF-8 text the parser will read, whatever the encoding.
ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


def load_feed_url(url: str, policy: FeedPolicy | None = None) -> Iterator[Article | InputError]:
    """A feed URL, fetched within the policy (the safe default refuses this machine's own network)."""
    try:
        fetched = fetch(url, policy or FeedPolicy())
    except FetchError as exc:  # the detail is in the log; the user sees one text for every network failure
        yield InputError(url, exc.reason)
        return
    yield from load_feed(fetched.body, url, policy, content_type=fetched.content_type, location=fetched.url)


def load_feed(
    data: bytes,
    origin: str,
    policy: FeedPolicy | None = None,
    content_type: str = "",
    location: str = "",
) -> Iterator[Article | InputError]:
    """RSS/Atom bytes, one article per entry; DTD tricks and oversized feeds or entries are refused."""
    import feedparser

    policy = policy or FeedPolicy()
    if len(data) > policy.max_bytes:
        yield InputError(
            origin, f"feed is {len(data):,} bytes, more than max_feed_bytes ({policy.max_bytes:,})"
        )
        return
    text = utf8_of(data, content_type)
    if text is None:
        yield InputError(origin, "not a readable RSS/Atom feed: cannot tell its character encoding")
        return
    if ENTITY.search(text) or INTERNAL_SUBSET.search(text):
        yield InputError(
            origin,
            "feed declares XML entities or a DTD internal subset (<!ENTITY, <!DOCTYPE [...]>), which are "
            "refused: they can expand a small file into a huge one",
        )
        return
    # A stream, never bytes or a str: feedparser opens a str or bytes that names a path or URL.
    feed = feedparser.parse(
        io.BytesIO(text), response_headers={"content-location": location} if location else {}
    )
    if not feed.entries:
        reason = str(feed.get("bozo_exception") or "no entries")
        yield InputError(origin, f"not a readable RSS/Atom feed: {reason}")
        return
    publisher = feed.feed.get("title")
    for n, entry in enumerate(feed.entries, 1):
        yield entry_to_article(entry, f"{origin}#{n}", publisher, policy.max_article_chars)


def utf8_of(data: bytes, content_type: str) -> bytes | None:
    """The feed as feedparser will read it (any declared encoding, e.g. UTF-16 or UTF-7, made UTF-8)."""
    from feedparser.encodings import convert_to_utf8

    result: dict[str, Any] = {}
    text = convert_to_utf8({"content-type": content_type} if content_type else {}, data, result)
    return text if result.get("encoding") and isinstance(text, bytes) else None


def entry_to_article(entry: Any, where: str, publisher: str | None, max_chars: int) -> Article | InputError:
    import lxml.etree

    html = entry["content"][0]["value"] if entry.get("content") else entry.get("summary", "")
    try:
        text, meta = split_trailer(html_to_text(html))
    except (ValueError, AssertionError, lxml.etree.LxmlError) as exc:  # lxml on a fragment it cannot read
        return InputError(where, f"feed entry HTML cannot be read: {type(exc).__name__}: {exc}")
    if not text:
        return InputError(where, "feed entry has no text")
    if len(text) > max_chars:
        return InputError(
            where, f"feed entry text is {len(text):,} characters, more than max_article_chars ({max_chars:,})"
        )
    url = entry.get("link")
    return Article(
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
