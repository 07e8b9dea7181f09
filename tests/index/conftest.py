"""Fixtures of the index tests: a writable copy of the small index, HTTP servers for feed URLs."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    """The fixtures folder served over HTTP on 127.0.0.1 at a random port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(FIXTURES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def index_copy(small_index, tmp_path):
    """Settings for a writable copy of the session's small index (31 articles), made without embedding again."""
    index_dir = tmp_path / "index-copy"
    shutil.copytree(small_index.index_dir, index_dir)
    return small_index.replace(index_dir=index_dir, lock_timeout=5.0)


class ScriptedServer:
    """A TCP server on a loopback address that hands every connection to `handler(conn, request_head)`.

    It counts the connections it accepts, so a test can prove that a refused URL was never connected
    to; the handler decides everything else (redirects, silence, trickles, endless or broken bodies).
    """

    def __init__(
        self,
        handler: Callable[[socket.socket, bytes], None],
        host: str,
        port: int,
        read_request: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.read_request = read_request  # False: the handler gets the connection as accepted (b"" request)
        self.tls = tls
        self.stopping = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(16)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self.open: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head = b""
            while self.read_request and b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    break
                head += data
            self.requests.append(head)
            self.handler(conn, head)
        except OSError:
            pass  # the client went away (as it should when a cap or the deadline stops it)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self.listener.close()
        for conn in self.open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def scripted_server() -> Iterator[Callable[..., ScriptedServer]]:
    """start(handler, host="127.0.0.1", port=0, read_request=True, tls=None) -> a ScriptedServer, stopped after the test."""
    started: list[ScriptedServer] = []

    def start(
        handler: Callable[[socket.socket, bytes], None],
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> ScriptedServer:
        server = ScriptedServer(handler, host, port, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def counting_server(scripted_server) -> ScriptedServer:
    """A server on 127.0.0.1 that answers 200 with a feed; what matters is how often it was connected to."""
    feed = (FIXTURES / "city-desk.rss").read_bytes()

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n" % len(feed)
            + feed
        )

    return scripted_server(answer)
