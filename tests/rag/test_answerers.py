"""The answerer seam: answerers chosen by name, added by code or by an installed package's entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_data import SEED, SEED_QUESTION, SEED_TITLE

from newsrag.errors import IndexNotFoundError, UnknownAnswererError
from newsrag.rag import answerers
from newsrag.rag.answer import ExtractiveAnswerer
from newsrag.rag.answerers import Answerer, AnswerRequest, answerer_names, register_answerer
from newsrag.rag.engine import NewsRAG
from newsrag.rag.types import Answer
from newsrag.settings import Settings

NEWSRAG = Path(sys.executable).with_name("newsrag")

PLUGIN = '''
"""A package outside newsrag that adds an answerer: the extractive one, held to a single sentence."""
from newsrag.rag.answer import ExtractiveAnswerer


def build(engine):
    return ExtractiveAnswerer(engine.embedder.encode, engine.splits, max_sentences=1)
'''


class Echo(Answerer):
    """Says how many passages it was given and which question was retrieved with: enough to see the wiring."""

    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []

    def condense(self, question: str, history: list[str]) -> str:
        return " ".join([*history, question])

    def answer(self, request: AnswerRequest) -> Answer:
        self.requests.append(request)
        text = f"{len(request.passages)} passages for: {request.retrieval_query}"
        return Answer(request.question, text, False, [], [], self.name, request.retrieval_query)


@pytest.fixture(scope="module")
def engine(small_index, embedder):
    return NewsRAG.open(small_index, embedder)


@pytest.fixture
def echo():
    made: list[Echo] = []

    def factory(engine: NewsRAG) -> Echo:
        made.append(Echo())
        return made[-1]

    register_answerer("echo", factory)
    try:
        yield made
    finally:
        answerers._registered.pop("echo", None)


def test_a_registered_answerer_answers_by_name_with_its_own_condensing(engine, echo):
    assert "echo" in answerer_names() and answerer_names()[0] == "extractive"
    answer = engine.ask("And the mayor?", ["Who is leaving Minneapolis?"], answerer="echo")
    assert answer.mode == "echo"
    assert answer.text == "6 passages for: Who is leaving Minneapolis? And the mayor?"
    request = echo[0].requests[0]
    assert request.history == ["Who is leaving Minneapolis?"] and request.corpus is engine.corpus
    assert len(request.query_embedding or []) == engine.embedder.dimension
    engine.ask("Who else?", answerer="echo")
    assert len(echo) == 1  # built once per engine, then kept


def test_the_default_answerer_is_the_setting(small_index, embedder, echo):
    engine = NewsRAG.open(small_index.replace(answerer="echo"), embedder)
    assert engine.ask(SEED_QUESTION).mode == "echo"
    assert engine.ask(SEED_QUESTION, answerer="extractive").mode == "extractive"


def test_an_unknown_answerer_is_a_clear_error(engine):
    with pytest.raises(UnknownAnswererError, match=r"'gpt-9' is not a known answerer \(known: extractive"):
        engine.ask(SEED_QUESTION, answerer="gpt-9")


def test_a_bad_name_cannot_be_registered():
    with pytest.raises(ValueError, match="use letters, digits"):
        register_answerer("has space", lambda engine: ExtractiveAnswerer(engine.embedder.encode))


def test_open_without_an_index_says_how_to_make_one(tmp_path, embedder):
    with pytest.raises(IndexNotFoundError, match="run `newsrag ingest"):
        NewsRAG.open(Settings(index_dir=tmp_path / "none"), embedder)


def test_open_builds_a_missing_index_from_the_given_inputs_once(tmp_path, small_corpus, embedder):
    settings = Settings(index_dir=tmp_path / "index")
    told: list[list[str]] = []
    first = NewsRAG.open(settings, embedder, build_from=[small_corpus / SEED.name], on_build=told.append)
    assert told == [[str(small_corpus / SEED.name)]]
    assert first.built is not None and len(first.built.new) == 1
    again = NewsRAG.open(settings, embedder, build_from=[small_corpus], on_build=told.append)
    assert again.built is None and len(told) == 1  # an existing index is opened as it is
    assert [a.title for a in again.catalog.articles()] == [SEED_TITLE]


def test_an_installed_package_adds_an_answerer_by_entry_point(tmp_path, small_index, embedder, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "one_sentence_answerer.py").write_text(PLUGIN)
    dist = site / "one_sentence_answerer-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: one-sentence-answerer\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[newsrag.answerers]\none-sentence = one_sentence_answerer:build\n"
    )

    # The command line lists it...
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run([NEWSRAG, "answerers"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["extractive", "llm", "one-sentence"]

    # ...and an engine answers with it, as installed in this process.
    monkeypatch.syspath_prepend(str(site))
    answer = NewsRAG.open(small_index, embedder).ask(SEED_QUESTION, answerer="one-sentence")
    assert answer.mode == "one-sentence" and not answer.refused
    assert len(answer.sentences) == 1 and answer.citations[0].title == SEED_TITLE
