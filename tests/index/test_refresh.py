"""Subscriptions, refresh, retention and watch against real RSS and Atom feeds served on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from feed_server import Entry, atom, rss, start_feed_server

from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest
from newsrag.index.refresh import FEED_KEY, refresh
from newsrag.index.storage import current_snapshot_name, load_snapshot
from newsrag.index.subscriptions import SubscriptionError, Subscriptions
from newsrag.index.watch import Watcher, parse_interval
from newsrag.rag.engine import NewsRAG


def entry(n: int, fact: str) -> Entry:
    return Entry(
        f"http://news.example.org/story-{n}",
        f"Story {n} from the harbour town",
        f"{fact} The harbour council met on Monday to discuss the matter at length. "
        "Residents said they had waited a long time for news of it. "
        "Officials promised a further statement later in the week.",
    )


BRIDGE = entry(
    1, "The Zorbleton bridge reopened after fourteen months of repairs, said mayor Quentin Farrow."
)
FERRY = entry(2, "A new ferry named the Gull Runner will sail to Pellow Island twice a day from June.")
MARKET = entry(3, "The fish market in Zorbleton will move to the old rope works next spring.")


@pytest.fixture
def feeds():
    state, server = start_feed_server()
    yield state
    server.shutdown()


@pytest.fixture
def book(settings):
    return Subscriptions(settings.index_dir)


def articles(settings) -> dict[str, object]:
    return {a.id: a for a in Catalog(load_snapshot(settings.index_dir)).articles()}


def test_subscriptions_are_data_that_survive_and_name_their_errors(settings, book):
    added = book.add("https://example.org/feed.xml", "Example", keep_days=7, local_allowed=True)
    assert added.name == "Example" and added.keep_days == 7
    assert json.loads((settings.index_dir / "subscriptions.json").read_text())[0]["url"] == added.url
    assert Subscriptions(settings.index_dir).all() == [added]  # a new reader, as after a restart
    with pytest.raises(SubscriptionError, match="already subscribed"):
        book.add("https://example.org/feed.xml")
    with pytest.raises(SubscriptionError, match="not a feed URL"):
        book.add("file:///etc/passwd")
    with pytest.raises(SubscriptionError, match="not subscribed"):
        book.remove("https://example.org/other.xml")
    book.remove(added.url)
    assert book.all() == []


def test_refresh_adds_new_entries_then_only_what_changed(settings, embedder, feeds, book):
    url = feeds.publish("/harbour.rss", rss("Harbour Post", [BRIDGE, FERRY]))
    book.add(url, "Harbour Post", local_allowed=True)
    first = refresh(settings, embedder)
    [line] = [f.line() for f in first.feeds]
    assert (first.feeds[0].new, first.feeds[0].updated) == (2, 0), line
    landed = articles(settings)
    assert {a.metadata[FEED_KEY] for a in landed.values()} == {url}
    added_at = {i: a.metadata["added_at"] for i, a in landed.items()}

    changed_ferry = entry(2, "The Gull Runner ferry will now sail to Pellow Island three times a day.")
    feeds.publish("/harbour.rss", rss("Harbour Post", [BRIDGE, changed_ferry, MARKET]))
    second = refresh(settings, embedder)
    result = second.feeds[0]
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1), result.line()
    after = articles(settings)
    assert len(after) == 3
    ferry_id = next(i for i, a in after.items() if "Gull Runner" in a.text)
    assert "three times a day" in after[ferry_id].text
    # The updated entry's old chunks are gone, and it keeps the time it was first added.
    chunks = [c.get_content() for c in Catalog(load_snapshot(settings.index_dir)).chunks()]
    assert not any("twice a day" in c for c in chunks)
    assert after[ferry_id].metadata["added_at"] == added_at[ferry_id]
    assert book.get(url).articles == 3 and book.get(url).last_status == "3 entries"


def test_an_unchanged_feed_is_answered_304_and_writes_nothing(settings, embedder, feeds, book):
    url = feeds.publish("/quiet.atom", atom("Quiet Times", [BRIDGE]), "application/atom+xml")
    book.add(url, local_allowed=True)
    refresh(settings, embedder)
    live = current_snapshot_name(settings.index_dir)
    again = refresh(settings, embedder)
    assert again.feeds[0].status == "not modified"
    assert again.ingest is None and not again.changed
    assert current_snapshot_name(settings.index_dir) == live
    [(first_tag, first_status), (second_tag, second_status)] = feeds.served("/quiet.atom")
    assert (first_tag, first_status) == (None, 200)
    assert second_tag == feeds.feeds["/quiet.atom"].etag and second_status == 304


def test_a_failing_feed_is_reported_backs_off_and_the_others_land(settings, embedder, feeds, book):
    good = feeds.publish("/good.rss", rss("Good", [BRIDGE]))
    bad = feeds.publish("/broken.rss", rss("Broken", [FERRY]))
    feeds.feeds["/broken.rss"].status = 500
    garbage = feeds.publish("/garbage.rss", b"<html>not a feed at all</html>", "text/html")
    for url in (good, bad, garbage):
        book.add(url, local_allowed=True)
    report = refresh(settings, embedder)
    status = {r.subscription.url: r for r in report.feeds}
    assert status[good].new == 1
    assert status[bad].status == "failed" and "HTTP 500" in status[bad].line()
    assert status[garbage].status == "failed"
    assert len(articles(settings)) == 1
    assert book.get(bad).failures == 1 and book.get(bad).retry_after
    # Within the backoff the failing feed is not fetched again; the good one still is.
    later = refresh(settings, embedder)
    assert {r.subscription.url: r.status for r in later.feeds}[bad] == "waiting"
    assert len(feeds.served("/broken.rss")) == 1
    # Once due, a feed that works again lands and its failure count resets.
    feeds.feeds["/broken.rss"].status = 200
    after_backoff = datetime.now(UTC) + timedelta(hours=1)
    recovered = refresh(settings, embedder, at=after_backoff)
    assert {r.subscription.url: r.new for r in recovered.feeds}[bad] == 1
    assert book.get(bad).failures == 0


def test_a_feed_on_this_machine_is_refused_unless_the_operator_subscribed_it(settings, embedder, feeds, book):
    url = feeds.publish("/local.rss", rss("Local", [BRIDGE]))
    book.add(url)  # as the web UI adds: local addresses stay refused
    report = refresh(settings, embedder)
    assert report.feeds[0].status == "failed" and "local address" in report.feeds[0].error
    assert feeds.served("/local.rss") == []  # refused before any connection


def test_retention_removes_a_feeds_articles_older_than_keep_days(settings, embedder, feeds, book):
    old = entry(4, "The lighthouse at Zorbleton Point was painted red and white.")
    old.published = "Sun, 01 Nov 2026 09:00:00 GMT"
    url = feeds.publish("/kept.rss", rss("Kept", [BRIDGE, old]))
    book.add(url, keep_days=14, local_allowed=True)
    report = refresh(settings, embedder, at=datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert len(report.removed) == 1 and report.feeds[0].removed == 1
    assert [a.title for a in articles(settings).values()] == [BRIDGE.title]


def test_subscriptions_survive_a_rebuild(settings, embedder, feeds, book, small_corpus):
    url = feeds.publish("/harbour.rss", rss("Harbour Post", [BRIDGE]))
    book.add(url, local_allowed=True)
    refresh(settings, embedder)
    ingest(settings, [str(small_corpus / "border-czar-minneapolis.txt")], embedder, rebuild=True)
    assert [s.url for s in Subscriptions(settings.index_dir).all()] == [url]


def test_a_watched_folders_new_file_becomes_answerable(settings, embedder, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "first.txt").write_text("Harbour notes\n\n" + BRIDGE.text)
    watcher = Watcher(settings, embedder, [str(folder)])
    first = watcher.run_once()
    assert first.files is not None and len(first.files.new) == 1
    assert watcher.run_once().files is None  # nothing changed: nothing read
    (folder / "second.txt").write_text("Ferry notes\n\n" + FERRY.text)
    third = watcher.run_once()
    assert third.changed_files == [str(folder / "second.txt")] and len(third.files.new) == 1
    answer = NewsRAG(settings, embedder).ask("What is the new ferry to Pellow Island called?")
    assert not answer.refused and "Gull Runner" in answer.text


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("45", 45)]
)
def test_intervals(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0s", "99d", "-5m"])
def test_bad_intervals_are_named(text):
    with pytest.raises(ValueError, match=text):
        parse_interval(text)
