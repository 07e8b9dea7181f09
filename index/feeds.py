"""RSS and Atom feeds: one article per entry, from a feed file's bytes or a feed URL."""

from __future__ import annotations

from collections.abc import Iterator

from newsrag.index.articles import Article, InputError, article_id, parse_date, split_authors
from newsrag.index.trailers import credits_of, split_trailer


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
