"""Subscriptions and article removal from the web: a real app on 127.0.0.1 over a copy of the small
index, driven with gradio_client by the events' API names, and a real RSS feed served on 127.0.0.1.

A feed typed into the page may reach this machine only when the operator set allow_local_feeds;
the feed server records every request, so a refused feed is shown never to have been fetched.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from gradio_client import Client
from sample_data import SEED_QUESTION, SEED_TITLE

from newsrag.index.fetch import FETCH_FAILED
from newsrag.index.storage import current_snapshot_name
from newsrag.index.subscriptions import Subscriptions
from newsrag.ui.limits import MAX_URL_CHARS
from newsrag.ui.render import md_text

CHROMIUM = "/usr/bin/chromium"
WAIT = 60_000  # ms

LIGHTHOUSE = "Lighthouse keeper retires after 41 years"
FERRY = "Night ferry to Orrisdale returns for the summer"
RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lakeside Herald</title>
<item><title>{LIGHTHOUSE}</title>
<link>http://lakeside.example/lighthouse-keeper</link>
<pubDate>Tue, 03 Feb 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Agnes Thornbury retired on Monday after 41 years as keeper of the Harrow Point lighthouse.&lt;/p&gt;
&lt;p&gt;She said she would miss the winter storms most of all.&lt;/p&gt;</description></item>
<item><title>{FERRY}</title>
<link>http://lakeside.example/night-ferry</link>
<pubDate>Wed, 04 Feb 2026 08:30:00 GMT</pubDate>
<description>The night ferry from Kettleby to Orrisdale will sail again from the first of June, the harbour master said.</description></item>
</channel></rss>
"""
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1"> [Log in](javascript:window.__pwned=2) **Herald**'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def feed_server(tmp_path) -> Iterator[tuple[str, list[str]]]:
    """(URL of an RSS feed on 127.0.0.1, the paths requested of it so far)."""
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "feed.xml").write_text(RSS)
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/feed.xml", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def start_app(writable_index, embedder):
    """Serve the app over a private copy of the small index; start(**settings) -> (client, engine, settings)."""
    from newsrag.rag.engine import NewsRAG
    from newsrag.ui.app import serve

    started = []

    def start(**changes):
        settings = writable_index.replace(**changes)
        engine = NewsRAG(settings, embedder)
        demo, url = serve(engine, settings, port=free_port(), block=False)
        started.append(demo)
        return Client(url, verbose=False), engine, settings

    yield start
    for demo in started:
        demo.close()


def titles(table: dict) -> list[str]:
    """The Title cells of the Browse list as the API returns it."""
    return [row[2] for row in table["data"]]


def test_a_local_feed_subscribed_from_the_web_lands_at_once_when_local_feeds_are_allowed(
    start_app, feed_server
):
    url, hits = feed_server
    client, engine, settings = start_app(allow_local_feeds=True)
    message, subscriptions, corpus, articles, *_ = client.predict(
        url, "  Lakeside \n Herald ", api_name="/subscribe"
    )

    assert (
        message
        == f"**Subscribed to Lakeside Herald.**\n- {md_text(f'Lakeside Herald ({url}): 2 new, 0 updated, 0 unchanged')}"
    )
    assert hits == ["/feed.xml"]
    [row] = subscriptions["data"]
    assert row[:2] == ["Lakeside Herald", url] and row[3:] == ["2 entries", "2"]
    fetched = datetime.strptime(row[2], "%Y-%m-%d %H:%M")  # last fetched, as date and time
    assert "**33 articles**" in corpus
    assert LIGHTHOUSE in titles(articles) and FERRY in titles(articles)
    added = next(r for r in articles["data"] if r[2] == LIGHTHOUSE)
    assert added[0] == "2026-02-03"  # published; and added when it was fetched:
    assert abs(datetime.strptime(added[3], "%Y-%m-%d %H:%M") - fetched) <= timedelta(minutes=1)
    [stored] = Subscriptions(settings.index_dir).all()
    assert stored.name == "Lakeside Herald" and stored.articles == 2
    assert stored.local_allowed is False  # typed on the web: local only while the setting allows it

    answer = engine.ask("How long was Agnes Thornbury keeper of the Harrow Point lighthouse?")
    assert not answer.refused and answer.citations[0].title == LIGHTHOUSE
    assert engine.article(answer.citations[0].article_id).metadata["feed"] == url

    # Refresh now: the feed answers 304 to the conditional GET, and nothing is added twice.
    message, subscriptions, corpus, *_ = client.predict(api_name="/refresh_feeds")
    assert message.splitlines() == [
        "**"
        + md_text(
            "refresh: 1 feed(s): 0 fetched, 1 not modified, 0 failed, 0 backing off; 0 new, 0 updated, 0 removed articles"
        )
        + "**",
        f"- {md_text(f'Lakeside Herald ({url}): not modified')}",
    ]
    assert subscriptions["data"][0][3:] == ["not modified", "2"]
    assert "**33 articles**" in corpus and len(hits) == 2

    with pytest.raises(Exception, match="already subscribed to"):
        client.predict(url, "again", api_name="/subscribe")
    assert len(Subscriptions(settings.index_dir).all()) == 1

    # The operator turns local feeds off: the feed typed on the web is no longer fetched.
    strict, _, _ = start_app()
    message, subscriptions, corpus, *_ = strict.predict(api_name="/refresh_feeds")
    assert message.splitlines()[1].startswith(
        f"- \u26a0\ufe0f {md_text(f'Lakeside Herald ({url}): failed: {FETCH_FAILED}')}"
    )
    assert subscriptions["data"][0][3].startswith(FETCH_FAILED + " (next try after ")
    assert "**33 articles**" in corpus and len(hits) == 2  # its articles stay; no request was made


def test_a_loopback_feed_typed_on_the_web_is_refused_unfetched_when_local_feeds_are_not_allowed(
    start_app, feed_server
):
    url, hits = feed_server
    client, engine, settings = start_app()  # allow_local_feeds is off by default
    before = current_snapshot_name(settings.index_dir)
    port = url.split(":")[2].split("/")[0]
    for feed in (url, f"http://localhost:{port}/feed.xml", f"http://[::1]:{port}/feed.xml"):
        message, subscriptions, corpus, articles, *_ = client.predict(feed, "", api_name="/subscribe")
        assert message == (
            f"\u26a0\ufe0f **Not subscribed to {md_text(feed)}:** {md_text(FETCH_FAILED)}. "
            "Nothing was added to the index."
        )
        assert subscriptions["data"] in (
            [],
            [["", "", "", "", ""]],
        )  # an empty table, however Gradio sends it
        assert "**31 articles**" in corpus and LIGHTHOUSE not in titles(articles)
    assert hits == []  # refused before any connection
    assert Subscriptions(settings.index_dir).all() == []
    assert current_snapshot_name(settings.index_dir) == before
    assert engine.ask("How long was Agnes Thornbury keeper of the Harrow Point lighthouse?").refused


@pytest.mark.parametrize(
    ("feed", "says"),
    [
        ("file:///etc/passwd", "&#x27;file:///etc/passwd&#x27; is not an http(s) feed URL"),
        (
            'javascript:<img src=x onerror="alert(1)">',
            "&#x27;javascript:&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#x27; is not an http(s) feed URL",
        ),
        ("ftp://127.0.0.1/feed.xml", "is not an http(s) feed URL"),
        ("http://example.com/" + "a" * MAX_URL_CHARS, f"at most {MAX_URL_CHARS:,} are read"),
        ("   ", "give the URL of an RSS or Atom feed to subscribe to"),
    ],
)
def test_a_feed_url_that_is_not_http_is_refused_before_anything_is_stored(start_app, feed, says):
    client, engine, settings = start_app(allow_local_feeds=True)  # even so
    with pytest.raises(Exception) as refused:
        client.predict(feed, "name", api_name="/subscribe")
    assert says in str(refused.value)
    assert Subscriptions(settings.index_dir).all() == []
    assert not (Path(settings.index_dir) / "subscriptions.json").exists()


def test_removing_an_article_through_the_api_takes_it_out_of_the_index_the_list_and_the_answers(start_app):
    from newsrag.rag.engine import NewsRAG

    client, engine, settings = start_app()
    cited = engine.ask(SEED_QUESTION).citations[0]
    assert cited.title == SEED_TITLE
    before = client.predict(SEED_QUESTION, [], api_name="/ask")
    assert cited.article_id in {c["article_id"] for c in before["citations"]}

    message, view, selected, corpus, articles, chat_sources, browse_sources = client.predict(
        cited.article_id, api_name="/remove_article"
    )
    assert message == f"**Removed** \u201c{md_text(SEED_TITLE)}\u201d from the index."
    assert "Click an article in the list" in view and selected == ""
    assert "**30 articles**" in corpus
    assert SEED_TITLE not in titles(articles) and len(articles["data"]) == 30
    assert not engine.catalog.has_article(cited.article_id)
    assert not NewsRAG(settings, engine.embedder).catalog.has_article(cited.article_id)  # gone on disk
    after = client.predict(SEED_QUESTION, [], api_name="/ask")
    assert cited.article_id not in {c["article_id"] for c in after["citations"]}
    assert "700" not in after["answer"]

    again = client.predict(cited.article_id, api_name="/remove_article")[0]
    assert again.startswith("\u26a0\ufe0f **Nothing removed:** no article with id")
    with pytest.raises(Exception, match="choose the article to remove"):
        client.predict("", api_name="/remove_article")


def test_added_times_show_as_utc_date_and_time_and_a_missing_one_as_a_dash():
    from newsrag.index.articles import Article
    from newsrag.ui.render import article_of_row, browse_rows, moment

    assert moment("2026-02-03T10:05:09+02:00") == "2026-02-03 08:05"
    assert moment("2026-02-03T10:05:09") == "2026-02-03 10:05"
    assert moment(None) == moment("") == moment("<b>soon</b>") == "-"
    old = Article("1", "Same title", "t", "Gazette", None, "2026-02-01")
    new = Article("2", "Same title", "u", "Gazette", None, "2026-02-01")
    new.metadata["added_at"] = "2026-03-01T12:00:00+00:00"
    rows = browse_rows([old, new])
    assert rows == [
        ["2026-02-01", "Gazette", "Same title", "-"],
        ["2026-02-01", "Gazette", "Same title", "2026-03-01 12:00"],
    ]
    assert article_of_row([old, new], rows[1]).id == "2"  # the added time tells them apart
    assert article_of_row([old, new], []) is None


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium: apt-get install chromium")
def test_in_a_browser_subscriptions_show_as_text_and_an_article_is_removed_after_confirming(
    start_app, feed_server, artifacts
):
    from playwright.sync_api import expect, sync_playwright

    url, _ = feed_server
    client, engine, settings = start_app(allow_local_feeds=True)
    client.predict(url, HOSTILE_NAME, api_name="/subscribe")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(client.src)
        page.wait_for_selector("#nr-chat", timeout=WAIT)

        page.get_by_role("tab", name="Add articles").click()
        subscriptions = page.locator("#nr-subscriptions")
        expect(subscriptions).to_contain_text(HOSTILE_NAME, timeout=WAIT)
        expect(subscriptions).to_contain_text("2 entries")
        page.screenshot(path=str(artifacts / "subscriptions.png"), full_page=True)

        page.get_by_role("tab", name="Browse articles").click()
        listing = page.locator("#nr-articles")
        expect(listing).to_contain_text("Added (UTC)")
        page.get_by_label("Search titles").fill("Lighthouse keeper")
        row = listing.get_by_text(LIGHTHOUSE).filter(visible=True).first
        expect(row).to_be_visible(timeout=WAIT)
        lighthouse = next(a for a in engine.catalog.articles() if a.title == LIGHTHOUSE)
        stamp = lighthouse.metadata["added_at"]
        expect(listing).to_contain_text(stamp[:10] + " " + stamp[11:16])
        row.click()
        expect(page.locator("#nr-article .nr-article h2")).to_have_text(LIGHTHOUSE, timeout=WAIT)

        page.locator("#nr-remove").click()
        confirm = page.locator("#nr-confirm")
        expect(confirm).to_be_visible(timeout=WAIT)
        expect(confirm).to_contain_text(f"Really remove \u201c{LIGHTHOUSE}\u201d")
        page.locator("#nr-remove-no").click()
        expect(confirm).to_be_hidden(timeout=WAIT)
        assert engine.catalog.has_article(lighthouse.id)

        page.locator("#nr-remove").click()
        expect(confirm).to_be_visible(timeout=WAIT)
        page.screenshot(path=str(artifacts / "remove-confirm.png"), full_page=True)
        page.locator("#nr-remove-yes").click()
        expect(page.locator("#nr-removal-result")).to_contain_text(
            f"Removed \u201c{LIGHTHOUSE}\u201d", timeout=WAIT
        )
        expect(confirm).to_be_hidden()
        expect(listing).not_to_contain_text(LIGHTHOUSE, timeout=WAIT)
        expect(page.locator("#nr-corpus")).to_contain_text("32 articles")
        page.screenshot(path=str(artifacts / "removed.png"), full_page=True)

        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#nr-subscriptions img, #nr-sub-result img").count() == 0
        assert not errors
        browser.close()
    assert [a.title for a in engine.catalog.articles() if a.metadata.get("feed") == url] == [FERRY]
