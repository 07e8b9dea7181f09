"""Fixtures of the index tests: a writable copy of the small index, an HTTP server for feed URLs."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

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
