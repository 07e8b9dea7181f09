"""Fetch a feed URL for someone who may be hostile: only public addresses, bounded in time and size.

Anyone who can open the chat can type a feed URL, so the server must not become their way into
its own network (loopback, private, link-local, cloud metadata) nor be held up or filled up by
a slow or endless answer. Every host is resolved once, checked, and the connection goes to the
address that was checked; redirects are followed here, each hop checked again. Every failure
reads the same to the user (FETCH_FAILED), so the answers cannot map ports; the log has the detail.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urljoin, urlsplit

log = logging.getLogger(__name__)

# One text for every reason, the hint for the operator included: it says nothing about any one URL.
FETCH_FAILED = (
    "could not fetch the feed: unreachable, too slow, too large, or a local address "
    "(allowed only with allow_local_feeds)"
)
MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
USER_AGENT = "NewsRAG/0.1 (feed reader)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

# Refused unless the operator allows local feeds; every other non-public class is always refused
# (link-local holds the cloud metadata service at 169.254.169.254, which no feed lives on).
LOCAL_CLASSES = {"loopback", "private"}
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")  # 0.0.0.0 connects to this machine on Linux
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FeedPolicy:
    """What a feed may reach and cost; the default is the safe one, for a chat open to colleagues."""

    allow_local: bool = False
    max_bytes: int = 10_000_000
    timeout: float = 20.0  # the whole fetch, redirects included
    max_article_chars: int = 200_000


@dataclass(frozen=True)
class Fetched:
    """A feed's bytes (decompressed), the URL they finally came from and their declared type.

    `not_modified` is a 304 answer to a conditional GET (no body); `etag` and `last_modified` are
    the validators to send next time.
    """

    url: str
    body: bytes
    content_type: str
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


class FetchError(Exception):
    """Why a fetch failed, for the log; `reason` is what the user sees."""

    def __init__(self, detail: str, reason: str = FETCH_FAILED) -> None:
        super().__init__(detail)
        self.reason = reason


def fetch(url: str, policy: FeedPolicy, etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """GET an http(s) URL within the policy, following at most MAX_REDIRECTS redirects, each checked.

    With `etag` / `last_modified` from an earlier fetch the GET is conditional: an unchanged feed
    answers 304 and costs one small response.
    """
    deadline = time.monotonic() + policy.timeout
    asked = url
    conditions = {"If-None-Match": etag, "If-Modified-Since": last_modified}
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with _request(url, policy, deadline, conditions) as response:
                location = response.getheader("Location")
                if response.status in REDIRECTS and location:
                    log.info("feed %s redirects to %s", url, location)
                    url = urljoin(url, location.strip())
                    continue
                validators = {
                    "etag": _header_value(response.getheader("ETag")),
                    "last_modified": _header_value(response.getheader("Last-Modified")),
                }
                if response.status == 304:
                    return Fetched(
                        url,
                        b"",
                        "",
                        True,
                        validators["etag"] or etag,
                        validators["last_modified"] or last_modified,
                    )
                if response.status >= 400:
                    raise FetchError(f"HTTP {response.status}", f"HTTP {response.status} fetching the feed")
                if not 200 <= response.status < 300:
                    raise FetchError(f"unexpected HTTP status {response.status}")
                body = _read_body(response, policy.max_bytes)
                content_type = response.getheader("Content-Type") or ""
                return Fetched(
                    url, body, content_type, False, validators["etag"], validators["last_modified"]
                )
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except FetchError as exc:
        log.info("could not fetch the feed %s: %s", _hops(asked, url), exc)
        raise
    except (OSError, http.client.HTTPException, zlib.error, UnicodeError, ValueError) as exc:
        log.info("could not fetch the feed %s: %s: %s", _hops(asked, url), type(exc).__name__, exc)
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc


def _hops(asked: str, reached: str) -> str:
    return asked if asked == reached else f"{asked} (redirected to {reached})"


KINDS: list[tuple[str, Any]] = [  # in this order: 169.254.0.0/16 is also "private" to ipaddress
    ("unspecified", lambda ip: ip.is_unspecified or ip in THIS_NETWORK),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("reserved", lambda ip: ip.is_reserved),
    ("private", lambda ip: ip.is_private or getattr(ip, "is_site_local", False)),  # fec0::/10 too
    ("non-public", lambda ip: not ip.is_global),
]


def address_class(ip: IPAddress) -> tuple[str, IPAddress] | None:
    """The kind of non-public address ("loopback", "private", "link-local", ...) `ip` reaches, and the
    address it reaches (::ffff:127.0.0.1 reaches 127.0.0.1); None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        if embedded is not None:
            return address_class(embedded)
        for inner in (ip.sixtofour, *(ip.teredo or ())):
            if inner is not None and (found := address_class(inner)):
                return found
    for kind, test in KINDS:
        if test(ip):
            return kind, ip
    return None


def refusal(ip: IPAddress, policy: FeedPolicy) -> str | None:
    """Why the policy refuses to connect to `ip`, or None when it may."""
    found = address_class(ip)
    if found is None or (policy.allow_local and found[0] in LOCAL_CLASSES):
        return None
    kind, reached = found
    through = f" (as {ip})" if reached != ip else ""
    hint = " (allow_local_feeds allows it)" if kind in LOCAL_CLASSES else ""
    return f"{reached}{through} is {'an' if kind[0] in 'aeiou' else 'a'} {kind} address{hint}"


def _header_value(value: str | None) -> str | None:
    """A validator fit to send back: printable ASCII only, so a hostile server cannot add a header."""
    if not value or len(value) > 512 or any(not 0x20 <= ord(c) < 0x7F for c in value):
        return None
    return value


def _request(
    url: str, policy: FeedPolicy, deadline: float, conditions: dict[str, str | None] | None = None
) -> http.client.HTTPResponse:
    """Send a GET to the checked address of `url`'s host and read the response head."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"scheme {parts.scheme!r} is not http or https")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise FetchError("control characters or spaces in the URL")
    host = (parts.hostname or "").encode("idna").decode("ascii")
    if not host:
        raise FetchError("no host in the URL")
    name = host.rstrip(".")
    if (name == "localhost" or name.endswith(".localhost")) and not policy.allow_local:
        raise FetchError(f"{host} is a loopback name (allow_local_feeds allows it)")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    sock = _connect(host, port, policy, deadline)
    try:
        if parts.scheme == "https":
            sock = _tls(sock, host, deadline)
        conn = _DeadlineSocket(sock, deadline)
        conn.sendall(_request_head(parts, host, port, conditions))
        response = http.client.HTTPResponse(conn, method="GET")  # type: ignore[arg-type]
        response.begin()
        return response
    except BaseException:
        sock.close()
        raise


def _request_head(
    parts: SplitResult, host: str, port: int, conditions: dict[str, str | None] | None = None
) -> bytes:
    """A GET whose path is percent-encoded, so nothing in the URL can add a header or a request."""
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._") + (
        "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~-._?") if parts.query else ""
    )
    named = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {named}" + ("" if port == default else f":{port}"),
        f"User-Agent: {USER_AGENT}",
        f"Accept: {ACCEPT}",
        "Accept-Encoding: gzip",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (conditions or {}).items() if _header_value(value)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _connect(host: str, port: int, policy: FeedPolicy, deadline: float) -> socket.socket:
    """Resolve once, refuse if any address is not allowed, then connect to one of those same addresses."""
    infos = _resolve(host, port, deadline)
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if reason := refusal(ip, policy):
            raise FetchError(f"refused {host}: {reason}")
    failure: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_left(deadline))
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure


def _tls(sock: socket.socket, host: str, deadline: float) -> socket.socket:
    """The TLS handshake, verified against the host name; the socket timeout bounds the whole handshake."""
    import ssl

    sock.settimeout(_left(deadline))
    return ssl.create_default_context().wrap_socket(sock, server_hostname=host)


def _resolve(host: str, port: int, deadline: float) -> list[Any]:
    """getaddrinfo within the deadline: it has no timeout of its own, so it runs in a daemon thread."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(_left(deadline))
    if thread.is_alive():
        raise FetchError(f"resolving {host} took too long")
    if "error" in outcome:
        raise FetchError(f"cannot resolve {host}: {outcome['error']}")
    return list(outcome["infos"])


def _read_body(response: http.client.HTTPResponse, cap: int) -> bytes:
    """The body, gunzipped as it streams in; stops as soon as either the raw or the decoded size passes cap."""
    if response.length is not None and response.length > cap:
        raise FetchError(f"Content-Length {response.length} is more than {cap} bytes")
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {encoding!r}")
    inflater = None if encoding == "identity" else zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib
    body = bytearray()
    raw = 0
    while chunk := response.read(CHUNK):
        raw += len(chunk)
        if raw > cap:
            raise FetchError(f"body is more than {cap} bytes")
        if inflater is None:
            body += chunk
            continue
        while chunk:
            body += inflater.decompress(chunk, cap + 1 - len(body))
            if len(body) > cap:
                raise FetchError(f"body decompresses to more than {cap} bytes")
            chunk = inflater.unconsumed_tail
        if inflater.eof:
            return bytes(body)  # the end of the gzip stream; anything after it is not the feed
    if response.length:  # http.client's read(amt) returns short at EOF instead of raising IncompleteRead
        raise FetchError(f"IncompleteRead: the connection closed {response.length} bytes before the end")
    if inflater is not None and not inflater.eof:
        raise FetchError("compressed body ends early")
    return bytes(body)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out")
    return left


class _DeadlineSocket:
    """The socket as http.client sees it: every send and receive waits at most until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(_left(self.deadline))
        self.sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self.sock.close()


class _DeadlineReader(io.RawIOBase):
    """A trickle of one byte a second cannot outlast the deadline: each read gets only the time left."""

    def __init__(self, conn: _DeadlineSocket) -> None:
        self.conn = conn

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.conn.sock.settimeout(_left(self.conn.deadline))
        return self.conn.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self.conn.close()
        super().close()
