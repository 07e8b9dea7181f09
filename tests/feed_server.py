"""A real HTTP feed server on 127.0.0.1 whose feeds the test changes between fetches.

It honours conditional GETs as a well-behaved feed host does (ETag / If-None-Match and
Last-Modified / If-Modified-Since answered 304) and records every request it served.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Entry:
    link: str
    title: str
    text: str
    published: str = "Tue, 01 Dec 2026 09:00:00 GMT"


def rss(title: str, entries: list[Entry]) -> bytes:
    items = "".join(
        f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
        f"<pubDate>{e.published}</pubDate><description>{escape(e.text)}</description></item>"
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://example.org/</link><description>test feed</description>{items}</channel></rss>"
    ).encode()


def atom(title: str, entries: list[Entry]) -> bytes:
    items = "".join(
        f'<entry><title>{escape(e.title)}</title><link href="{escape(e.link)}"/><id>{escape(e.link)}</id>'
        f'<updated>2026-12-01T09:00:00Z</updated><content type="text">{escape(e.text)}</content></entry>'
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id><updated>2026-12-01T09:00:00Z</updated>"
        f"{items}</feed>"
    ).encode()


@dataclass
class Feed:
    body: bytes
    content_type: str = "application/rss+xml"
    status: int = 200
    etag: str = ""
    modified: str = ""

    def set(self, body: bytes) -> None:
        self.body = body
        self.etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        self.modified = formatdate(usegmt=True)


@dataclass
class FeedServer:
    """Serves `feeds` by path; `requests` holds (path, If-None-Match, status) of each request answered."""

    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        feed = self.feeds.setdefault(path, Feed(b"", content_type))
        feed.content_type = content_type
        feed.set(body)
        return self.url(path)

    def served(self, path: str) -> list[tuple[str | None, int]]:
        return [(tag, status) for p, tag, status in self.requests if p == path]


def start_feed_server() -> tuple[FeedServer, ThreadingHTTPServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            feed = state.feeds.get(self.path)
            tag = self.headers.get("If-None-Match")
            if feed is None or feed.status != 200:
                status = feed.status if feed else 404
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"not a feed")
            elif (tag and tag == feed.etag) or (
                not tag and self.headers.get("If-Modified-Since") == feed.modified
            ):
                status = 304
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.end_headers()
            else:
                status = 200
                self.send_response(200)
                self.send_header("Content-Type", feed.content_type)
                self.send_header("Content-Length", str(len(feed.body)))
                self.send_header("ETag", feed.etag)
                self.send_header("Last-Modified", feed.modified)
                self.end_headers()
                self.wfile.write(feed.body)
            state.requests.append((self.path, tag, status))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
