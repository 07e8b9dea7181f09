"""Feed URLs: only public addresses unless allowed, every hop checked, bounded in time and size, one error text.

Every server here is started by the test on a loopback address; the ones that must never be reached
count their connections, and each refusal is also checked for the reason it was logged with, so a
test cannot pass because the fetch failed for some other reason.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import subprocess
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from newsrag.index.articles import Article, InputError
from newsrag.index.fetch import FETCH_FAILED, FeedPolicy, refusal
from newsrag.index.ingest import ingest
from newsrag.index.loaders import iter_inputs
from newsrag.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEED = (FIXTURES / "city-desk.rss").read_bytes()
LOCAL = FeedPolicy(allow_local=True, timeout=5.0)
CITY_DESK_TITLES = [
    "Library Extends Opening Hours During Exam Season",
    "Night Buses Return to the Eastern Suburbs",
]


def load(url: str, policy: FeedPolicy | None = None) -> list[Article | InputError]:
    return list(iter_inputs([url], feeds=policy))


def titles(items: list[Article | InputError]) -> list[str]:
    return [i.title if isinstance(i, Article) else f"error: {i.reason}" for i in items]


def head(status: str = "200 OK", *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


def reply(body: bytes = FEED, status: str = "200 OK", *headers: str):
    """A handler that answers every request with this response, Content-Length included."""

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head(status, f"Content-Length: {len(body)}", *headers) + body)

    return answer


def redirect(location: str, status: str = "302 Found"):
    return reply(b"", status, f"Location: {location}")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "newsrag.index.fetch")


@pytest.fixture(autouse=True)
def fetch_log(caplog):
    caplog.set_level(logging.INFO, logger="newsrag.index.fetch")


# --- 2. addresses: this machine and its networks are refused unless the operator allows them ---------

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:{port}/feed.rss",
    "http://localhost:{port}/feed.rss",
    "http://LocalHost:{port}/feed.rss",
    "http://127.1:{port}/feed.rss",
    "http://2130706433:{port}/feed.rss",  # 127.0.0.1 as one number
    "http://0x7f000001:{port}/feed.rss",
    "http://[::ffff:127.0.0.1]:{port}/feed.rss",  # IPv4-mapped IPv6
]


@pytest.mark.parametrize("template", LOOPBACK_SPELLINGS)
def test_loopback_is_refused_without_a_connection(counting_server, caplog, template):
    url = template.format(port=counting_server.port)
    assert load(url) == [InputError(url, FETCH_FAILED)]
    assert counting_server.connections == 0
    assert "loopback" in logged(caplog)


@pytest.mark.parametrize("template", LOOPBACK_SPELLINGS)
def test_allow_local_feeds_reaches_the_same_urls(counting_server, template):
    """The control for the test above: the server was there, and each spelling does reach it."""
    assert titles(load(template.format(port=counting_server.port), LOCAL)) == CITY_DESK_TITLES
    assert counting_server.connections == 1


def test_ipv6_loopback_is_refused_without_a_connection(scripted_server, caplog):
    server = scripted_server(reply(), host="::1")
    url = f"{server.url}/feed.rss"
    assert load(url) == [InputError(url, FETCH_FAILED)]
    assert server.connections == 0 and "::1 is a loopback address" in logged(caplog)
    assert titles(load(url, LOCAL)) == CITY_DESK_TITLES and server.connections == 1


@pytest.mark.parametrize(
    "url, logged_reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.8/feed.rss", "10.0.0.8 is a private address"),
        ("http://192.168.1.1:8080/", "192.168.1.1 is a private address"),
        ("http://172.16.0.1/", "172.16.0.1 is a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
        ("http://[fd00::1]/feed", "fd00::1 is a private address"),
        ("http://[fe80::1]/feed", "fe80::1 is a link-local address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://[::]/", ":: is an unspecified address"),
        ("http://localhost./feed.rss", "localhost. is a loopback name"),  # whatever DNS says of it
        ("http://feeds.localhost/feed.rss", "feeds.localhost is a loopback name"),
    ],
)
def test_private_addresses_are_refused_before_connecting(caplog, url, logged_reason):
    started = time.perf_counter()
    assert load(url) == [InputError(url, FETCH_FAILED)]
    assert time.perf_counter() - started < 0.5  # no connection attempt (10.x would wait for the timeout)
    assert logged_reason in logged(caplog)


PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
ALWAYS_REFUSED = {
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "::": "unspecified",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "100.64.0.1": "non-public",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
}
LOCAL_ONLY = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.1.2.3": "private",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "10.1.2.3": "private",
    "172.31.255.255": "private",
    "192.168.0.1": "private",
    "fc00::1": "private",
    "fec0::1": "private",  # site-local, deprecated but routable on a LAN
}


def test_the_per_hop_check_on_resolved_addresses():
    """What each redirect hop and each resolved address goes through, on addresses no test can serve."""
    safe, local = FeedPolicy(), FeedPolicy(allow_local=True)
    for address in PUBLIC:
        assert refusal(ipaddress.ip_address(address), safe) is None, address
    for address, kind in {**ALWAYS_REFUSED, **LOCAL_ONLY}.items():
        reason = refusal(ipaddress.ip_address(address), safe)
        assert reason is not None and f" {kind} address" in reason, (address, reason)
    for address in ALWAYS_REFUSED:
        assert refusal(ipaddress.ip_address(address), local) is not None, address
    for address in LOCAL_ONLY:
        assert refusal(ipaddress.ip_address(address), local) is None, address


def test_a_redirect_to_a_refused_address_is_not_followed(scripted_server, counting_server, caplog):
    """With local feeds allowed, the first server may be reached; its redirect to 0.0.0.0 (still refused,
    and on Linux a way back to this machine) must not be: the counting server behind it sees nothing."""
    target = f"http://0.0.0.0:{counting_server.port}/feed.rss"
    server = scripted_server(redirect(target))
    url = f"{server.url}/moved.rss"
    assert load(url, LOCAL) == [InputError(url, FETCH_FAILED)]
    assert server.connections == 1 and counting_server.connections == 0
    assert "0.0.0.0 is an unspecified address" in logged(caplog)
    assert "redirected to http://0.0.0.0" in logged(caplog)


@pytest.mark.parametrize(
    "location, logged_reason",
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is a link-local address"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254 (as ::ffff:"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("ftp://127.0.0.1/feed.rss", "scheme 'ftp' is not http or https"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher' is not http or https"),
    ],
)
def test_redirects_to_other_refused_targets(scripted_server, caplog, location, logged_reason):
    server = scripted_server(redirect(location, "301 Moved Permanently"))
    url = f"{server.url}/feed.rss"
    started = time.perf_counter()
    assert load(url, LOCAL) == [InputError(url, FETCH_FAILED)]
    assert time.perf_counter() - started < 1
    assert logged_reason in logged(caplog)


def test_redirects_are_followed_within_the_limit_and_no_further(scripted_server):
    feed = scripted_server(reply())

    def chain(length: int):
        def answer(conn: socket.socket, request: bytes) -> None:
            hop = int(request.split(b" ", 2)[1].rsplit(b"/", 1)[1] or 0)
            where = f"/{hop + 1}" if hop + 1 < length else f"{feed.url}/feed.rss"
            conn.sendall(head("307 Temporary Redirect", f"Location: {where}", "Content-Length: 0"))

        return answer

    five = scripted_server(chain(5))
    assert titles(load(f"{five.url}/0", LOCAL)) == CITY_DESK_TITLES  # 5 redirects, then the feed
    assert (five.connections, feed.connections) == (5, 1)
    six = scripted_server(chain(6))
    assert load(f"{six.url}/0", LOCAL) == [InputError(f"{six.url}/0", FETCH_FAILED)]
    assert (six.connections, feed.connections) == (6, 1)  # the sixth redirect is not followed
    endless = scripted_server(redirect("/again"))
    assert load(f"{endless.url}/again", LOCAL) == [InputError(f"{endless.url}/again", FETCH_FAILED)]
    assert endless.connections == 6


def test_the_host_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    scripted_server, monkeypatch
):
    """DNS rebinding: a resolver whose second answer differs must never be asked, let alone obeyed."""
    first = scripted_server(reply())
    second = scripted_server(reply(b"<rss/>"), host="127.0.0.2", port=first.port)
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, port, *args, **kwargs):
        if host != "feeds.rebind.test":
            return real(host, port, *args, **kwargs)
        answers.append(host)
        address = "127.0.0.1" if len(answers) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert titles(load(f"http://feeds.rebind.test:{first.port}/feed.rss", LOCAL)) == CITY_DESK_TITLES
    assert (len(answers), first.connections, second.connections) == (1, 1, 0)
    assert first.requests[0].startswith(b"GET /feed.rss HTTP/1.1\r\nHost: feeds.rebind.test:")


def test_a_name_that_resolves_to_any_refused_address_is_refused(scripted_server, monkeypatch, caplog):
    server = scripted_server(reply())
    real = socket.getaddrinfo

    def split_horizon(host, port, *args, **kwargs):
        if host != "mixed.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", split_horizon)
    url = f"http://mixed.test:{server.port}/feed.rss"
    assert load(url, LOCAL) == [InputError(url, FETCH_FAILED)]
    assert server.connections == 0 and "169.254.169.254 is a link-local address" in logged(caplog)


def test_a_resolver_that_never_answers_is_cut_at_the_deadline(monkeypatch, caplog):
    real = socket.getaddrinfo

    def hanging(host, port, *args, **kwargs):
        if host != "slow.test":
            return real(host, port, *args, **kwargs)
        time.sleep(5)
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.perf_counter()
    assert load("http://slow.test/feed.rss", FeedPolicy(timeout=0.5)) == [
        InputError("http://slow.test/feed.rss", FETCH_FAILED)
    ]
    assert time.perf_counter() - started < 2
    assert "resolving slow.test took too long" in logged(caplog)


# --- time, size and broken answers: every one fails alone, with the same words ---------------------


def silent(conn: socket.socket, request: bytes) -> None:
    """Accept, read the request, never answer; wait until the client gives up."""
    conn.recv(1)


def trickled_headers(conn: socket.socket, request: bytes) -> None:
    """A slow-loris answer: a new header line every 0.1 s, each read well within any per-read timeout."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for n in range(200):
        conn.sendall(b"X-Wait-%d: 1\r\n" % n)
        time.sleep(0.1)


def trickled_body(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Length: 100000"))
    for _ in range(1000):
        conn.sendall(b"<")
        time.sleep(0.05)


def trickled_tls(conn: socket.socket, request: bytes) -> None:
    """For https: the header of a 16 KB TLS record, then its bytes one by one."""
    conn.sendall(b"\x16\x03\x03\x40\x00")
    for _ in range(200):
        conn.sendall(b"\x00")
        time.sleep(0.05)


def endless(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Type: application/rss+xml"))
    block = b"<item>" * 10_000
    while True:
        conn.sendall(block)


def endless_chunked(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Transfer-Encoding: chunked"))
    block = b"%x\r\n%s\r\n" % (60_000, b"x" * 60_000)
    while True:
        conn.sendall(block)


def huge_length(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Length: 1000000000000"))
    conn.recv(1)


def gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


BOMB = gzip_bomb(100)  # 100 MB of zeros in about 100 KB


def bomb(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Encoding: gzip", f"Content-Length: {len(BOMB)}") + BOMB)


def closes_at_once(conn: socket.socket, request: bytes) -> None:
    pass  # the server closes without a word


def resets(conn: socket.socket, request: bytes) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST


def drops_mid_body(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", f"Content-Length: {len(FEED)}") + FEED[:200])


def drops_mid_chunk(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Transfer-Encoding: chunked") + b"400\r\n" + FEED[:100])


def truncated_gzip(conn: socket.socket, request: bytes) -> None:
    body = zlib.compress(FEED, wbits=31)[:-40]
    conn.sendall(head("200 OK", "Content-Encoding: gzip", f"Content-Length: {len(body)}") + body)


def not_http(conn: socket.socket, request: bytes) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def brotli(conn: socket.socket, request: bytes) -> None:
    conn.sendall(head("200 OK", "Content-Encoding: br", "Content-Length: 4") + b"\x0b\x02\x80\x00")


SMALL = FeedPolicy(allow_local=True, timeout=1.0, max_bytes=1_000_000)
FAILURES = {
    # name: (handler, scheme, logged detail, at most this many seconds)
    "never answers": (silent, "http", "timed out", 3.0),
    "trickles headers": (trickled_headers, "http", "timed out", 3.0),
    "trickles the body": (trickled_body, "http", "timed out", 3.0),
    "trickles the TLS handshake": (trickled_tls, "https", "handshake operation timed out", 3.0),
    "endless body": (endless, "http", "body is more than 1000000 bytes", 1.0),
    "endless chunked body": (endless_chunked, "http", "body is more than 1000000 bytes", 1.0),
    "a terabyte Content-Length": (huge_length, "http", "Content-Length 1000000000000 is more than", 0.5),
    "gzip bomb": (bomb, "http", "body decompresses to more than 1000000 bytes", 1.0),
    "closes at once": (closes_at_once, "http", "RemoteDisconnected", 0.5),
    "connection reset": (resets, "http", "Connection", 0.5),
    "drops mid-body": (drops_mid_body, "http", "IncompleteRead", 0.5),
    "drops mid-chunk": (drops_mid_chunk, "http", "IncompleteRead", 0.5),
    "truncated gzip": (truncated_gzip, "http", "compressed body ends early", 0.5),
    "not HTTP": (not_http, "http", "BadStatusLine", 0.5),
    "unasked-for encoding": (brotli, "http", "unsupported Content-Encoding 'br'", 0.5),
}


@pytest.mark.parametrize("name", FAILURES)
def test_every_network_failure_fails_alone_with_the_same_words(scripted_server, caplog, name):
    handler, scheme, detail, bound = FAILURES[name]
    server = scripted_server(handler, read_request=scheme == "http")
    url = f"{scheme}://127.0.0.1:{server.port}/feed.rss"
    tracemalloc.start()
    started = time.perf_counter()
    try:
        items = load(url, SMALL)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert items == [InputError(url, FETCH_FAILED)]
    assert detail in logged(caplog)
    assert seconds < bound, f"{name}: {seconds:.2f}s"
    assert peak < 8 * SMALL.max_bytes, f"{name}: {peak:,} bytes at peak"  # the bomb would take 100 MB
    print(f"{name}: refused in {seconds:.2f}s, peak {peak / 1e6:.1f} MB traced")


def test_the_caps_and_the_deadline_come_from_the_settings():
    settings = Settings.load(
        config=Path("/nonexistent.toml"),
        env={
            "NEWSRAG_ALLOW_LOCAL_FEEDS": "yes",
            "NEWSRAG_MAX_FEED_BYTES": "5000",
            "NEWSRAG_FEED_TIMEOUT": "2.5",
        },
    )
    assert settings.feed_policy == FeedPolicy(allow_local=True, max_bytes=5000, timeout=2.5)
    assert Settings().feed_policy == FeedPolicy()
    assert FeedPolicy().allow_local is False


def test_http_errors_and_good_answers(scripted_server):
    missing = scripted_server(reply(b"not here", "404 Not Found"))
    assert load(f"{missing.url}/gone.rss", LOCAL) == [
        InputError(f"{missing.url}/gone.rss", "HTTP 404 fetching the feed")
    ]
    gzipped = zlib.compress(FEED, wbits=31)
    for answer in (
        reply(gzipped, "200 OK", "Content-Encoding: gzip"),
        reply(zlib.compress(FEED), "200 OK", "Content-Encoding: deflate"),
        lambda conn, request: conn.sendall(head("200 OK") + FEED),  # no length: read to the end
        lambda conn, request: conn.sendall(
            head("200 OK", "Transfer-Encoding: chunked")
            + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (FEED[:500], FEED[500:], b""))
        ),
    ):
        server = scripted_server(answer)
        assert titles(load(f"{server.url}/feed.rss", LOCAL)) == CITY_DESK_TITLES


def test_relative_links_resolve_against_the_final_url(scripted_server):
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><item><title>Quay</title>'
        b"<link>/2024/quay</link><description>The quay reopens after repairs to the sea wall.</description>"
        b"</item></channel></rss>"
    )
    final = scripted_server(reply(feed, "200 OK", "Content-Type: application/rss+xml"))
    first = scripted_server(redirect(f"{final.url}/news/feed.rss"))
    [quay] = load(f"{first.url}/feed", LOCAL)
    assert isinstance(quay, Article) and quay.url == f"{final.url}/2024/quay"
    assert quay.metadata["origin"] == f"{first.url}/feed#1"  # named by what the user typed


def test_the_request_is_well_formed_and_cannot_be_split(counting_server, caplog):
    url = f"http://127.0.0.1:{counting_server.port}/f\u00fcr/feed.rss?q=a b"
    assert load(url.replace(" ", "%20"), LOCAL)
    request = counting_server.requests[0]
    assert request.startswith(b"GET /f%C3%BCr/feed.rss?q=a%20b HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{counting_server.port}\r\n".encode() in request
    assert b"Accept-Encoding: gzip\r\n" in request
    split = f"http://127.0.0.1:{counting_server.port}/feed.rss\r\nX-Injected: 1"
    assert load(split, LOCAL) == [InputError(split, FETCH_FAILED)]
    assert counting_server.connections == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return folder


def test_https_is_verified(scripted_server, certificate, monkeypatch, caplog):
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    server = scripted_server(reply(), tls=context)
    url = f"{server.url}/feed.rss"
    assert url.startswith("https://127.0.0.1:")
    assert load(url, LOCAL) == [InputError(url, FETCH_FAILED)]  # self-signed: not trusted
    assert "CERTIFICATE_VERIFY_FAILED" in logged(caplog)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))  # now it is
    assert titles(load(url, LOCAL)) == CITY_DESK_TITLES


def test_a_dropped_feed_fails_alone_and_the_rest_of_the_ingest_lands(
    settings, embedder, scripted_server, feed_server, tmp_path
):
    dropped = scripted_server(drops_mid_body)
    story = tmp_path / "ferry.jsonl"
    story.write_text(
        '{"id": "ferry", "title": "Ferry", "text": "The winter ferry timetable starts on Monday."}\n'
    )
    bad = f"{dropped.url}/feed.rss"
    inputs = [bad, f"{feed_server}/science-notes.atom", str(story)]
    report = ingest(settings.replace(allow_local_feeds=True), inputs, embedder)
    assert report.failed == [InputError(bad, FETCH_FAILED)]
    assert len(report.new) == 3 and "ferry" in report.new
    refused = ingest(settings, [f"{feed_server}/science-notes.atom"], embedder)  # the default: not allowed
    assert refused.failed == [InputError(f"{feed_server}/science-notes.atom", FETCH_FAILED)]
