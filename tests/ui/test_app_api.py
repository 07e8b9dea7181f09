"""The served app's /ask endpoint through gradio_client, and the upload staging of the app."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import gradio as gr
import pytest
from gradio_client import Client
from sample_data import OUT_OF_CORPUS, SEED_QUESTION, SEED_TITLE

from newsrag.ui.app import ACCEPTED_SUFFIXES, MAX_UPLOAD_MB, stage_uploads, user_questions


@pytest.fixture(scope="module")
def client(app_server):
    url, _ = app_server
    return Client(url, verbose=False)


def test_ask_is_the_one_public_endpoint(client):
    assert list(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == ["/ask"]


def test_ask_returns_the_cli_json_with_citations(client, app_server):
    _, engine = app_server
    result = client.predict(SEED_QUESTION, [], api_name="/ask")
    assert result["refused"] is False and result["question"] == SEED_QUESTION
    assert "[1]" in result["answer"] and "700" in result["answer"]
    assert set(engine.ask(SEED_QUESTION).to_dict()) == set(result)
    first = result["citations"][0]
    assert first["n"] == 1 and first["title"] == SEED_TITLE
    article = engine.article(first["article_id"])
    assert article.text[first["start"] : first["end"]] == first["sentence"]
    assert first["sentence"] in first["passage"]


def test_ask_follow_up_uses_the_earlier_questions(client):
    result = client.predict("What did the mayor say about it?", [SEED_QUESTION], api_name="/ask")
    assert not result["refused"]
    assert "step in the right direction" in result["answer"]


def test_ask_refuses_outside_the_corpus(client):
    result = client.predict(question=OUT_OF_CORPUS, api_name="/ask")
    assert result["refused"] is True and result["citations"] == []
    assert result["answer"].startswith("The articles don't say") and result["closest"]


def test_several_people_asking_at_once_get_their_own_answers(app_server):
    url, _ = app_server
    questions = [SEED_QUESTION, OUT_OF_CORPUS] * 2

    def ask(question: str) -> dict:
        return Client(url, verbose=False).predict(question, [], api_name="/ask")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ask, questions))
    assert [r["question"] for r in results] == questions
    assert [r["refused"] for r in results] == [False, True, False, True]


def test_chat_history_gives_the_earlier_user_questions_oldest_first():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "first?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer [1]"}]},
        {"role": "user", "content": "second?"},
        {"role": "user", "content": [{"type": "text", "text": "  "}]},
    ]
    assert user_questions(history) == ["first?", "second?"]


def test_uploads_keep_only_accepted_types_under_generated_names(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    good = uploads / "Goat & Mayor; rm -rf.TXT"
    good.write_text("A story.")
    bad = uploads / "payload.exe"
    bad.write_text("MZ")
    big = uploads / "huge.jsonl"
    with big.open("wb") as handle:
        handle.truncate(MAX_UPLOAD_MB * 1024 * 1024 + 1)
    staging = tmp_path / "staging"
    staging.mkdir()
    paths, names, rejected = stage_uploads([str(good), str(bad), str(big)], staging)
    assert len(paths) == 1 and paths[0].endswith(".txt")
    staged = paths[0].removeprefix(str(staging) + "/")
    assert staged == "001/goat---mayor--rm--rf.txt"
    assert names == {paths[0]: good.name}
    assert rejected[0].startswith("payload.exe: file type '.exe' not accepted")
    assert all(s in rejected[0] for s in ACCEPTED_SUFFIXES)
    assert rejected[1].startswith("huge.jsonl:") and f"{MAX_UPLOAD_MB} MB limit" in rejected[1]


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lakeside Herald</title>
<item><title>Lighthouse keeper retires after 41 years</title>
<link>http://lakeside.example/lighthouse-keeper</link>
<pubDate>Tue, 03 Feb 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Agnes Thornbury retired on Monday after 41 years as keeper of the Harrow Point lighthouse.&lt;/p&gt;
&lt;p&gt;She said she would miss the winter storms most of all.&lt;/p&gt;</description></item>
</channel></rss>
"""


@pytest.fixture
def feed_server(tmp_path):
    """A local HTTP server with one RSS feed; yields the feed's URL."""
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "feed.xml").write_text(RSS)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/feed.xml"
    finally:
        server.shutdown()
        server.server_close()


def test_add_articles_from_uploads_and_a_feed_reloads_the_engine(
    writable_index, embedder, feed_server, tmp_path
):
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import NewsApp

    engine = NewsRAG(writable_index, embedder)
    app = NewsApp(engine, writable_index)
    story = tmp_path / "harbour.md"
    story.write_text(
        "# Harbour seals return to Kettleby\n\nSeals were counted in Kettleby harbour on Sunday.\n"
    )
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    bad = tmp_path / "virus.exe"
    bad.write_text("MZ")

    message = app.add_articles([str(story), str(empty), str(bad)], f"  {feed_server}  ")
    assert message.startswith("**2 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed**"), message
    assert "new: Harbour seals return to Kettleby" in message
    assert "new: Lighthouse keeper retires after 41 years" in message
    assert "rejected: virus.exe: file type '.exe' not accepted" in message
    assert str(tmp_path) not in message

    answer = engine.ask("How long was Agnes Thornbury keeper of the Harrow Point lighthouse?")
    assert not answer.refused and answer.citations[0].source == "Lakeside Herald"
    assert "Lakeside Herald" in app.sources()

    again = app.add_articles([str(story)], "")
    assert again.startswith("**0 new, 0 updated, 1 unchanged")
    assert app.add_articles([str(bad)], "").startswith("**Nothing to add.**")
    with pytest.raises(gr.Error, match="not an http"):
        app.add_articles(None, "file:///etc/passwd")


def test_markdown_and_ndjson_uploads_land_as_the_cli_reads_them(writable_index, embedder, tmp_path):
    from newsrag.index.loaders import SUPPORTED_SUFFIXES
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import NewsApp

    assert ACCEPTED_SUFFIXES == tuple(sorted(SUPPORTED_SUFFIXES))
    notes = tmp_path / "Ferry Notes.markdown"
    notes.write_text(
        "# Night ferry to Orrisdale resumes\n\nThe night ferry to Orrisdale resumed on Friday.\n"
    )
    wire = tmp_path / "wire.ndjson"
    wire.write_text(
        '{"id": "wire-1", "title": "Orchard frost ruins plum crop", "source": "Valley Wire", '
        '"text": "A late frost destroyed most of the plum crop in the Tarrow valley orchards."}\n'
    )
    engine = NewsRAG(writable_index, embedder)
    message = NewsApp(engine, writable_index).add_articles([str(notes), str(wire)], "")
    assert message.startswith("**2 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed**"), message
    assert (
        "new: Night ferry to Orrisdale resumes" in message and "new: Orchard frost ruins plum crop" in message
    )
    assert "rejected" not in message
    assert engine.article("wire-1").source == "Valley Wire"
