"""The served app's /ask endpoint through gradio_client, and the upload staging of the app."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import gradio as gr
import pytest
from gradio_client import Client
from local_http import http
from sample_data import FOLLOW_UP, OUT_OF_CORPUS, SEED_QUESTION, SEED_TITLE

from newsrag.ui.app import ACCEPTED_SUFFIXES, stage_uploads, user_questions
from newsrag.ui.limits import (
    MAX_QUESTION_CHARS,
    MAX_REQUEST_KB,
    MAX_SUBMISSION_MB,
    MAX_UPLOAD_FILES,
    MAX_UPLOAD_MB,
    RequestCaps,
)

MB = 1024 * 1024


@pytest.fixture(scope="module")
def client(app_server):
    url, _ = app_server
    return Client(url, verbose=False)


def test_ask_is_the_one_public_endpoint(client):
    assert list(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == ["/ask"]


def test_gradio_monitoring_is_off(app_server):
    url, _ = app_server
    for route in ("monitoring", "monitoring/summary"):
        assert http(url + route) == (403, '{"detail":"Monitoring is not enabled."}')


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


def sparse(path, size: int):
    with path.open("wb") as handle:
        handle.truncate(size)
    return str(path)


def test_one_submission_stages_at_most_its_file_count_and_total_size(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    files = []
    for n in range(1, MAX_UPLOAD_FILES + 3):
        story = uploads / f"story-{n:02d}.txt"
        story.write_text(f"Story number {n}.")
        files.append(str(story))
    staging = tmp_path / "many"
    staging.mkdir()
    paths, names, rejected = stage_uploads(files, staging)
    assert len(paths) == MAX_UPLOAD_FILES and sorted(names.values()) == [
        f"story-{n:02d}.txt" for n in range(1, 51)
    ]
    assert rejected == [
        f"story-{n}.txt: one submission adds at most {MAX_UPLOAD_FILES} files; add it in another"
        for n in (51, 52)
    ]

    # Each under the per-file limit, together over the submission's: the one that does not fit is named.
    big = [sparse(uploads / f"big-{n}.jsonl", (MAX_UPLOAD_MB - 1) * MB) for n in range(6)]
    small = sparse(uploads / "small.jsonl", 1024)
    staging = tmp_path / "big"
    staging.mkdir()
    paths, names, rejected = stage_uploads([*big, small], staging)
    fit = MAX_SUBMISSION_MB // (MAX_UPLOAD_MB - 1)
    assert [names[p] for p in paths] == [f"big-{n}.jsonl" for n in range(fit)] + ["small.jsonl"]
    assert sum((staging / p).stat().st_size for p in paths) <= MAX_SUBMISSION_MB * MB
    assert rejected == [
        f"big-{n}.jsonl: {(MAX_UPLOAD_MB - 1) * MB / 1e6:.1f} MB would take this submission over "
        f"{MAX_SUBMISSION_MB} MB in all; add it in another"
        for n in range(fit, 6)
    ]


def test_add_articles_names_what_one_submission_left_out_and_why(writable_index, embedder, tmp_path):
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import NewsApp

    files = []
    for n in range(1, MAX_UPLOAD_FILES + 2):  # one too many; the first 50 tell one story
        story = tmp_path / f"ferry-{n:02d}.txt"
        story.write_text("The Orrisdale night ferry will sail again from Friday, the harbour master said.\n")
        files.append(str(story))
    app = NewsApp(NewsRAG(writable_index, embedder), writable_index)
    message = app.add_articles(files, "")
    head, *lines = message.split("\n")
    assert head.startswith(
        f"**1 new, 0 updated, 0 unchanged, {MAX_UPLOAD_FILES - 1} duplicate, 0 failed, 1 rejected**"
    )
    assert lines[-1] == render_md(
        f"- rejected: ferry-51.txt: one submission adds at most {MAX_UPLOAD_FILES} files; add it in another"
    )
    assert "\u2026 and 29 more duplicate" in message  # 49 duplicates: 20 named, the rest counted
    assert str(tmp_path) not in message


def render_md(line: str) -> str:
    """A result line as the app writes it: the `- label: ` prefix as is, the rest Markdown-escaped."""
    from newsrag.ui.render import md_text

    label, rest = line[2:].split(": ", 1)
    return f"- {label}: {md_text(rest)}"


def test_feed_urls_must_be_http_and_of_bounded_length_and_errors_are_escaped(writable_index, embedder):
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import NewsApp
    from newsrag.ui.limits import MAX_URL_CHARS

    app = NewsApp(NewsRAG(writable_index, embedder), writable_index)
    with pytest.raises(gr.Error) as long_url:
        app.add_articles(None, "http://example.com/" + "a" * MAX_URL_CHARS)
    assert f"at most {MAX_URL_CHARS:,} are read" in long_url.value.message
    with pytest.raises(gr.Error) as script:
        app.add_articles(None, 'javascript:<img src=x onerror="alert(1)">')
    # Gradio shows an error's message as HTML: the URL in it is escaped.
    assert (
        script.value.message
        == "&#x27;javascript:&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#x27; is not an http(s) feed URL"
    )


def test_chat_refuses_an_overlong_question_and_caps_history_and_top_k(writable_index, embedder):
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import NewsApp, earlier_questions
    from newsrag.ui.limits import MAX_HISTORY

    app = NewsApp(NewsRAG(writable_index, embedder), writable_index)
    [(reply, panel)] = list(app.chat("why? " * MAX_QUESTION_CHARS, []))
    assert reply.startswith("> ") and f"keep it to {MAX_QUESTION_CHARS:,}" in reply
    assert panel is not None  # gr.skip(): the source panel keeps what it showed

    history = [{"role": "user", "content": f"question {n} " + "x" * 5000} for n in range(100)]
    history[-1]["content"] = SEED_QUESTION
    *_, (reply, panel) = app.chat(FOLLOW_UP, history, None, "", "", 10**9, None)
    assert "step in the right direction" in reply and "nr-card" in panel
    topic = app.topic_summary("earthquake " * 500, None, "", "")
    assert topic == '<div class="nr-empty">the topic is 5,499 characters long; keep it to 2,000</div>'
    kept = earlier_questions([f"q{n}" + "x" * 5000 for n in range(100)])
    assert (
        len(kept) == MAX_HISTORY and kept[-1].startswith("q99") and max(map(len, kept)) == MAX_QUESTION_CHARS
    )


def test_ask_api_refuses_an_overlong_question_and_takes_a_long_history(client):
    with pytest.raises(Exception, match=f"keep it to {MAX_QUESTION_CHARS:,}"):
        client.predict("x" * (MAX_QUESTION_CHARS + 1), [], api_name="/ask")
    history = [f"unrelated question {n}" for n in range(200)] + [SEED_QUESTION]
    result = client.predict(FOLLOW_UP, history, api_name="/ask")
    assert not result["refused"] and "step in the right direction" in result["answer"]


def raw_request(url: str, head: str) -> tuple[int, str]:
    """Send only a request's head (its body is never sent) and read the whole response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1].decode()


def test_request_bodies_over_their_caps_are_refused_before_they_are_read(app_server):
    url, _ = app_server
    host = urlsplit(url).netloc
    upload = raw_request(
        url,
        f"POST /gradio_api/upload HTTP/1.1\nHost: {host}\nContent-Type: multipart/form-data; boundary=b\n"
        f"Content-Length: {(MAX_SUBMISSION_MB + 2) * MB}\nConnection: close\n\n",
    )
    assert upload == (
        413,
        f"Request too large: the files of one upload may be {MAX_SUBMISSION_MB} MB in all; add the others in another submission.",
    )
    call = raw_request(
        url,
        f"POST /gradio_api/call/ask HTTP/1.1\nHost: {host}\nContent-Type: application/json\n"
        f"Content-Length: {MAX_REQUEST_KB * 1024 + 1}\nConnection: close\n\n",
    )
    assert call == (413, f"Request too large: a request body is at most {MAX_REQUEST_KB} KB.")
    # Within the caps the same routes work.
    form = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="story.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nA small story.\r\n--b--\r\n"
    )
    status, text = http(f"{url}gradio_api/upload", form, {"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 200 and json.loads(text)[0].endswith("story.txt")
    call = json.dumps({"data": [SEED_QUESTION, []]}).encode()
    status, text = http(f"{url}gradio_api/call/ask", call, {"Content-Type": "application/json"})
    assert status == 200 and "event_id" in json.loads(text)


def run_capped(chunks: list[bytes], cap: int, path: str = "/gradio_api/queue/join", length: bool = False):
    """RequestCaps over a small ASGI app that reads the whole body; returns (status, body, bytes the app read)."""
    read: list[int] = []

    async def app(scope, receive, send):
        total, more = 0, True
        while more:
            message = await receive()
            total += len(message.get("body", b""))
            more = message.get("more_body", False)
        read.append(total)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        pending = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent: list[dict] = []

        async def receive():
            return pending.pop(0)

        async def send(message):
            sent.append(message)

        headers = [(b"content-length", b"%d" % sum(map(len, chunks)))] if length else []
        scope = {"type": "http", "path": path, "headers": headers}
        await RequestCaps(app, upload_bytes=10 * cap, other_bytes=cap)(scope, receive, send)
        return sent

    sent = asyncio.run(main())
    return sent[0]["status"], sent[1]["body"].decode(), read


def test_request_caps_count_a_body_without_a_length_as_it_arrives():
    status, body, read = run_capped([b"x" * 600] * 2, cap=1000)  # no Content-Length: chunked
    assert status == 413 and body == f"Request too large: a request body is at most {MAX_REQUEST_KB} KB."
    assert read == []  # the app never got to the end of it
    assert run_capped([b"x" * 500] * 2, cap=1000) == (200, "ok", [1000])
    assert run_capped([b"x" * 600] * 2, cap=1000, path="/gradio_api/upload")[:2] == (200, "ok")
    assert run_capped([b"x" * 600] * 2, cap=1000, length=True)[0] == 413  # declared, so refused unread
    assert run_capped([json.dumps({"data": ["q", []]}).encode()], cap=1000)[0] == 200


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

    settings = writable_index.replace(allow_local_feeds=True)  # the test's feed server is on 127.0.0.1
    engine = NewsRAG(settings, embedder)
    app = NewsApp(engine, settings)
    story = tmp_path / "harbour.md"
    story.write_text(
        "# Harbour seals return to Kettleby\n\nSeals were counted in Kettleby harbour on Sunday.\n"
    )
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    bad = tmp_path / "virus.exe"
    bad.write_text("MZ")

    message = app.add_articles([str(story), str(empty), str(bad)], f"  {feed_server}  ")
    assert message.startswith("**2 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed, 1 rejected**"), message
    assert "new: Harbour seals return to Kettleby" in message
    assert "new: Lighthouse keeper retires after 41 years" in message
    assert render_md("- rejected: virus.exe: file type '.exe' not accepted") in message
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
