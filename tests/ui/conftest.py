"""A real NewsRAG app served on a free local port over a copy of the small index."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_index(settings, folder: Path):
    """The index copied to `folder`, so a test may ingest into it without touching the shared one."""
    shutil.copytree(settings.index_dir, folder / "index")
    return settings.replace(index_dir=folder / "index", lock_timeout=10.0)


def launch(settings, embedder):
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import serve

    engine = NewsRAG(settings, embedder)
    demo, url = serve(engine, settings, port=free_port(), block=False)
    return demo, url, engine


@pytest.fixture
def writable_index(small_index, tmp_path):
    """Settings of a private copy of the small index, for tests that ingest."""
    return copy_index(small_index, tmp_path)


@pytest.fixture(scope="module")
def app_server(small_index, embedder, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """(url, engine) of an app over its own copy of the small index; closed after the module."""
    settings = copy_index(small_index, tmp_path_factory.mktemp("ui-index"))
    demo, url, engine = launch(settings, embedder)
    try:
        yield url, engine
    finally:
        demo.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
