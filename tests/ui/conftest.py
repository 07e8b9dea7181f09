"""A real NewsRAG app served on a free local port over a copy of the small index, and a plug-in answerer."""

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


FIRST_SENTENCE = "first-sentence"


def first_sentence_answerer(engine):
    """A factory as a plug-in package would register: a real Answerer, defined outside newsrag."""
    from newsrag.rag.answer import chunk_bounds
    from newsrag.rag.answerers import Answerer
    from newsrag.rag.types import Answer, AnswerSentence, Citation

    class FirstSentence(Answerer):
        """Quotes the first whole sentence of the top passage, cited [1]: the smallest honest answer."""

        def answer(self, request):
            if not request.passages:
                return Answer(request.question, "The articles don't say.", True, [], [], self.name)
            top = request.passages[0]
            article = request.corpus.article(top.node.ref_doc_id)
            lo, hi = chunk_bounds(top, article)
            span = next(s for s in engine.splits.get(article) if lo <= s.start and s.end <= hi)
            cited = Citation.of(1, article, (span.start, span.end), (lo, hi), top.node.node_id)
            sentence = AnswerSentence(span.text, [1])
            return Answer(
                request.question,
                f"{span.text} [1]",
                False,
                [sentence],
                [cited],
                self.name,
                request.retrieval_query,
            )

    return FirstSentence()


@pytest.fixture
def first_sentence():
    """The name of an answerer registered for this test only, as `register_answerer` lets any package do."""
    from newsrag.rag import answerers

    answerers.register_answerer(FIRST_SENTENCE, first_sentence_answerer)
    try:
        yield FIRST_SENTENCE
    finally:
        answerers._registered.pop(FIRST_SENTENCE, None)


@pytest.fixture
def plugin_app_server(small_index, embedder, first_sentence) -> Iterator[tuple[str, object]]:
    """(url, engine) of an app built after `first_sentence` was registered; it only reads the index."""
    demo, url, engine = launch(small_index, embedder)
    try:
        yield url, engine
    finally:
        demo.close()


@pytest.fixture(scope="module")
def rag_app_server(rag_index, embedder, tmp_path_factory) -> Iterator[tuple[str, object, object]]:
    """(url, engine, settings) of an app over its own copy of the 34-article rag_index; closed after the module."""
    settings = copy_index(rag_index, tmp_path_factory.mktemp("rag-ui-index"))
    demo, url, engine = launch(settings, embedder)
    try:
        yield url, engine, settings
    finally:
        demo.close()
