"""Refresh: fetch every due subscription once, ingest what is new or changed, apply retention.

Each feed is fetched on its own, before any lock, with a conditional GET (an unchanged feed costs
one 304); a feed that fails is reported, backs off, and never keeps the others out. What the
feeds gave lands in one ingest (one snapshot write); only after it landed are the feeds'
validators stored, so a failed write is fetched again in full next time.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from newsrag.errors import IndexNotFoundError
from newsrag.index.articles import Article, InputError
from newsrag.index.catalog import Catalog
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.fetch import FetchError, fetch
from newsrag.index.ingest import IngestReport, ingest_articles, remove
from newsrag.index.loaders import feed_articles
from newsrag.index.settings import IndexSettings
from newsrag.index.storage import load_snapshot
from newsrag.index.subscriptions import Subscription, Subscriptions, now
from newsrag.index.vector_backend import VectorBackend

log = logging.getLogger(__name__)

FEED_KEY = "feed"  # article metadata: the subscription URL an article came from


@dataclass
class FeedResult:
    """What one subscription's refresh did."""

    subscription: Subscription
    status: str  # "fetched", "not modified", "failed", "waiting" (backing off)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0  # entries that could not be read
    error: str = ""

    def line(self) -> str:
        s = self.subscription
        head = f"{s.name} ({s.url}): "
        if self.status == "failed":
            return head + f"failed: {self.error}; retried after {s.retry_after}"
        if self.status == "waiting":
            return head + f"not fetched: backing off after {s.failures} failure(s), until {s.retry_after}"
        if self.status == "not modified":
            body = "not modified"
        else:
            body = f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"
            if self.skipped:
                body += f", {self.skipped} unreadable"
        return (
            head
            + body
            + (f", {self.removed} removed (older than {s.keep_days} days)" if self.removed else "")
        )


@dataclass
class RefreshReport:
    feeds: list[FeedResult] = field(default_factory=list)
    ingest: IngestReport | None = None
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.removed or (self.ingest and self.ingest.changed))

    def summary(self) -> str:
        count = {
            k: sum(f.status == k for f in self.feeds)
            for k in ("fetched", "not modified", "failed", "waiting")
        }
        new = sum(f.new for f in self.feeds)
        updated = sum(f.updated for f in self.feeds)
        return (
            f"refresh: {len(self.feeds)} feed(s): {count['fetched']} fetched, {count['not modified']} not "
            f"modified, {count['failed']} failed, {count['waiting']} backing off; {new} new, {updated} "
            f"updated, {len(self.removed)} removed articles"
        )


def refresh(
    settings: IndexSettings, embedder: SentenceTransformerEmbedding, at: datetime | None = None
) -> RefreshReport:
    """Fetch every due subscription once and ingest what changed; the subscription file records each outcome."""
    at = at or now()
    book = Subscriptions(settings.index_dir)
    report = RefreshReport()
    found: list[Article | InputError] = []
    feed_of: dict[str, FeedResult] = {}
    validators: dict[str, tuple[str | None, str | None]] = {}
    for sub in book.all():
        if not sub.due(at):
            report.feeds.append(FeedResult(sub, "waiting"))
            continue
        result = _fetch_one(sub, settings, at, found, feed_of, validators)
        report.feeds.append(result)
    if found:
        report.ingest = ingest_articles(settings, found, embedder)
        for article_id, result in feed_of.items():
            if article_id in report.ingest.new:
                result.new += 1
            elif article_id in report.ingest.updated:
                result.updated += 1
            else:
                result.unchanged += 1
    for url, (etag, modified) in validators.items():  # stored only now that what they covered has landed
        result = next(r for r in report.feeds if r.subscription.url == url)
        result.subscription.etag, result.subscription.last_modified = etag, modified
    report.removed = _apply_retention(settings, report, at)
    _count_articles(settings, report)
    book.update([r.subscription for r in report.feeds])
    return report


def _fetch_one(
    sub: Subscription,
    settings: IndexSettings,
    at: datetime,
    found: list[Article | InputError],
    feed_of: dict[str, FeedResult],
    validators: dict[str, tuple[str | None, str | None]],
) -> FeedResult:
    try:
        policy = settings.feed_policy
        if sub.local_allowed and not policy.allow_local:  # the operator subscribed it from the CLI
            policy = dataclasses.replace(policy, allow_local=True)
        fetched = fetch(sub.url, policy, sub.etag, sub.last_modified)
    except FetchError as exc:
        sub.failed(exc.reason, at)
        return FeedResult(sub, "failed", error=exc.reason)
    if fetched.not_modified:
        sub.succeeded("not modified", at)
        return FeedResult(sub, "not modified")
    items = list(feed_articles(fetched.body, sub.url, settings, fetched.content_type, fetched.url))
    articles = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, InputError)]
    if not articles:  # garbage, an error page, an empty feed: nothing to ingest, try again later
        reason = errors[0].reason if errors else "the feed has no entries"
        sub.failed(reason, at)
        return FeedResult(sub, "failed", error=reason)
    result = FeedResult(sub, "fetched", skipped=len(errors))
    for article in articles:
        article.metadata[FEED_KEY] = sub.url
        feed_of.setdefault(article.id, result)
    found.extend(items)
    validators[sub.url] = (fetched.etag, fetched.last_modified)
    sub.succeeded(f"{len(articles)} entries", at)
    return result


def _article_time(article: Article) -> datetime | None:
    """When the article was published, else when it was added: what retention measures age by."""
    for value in (article.published_at, article.metadata.get("added_at")):
        if value:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _apply_retention(settings: IndexSettings, report: RefreshReport, at: datetime) -> list[str]:
    """Remove articles older than their subscription's keep_days, in one atomic removal."""
    keep = {r.subscription.url: r for r in report.feeds if r.subscription.keep_days}
    if not keep:
        return []
    try:
        with VectorBackend.from_settings(settings) as vectors:
            catalog = Catalog(load_snapshot(settings.index_dir, vectors))
    except IndexNotFoundError:
        return []
    old: list[str] = []
    for article in catalog.articles():
        result = keep.get(article.metadata.get(FEED_KEY, ""))
        moment = _article_time(article)
        if result and moment and moment < at - timedelta(days=result.subscription.keep_days or 0):
            old.append(article.id)
            result.removed += 1
    if old:
        remove(settings, old)
    return old


def _count_articles(settings: IndexSettings, report: RefreshReport) -> None:
    try:
        with VectorBackend.from_settings(settings) as vectors:
            catalog = Catalog(load_snapshot(settings.index_dir, vectors))
    except IndexNotFoundError:
        return
    counts: dict[str, int] = {}
    for article in catalog.articles():
        url = article.metadata.get(FEED_KEY)
        if url:
            counts[url] = counts.get(url, 0) + 1
    for result in report.feeds:
        result.subscription.articles = counts.get(result.subscription.url, 0)
