"""The subscribe -> refresh -> ask path on the command line, and a server that follows its feeds while it runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from feed_server import Entry, rss, start_feed_server
from gradio_client import Client

from newsrag.index.refresh import refresh
from newsrag.index.subscriptions import Subscriptions
from newsrag.rag.engine import NewsRAG
from newsrag.ui.app import serve
from newsrag.ui.cli import cli

NEWSRAG = Path(sys.executable).with_name("newsrag")
OTTER = Entry(
    "http://news.example.org/otter",
    "Otter pup rescued in Zorbleton harbour",
    "An otter pup named Pebble was rescued from a fishing net in Zorbleton harbour on Monday. "
    "Volunteers from the Zorbleton Wildlife Trust carried the pup to a rescue centre. "
    "The trust said Pebble would be returned to the harbour in the spring.",
)
QUESTION = "What was the rescued otter pup in Zorbleton harbour named?"


FILLER = Entry(
    "http://news.example.org/tide",
    "Tide tables for Zorbleton",
    "The harbour master published the spring tide tables for Zorbleton on Friday. "
    "High water on the first of the month comes just after nine in the morning. "
    "Boat owners were asked to check their moorings before the equinox.",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def feeds():
    state, server = start_feed_server()
    yield state
    server.shutdown()


def run(index_dir: Path, *args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    return CliRunner().invoke(cli, ["--index-dir", str(index_dir), *args], env=env, catch_exceptions=False)


def test_subscribe_refresh_ask_in_three_commands(writable_index, feeds):
    url = feeds.publish("/otters.rss", rss("Harbour Post", [OTTER]))
    index_dir = writable_index.index_dir
    added = run(index_dir, "feeds", "add", url, "--name", "Harbour Post")
    assert added.exit_code == 0 and "subscribed" in added.stdout
    refreshed = run(index_dir, "refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert refreshed.stdout.splitlines() == [
        f"Harbour Post ({url}): 1 new, 0 updated, 0 unchanged",
        "refresh: 1 feed(s): 1 fetched, 0 not modified, 0 failed, 0 backing off; 1 new, 0 updated, 0 removed articles",
    ]
    asked = run(index_dir, "ask", QUESTION, "--json")
    answer = json.loads(asked.stdout)
    assert not answer["refused"] and "Pebble" in answer["answer"]
    assert answer["citations"][0]["title"] == OTTER.title
    listed = json.loads(run(index_dir, "feeds", "list", "--json").stdout)
    assert [(s["url"], s["name"], s["articles"], s["last_status"]) for s in listed] == [
        (url, "Harbour Post", 1, "1 entries")
    ]
    again = run(index_dir, "refresh")
    assert f"Harbour Post ({url}): not modified" in again.stdout
    removed = run(index_dir, "feeds", "remove", url)
    assert removed.exit_code == 0 and run(index_dir, "feeds", "list").stdout.startswith("no subscriptions")


def test_a_failing_feed_makes_refresh_exit_1_with_its_reason(writable_index, feeds):
    url = feeds.publish("/gone.rss", rss("Gone", [OTTER]))
    feeds.feeds["/gone.rss"].status = 404
    run(writable_index.index_dir, "feeds", "add", url)
    result = run(writable_index.index_dir, "refresh")
    assert result.exit_code == 1
    assert "failed: HTTP 404 fetching the feed; retried after" in result.stdout
    bad = run(writable_index.index_dir, "feeds", "add", "ftp://example.org/feed")
    assert bad.exit_code == 1 and "is not a feed URL" in bad.stderr


def test_a_running_server_answers_about_an_article_that_arrived_after_it_started(
    writable_index, embedder, feeds
):
    settings = writable_index
    demo, url = serve(NewsRAG(settings, embedder), settings, port=free_port(), block=False)
    try:
        client = Client(url, verbose=False)
        before = client.predict(QUESTION, [], api_name="/ask")
        assert before["refused"]
        feed = feeds.publish("/otters.rss", rss("Harbour Post", [OTTER]))
        Subscriptions(settings.index_dir).add(feed, local_allowed=True)
        refresh(settings, embedder)  # what `newsrag serve --refresh-every` runs in its background thread
        time.sleep(1.1)  # the server checks the index pointer at most once a second
        after = client.predict(QUESTION, [], api_name="/ask")
        assert not after["refused"] and "Pebble" in after["answer"]
    finally:
        demo.close()


@pytest.mark.slow
def test_serve_refresh_every_brings_new_entries_into_a_running_chat(writable_index, feeds, tmp_path):
    """A real `newsrag serve --refresh-every 2s`: an entry published after start is answered within seconds."""
    settings = writable_index
    feed = feeds.publish("/otters.rss", rss("Harbour Post", [FILLER]))
    run(settings.index_dir, "feeds", "add", feed)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSRAG_", "GRADIO_"))}
    proc = subprocess.Popen(
        [
            str(NEWSRAG),
            "--index-dir",
            str(settings.index_dir),
            "serve",
            "--port",
            str(port),
            "--refresh-every",
            "2s",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline()
        assert "NewsRAG is ready at" in ready, ready + (proc.stderr.read() if proc.poll() is not None else "")
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict(QUESTION, [], api_name="/ask")["refused"]
        feeds.publish("/otters.rss", rss("Harbour Post", [FILLER, OTTER]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = client.predict(QUESTION, [], api_name="/ask")
            if not answer["refused"]:
                break
            time.sleep(1)
        assert "Pebble" in answer["answer"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
