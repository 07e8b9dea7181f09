"""Feed subscriptions: the feeds an index follows, kept beside its snapshots as plain JSON.

`subscriptions.json` sits in the index directory, outside every snapshot, so it survives restarts,
`--rebuild` and snapshot swaps; it is rewritten whole through a temporary file and `os.replace`,
under its own lock, so a crash leaves the old list or the new one, never half of either.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsrag.errors import NewsRagError

FILE = "subscriptions.json"
BACKOFF_BASE = timedelta(minutes=5)  # after n failures in a row, wait 5 min * 2^(n-1), at most a day
BACKOFF_MAX = timedelta(days=1)


class SubscriptionError(NewsRagError):
    """A subscription that cannot be added or removed, said in one line."""


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Subscription:
    """One followed feed and what its last fetch did."""

    url: str
    name: str = ""
    added_at: str = ""
    keep_days: int | None = None  # articles from it older than this are removed at refresh
    local_allowed: bool = False  # added by the operator (CLI): it may be on this machine or its network
    last_fetched: str | None = None
    last_status: str = "never fetched"
    articles: int = 0  # articles in the index that came from it, as of the last refresh
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0  # failed fetches in a row
    retry_after: str | None = None  # a failing feed is not fetched again before this time

    def due(self, at: datetime | None = None) -> bool:
        """Whether a refresh should fetch it now (a failing feed waits out its backoff)."""
        return self.retry_after is None or datetime.fromisoformat(self.retry_after) <= (at or now())

    def failed(self, status: str, at: datetime | None = None) -> None:
        at = at or now()
        self.failures += 1
        self.last_fetched, self.last_status = at.isoformat(), status
        wait = min(BACKOFF_BASE * 2 ** (self.failures - 1), BACKOFF_MAX)
        self.retry_after = (at + wait).isoformat()

    def succeeded(self, status: str, at: datetime | None = None) -> None:
        self.failures, self.retry_after = 0, None
        self.last_fetched, self.last_status = (at or now()).isoformat(), status


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a SubscriptionError naming it; where it may point is fetch's business."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionError(f"'{url}' is not a feed URL: give an http:// or https:// address")
    if len(url) > 2000 or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise SubscriptionError(
            f"'{url[:80]}' is not a feed URL: it is too long or holds spaces or control characters"
        )
    return url


class Subscriptions:
    """The subscription list of one index directory; every change is one atomic rewrite."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / FILE

    def all(self) -> list[Subscription]:
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SubscriptionError(f"{self.path} cannot be read ({exc}): fix or delete it") from exc
        known = {f.name for f in fields(Subscription)}
        return [Subscription(**{k: v for k, v in row.items() if k in known}) for row in rows]

    def get(self, url: str) -> Subscription | None:
        return next((s for s in self.all() if s.url == url), None)

    @contextmanager
    def editing(self) -> Iterator[list[Subscription]]:
        """The list to change in place, written back atomically when the block ends without error."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.index_dir / (FILE + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subscriptions = self.all()
            yield subscriptions
            self._write(subscriptions)

    def add(
        self, url: str, name: str = "", keep_days: int | None = None, local_allowed: bool = False
    ) -> Subscription:
        """Subscribe; `local_allowed` only for the operator (the CLI), never for a URL a web user typed."""
        url = check_url(url)
        if keep_days is not None and keep_days < 1:
            raise SubscriptionError(f"--keep-days {keep_days}: give a number of days of at least 1")
        with self.editing() as subscriptions:
            if any(s.url == url for s in subscriptions):
                raise SubscriptionError(f"already subscribed to {url}")
            shown = name.strip()[:200] or urlsplit(url).hostname or url
            added = Subscription(url, shown, now().isoformat(), keep_days, local_allowed)
            subscriptions.append(added)
        return added

    def remove(self, url: str) -> Subscription:
        with self.editing() as subscriptions:
            found = next((s for s in subscriptions if s.url == url.strip()), None)
            if found is None:
                raise SubscriptionError(
                    f"not subscribed to {url}: `newsrag feeds list` shows the subscriptions"
                )
            subscriptions.remove(found)
        return found

    def update(self, changed: list[Subscription]) -> None:
        """Write back what a refresh learnt, keeping subscriptions added or removed meanwhile as they are."""
        by_url = {s.url: s for s in changed}
        with self.editing() as subscriptions:
            for k, s in enumerate(subscriptions):
                if s.url in by_url:
                    subscriptions[k] = by_url[s.url]

    def _write(self, subscriptions: list[Subscription]) -> None:
        tmp = self.path.with_suffix(".tmp")
        rows: list[dict[str, Any]] = [asdict(s) for s in subscriptions]
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
