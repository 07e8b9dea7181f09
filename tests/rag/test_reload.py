"""A running engine follows the index on disk: what another process ingests or removes is answered
from (or no longer cited) at the next request, without reload(); a failed reload never fails a request."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sample_data import SEED_QUESTION, SEED_TITLE

from newsrag.index.catalog import Catalog
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest, remove
from newsrag.index.storage import current_snapshot_dir, load_snapshot
from newsrag.index.vector_store import VECTORS_FILE
from newsrag.rag.engine import NewsRAG

STORY = {
    "id": "harbour-lights",
    "title": "Port Ellis moves its harbour lights festival to June",
    "source": "Ellis Gazette",
    "text": (
        "The harbour lights festival in Port Ellis will move from March to June this year, the organisers "
        "said on Tuesday. About 40,000 visitors are expected over the four nights of the festival."
    ),
}
STORY_QUESTION = "When will the harbour lights festival in Port Ellis take place?"


@pytest.fixture
def live_index(small_index, tmp_path):
    """Settings for a writable copy of the session's small index (31 articles)."""
    index_dir = tmp_path / "index"
    shutil.copytree(small_index.index_dir, index_dir)
    return small_index.replace(index_dir=index_dir, lock_timeout=30.0)


def seed_id(engine: NewsRAG) -> str:
    return next(a.id for a in engine.catalog.articles() if a.title == SEED_TITLE)


def newsrag_cli(settings, *args: str) -> None:
    """The real command line in its own process, as a colleague would run it beside `newsrag serve`."""
    done = subprocess.run(
        [sys.executable, "-m", "newsrag", "--index-dir", str(settings.index_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def past_the_check_interval(engine: NewsRAG, since: float) -> None:
    """Wait until the engine's next request will look at CURRENT again (at most a second after the last look)."""
    time.sleep(max(0.0, since + engine.reload_check_seconds + 0.05 - time.monotonic()))


def cited(answer) -> set[str]:
    return {c.article_id for c in answer.citations}


def test_an_article_removed_by_the_cli_is_no_longer_cited(live_index, embedder):
    engine = NewsRAG(live_index, embedder)
    seed = seed_id(engine)
    assert seed in cited(engine.ask(SEED_QUESTION))
    asked = time.monotonic()
    newsrag_cli(live_index, "remove", seed)
    past_the_check_interval(engine, asked)
    answer = engine.ask(SEED_QUESTION)
    assert seed not in cited(answer)
    assert not engine.catalog.has_article(seed) and len(engine.catalog.articles()) == 30
    assert engine.warning is None


@pytest.mark.slow  # two CLI processes, one of which loads the embedder: about 15 s on 2 cores
def test_articles_ingested_then_removed_by_the_cli_are_followed(live_index, embedder, tmp_path):
    engine = NewsRAG(live_index, embedder)
    assert STORY["id"] not in cited(engine.ask(STORY_QUESTION))
    story = tmp_path / "story.jsonl"
    story.write_text(json.dumps(STORY) + "\n")
    asked = time.monotonic()
    newsrag_cli(live_index, "ingest", str(story))
    past_the_check_interval(engine, asked)
    answer = engine.ask(STORY_QUESTION)
    assert not answer.refused and answer.citations[0].article_id == STORY["id"]
    assert "June" in answer.text

    asked = time.monotonic()
    newsrag_cli(live_index, "remove", STORY["id"])
    past_the_check_interval(engine, asked)
    assert STORY["id"] not in cited(engine.ask(STORY_QUESTION))
    assert not engine.catalog.has_article(STORY["id"])


def test_reload_still_swaps_at_once(live_index, embedder):
    """What the chat's own upload does: ingest, then reload(), with no wait for the next check."""
    engine = NewsRAG(live_index, embedder)
    engine.reload_check_seconds = 3600.0  # the engine would not look by itself in this test
    engine.reload()
    seed = seed_id(engine)
    remove(live_index, [seed])
    assert engine.catalog.has_article(seed)  # not looked yet
    engine.reload()
    assert not engine.catalog.has_article(seed)


def test_requests_during_reloads_never_fail_and_each_snapshot_is_loaded_once(live_index, embedder):
    engine = NewsRAG(live_index, embedder)
    engine.reload_check_seconds = 0.0  # look at every request: as many racing reloads as possible
    ids = [a.id for a in engine.catalog.articles() if a.title != SEED_TITLE][:4]
    errors: list[BaseException] = []
    seen: dict[int, tuple[object, Path | None]] = {}
    stop = threading.Event()

    def ask_until_stopped() -> None:
        while not stop.is_set():
            try:
                answer = engine.ask(SEED_QUESTION)
                assert answer.citations and answer.citations[0].title == SEED_TITLE
                corpus = engine.corpus
                seen[id(corpus)] = (corpus, corpus.catalog.snapshot.path)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask_until_stopped) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for article_id in ids:
            remove(live_index, [article_id])
            time.sleep(0.3)
    finally:
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors[0]
    paths = [path for _, path in seen.values()]
    assert len(paths) == len(set(paths)), "a snapshot was loaded more than once"
    assert len(paths) >= 2  # the askers saw the engine move on
    assert engine.catalog.snapshot.path == current_snapshot_dir(live_index.index_dir)
    assert len(engine.catalog.articles()) == 31 - len(ids)


def test_a_reload_that_fails_keeps_the_old_corpus_answering(live_index, embedder, caplog, tmp_path):
    engine = NewsRAG(live_index, embedder)
    engine.reload_check_seconds, engine.reload_retry_seconds = 0.0, 0.3  # look at every request
    engine.reload()
    served = engine.catalog.snapshot.path
    seed = seed_id(engine)
    remove(live_index, [seed])
    # Both snapshots on disk unreadable: the new live one and the one the engine serves from memory.
    new = current_snapshot_dir(live_index.index_dir)
    # The removal's own segment (the other is shared with the served snapshot), and the served one's list.
    segment = (
        new.parent / "segments" / json.loads((new / "segments.json").read_text())["segments"][-1]["name"]
    )
    good_vectors = (segment / VECTORS_FILE).read_bytes()
    (segment / VECTORS_FILE).write_bytes(good_vectors[: len(good_vectors) // 2])
    (served / "segments.json").write_text("{")
    with caplog.at_level(logging.ERROR, logger="newsrag.rag.engine"):
        answer = engine.ask(SEED_QUESTION)
    assert answer.citations and answer.citations[0].article_id == seed  # the old corpus, still answering
    assert "reloading the index" in caplog.text and "vectors.faiss" in caplog.text
    assert engine.warning and "reloading it failed" in engine.warning and "vectors.faiss" in engine.warning

    assert seed in cited(engine.ask(SEED_QUESTION))  # still the old corpus, however often it is asked
    (segment / VECTORS_FILE).write_bytes(good_vectors)  # repaired: picked up at the next retry
    time.sleep(engine.reload_retry_seconds + 0.05)
    assert seed not in cited(engine.ask(SEED_QUESTION))
    assert engine.warning is None and engine.catalog.snapshot.path == new


def test_concurrent_first_requests_load_the_embedder_once():
    embedder = SentenceTransformerEmbedding()
    start = threading.Barrier(6)
    models: list[object] = []

    def first_request() -> None:
        start.wait()
        models.append(embedder.model)

    threads = [threading.Thread(target=first_request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(models) == 6 and all(m is models[0] for m in models)
    assert embedder.encode(["one model, loaded once"]).shape == (1, 384)


def test_a_loaded_snapshot_is_consistent_after_the_engine_follows_it(live_index, embedder):
    """The snapshot the engine switched to is the complete one CURRENT names, not a half-written one."""
    engine = NewsRAG(live_index, embedder)
    engine.reload_check_seconds = 0.0  # look at every request
    engine.reload()
    ingest(live_index, [str(write_story(live_index.index_dir.parent / "s.jsonl"))], embedder)
    catalog = engine.catalog
    on_disk = Catalog(load_snapshot(live_index.index_dir))
    assert {a.id for a in catalog.articles()} == {a.id for a in on_disk.articles()}
    assert len(catalog.snapshot.vectors) == len(catalog.chunks()) == len(on_disk.chunks())


def write_story(path: Path) -> Path:
    path.write_text(json.dumps(STORY) + "\n")
    return path
