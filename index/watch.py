"""Watch: refresh the subscriptions on a schedule and ingest files that appear or change in watched folders."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import IngestReport, ingest
from newsrag.index.loaders import SUPPORTED_SUFFIXES
from newsrag.index.refresh import RefreshReport, refresh
from newsrag.index.settings import IndexSettings
from newsrag.index.subscriptions import Subscriptions

log = logging.getLogger(__name__)


@dataclass
class Round:
    """One pass of a watch: the feeds' refresh and the watched files' ingest (either may be absent)."""

    feeds: RefreshReport | None = None
    files: IngestReport | None = None
    changed_files: list[str] = field(default_factory=list)
    error: str | None = None

    def lines(self) -> list[str]:
        out = []
        if self.feeds is not None:
            out += [f.line() for f in self.feeds.feeds] + [self.feeds.summary()]
        if self.files is not None:
            out.append(f"watched files: {len(self.changed_files)} changed; {self.files.summary()}")
        if self.error:
            out.append(f"this round failed: {self.error}; the next one tries again")
        return out


class Watcher:
    """Keeps an index current: each round refreshes the feeds and ingests new or changed watched files.

    A file is ingested when its modification time or size differs from the last round's (all of
    them in the first round, where ingest skips the unchanged ones cheaply). A round that fails
    (the index locked by another writer past the timeout, a disk error) is logged and retried next round.
    """

    def __init__(
        self, settings: IndexSettings, embedder: SentenceTransformerEmbedding, paths: list[str] | None = None
    ) -> None:
        self.settings, self.embedder = settings, embedder
        self.paths = [Path(p) for p in paths or []]
        self._seen: dict[Path, tuple[float, int]] = {}

    def changed_files(self) -> list[str]:
        current: dict[Path, tuple[float, int]] = {}
        for root in self.paths:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for path in files:
                if path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith("."):
                    try:
                        stat = path.stat()
                    except OSError:
                        continue  # removed between listing and reading
                    current[path] = (stat.st_mtime, stat.st_size)
        changed = [str(p) for p, sig in current.items() if self._seen.get(p) != sig]
        self._seen = current
        return changed

    def run_once(self) -> Round:
        result = Round()
        try:
            if Subscriptions(self.settings.index_dir).all():
                result.feeds = refresh(self.settings, self.embedder)
            result.changed_files = self.changed_files()
            if result.changed_files:
                result.files = ingest(self.settings, result.changed_files, self.embedder)
        except Exception as exc:  # a round never ends the watch: the next one tries again
            log.exception("watch round failed")
            result.error = f"{type(exc).__name__}: {exc}"
        return result

    def run(
        self, every: float, stop: threading.Event, on_round: Callable[[Round], None] | None = None
    ) -> None:
        """Rounds every `every` seconds until `stop` is set; the first round starts at once."""
        while not stop.is_set():
            started = time.monotonic()
            finished = self.run_once()
            if on_round:
                on_round(finished)
            stop.wait(max(0.0, every - (time.monotonic() - started)))


def parse_interval(text: str) -> float:
    """'90s', '15m', '2h', '1d' or plain seconds, as seconds; a ValueError names what is wrong."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    scale = units.get(value[-1:], None)
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise ValueError(f"'{text}' is not an interval: write e.g. 30s, 15m, 2h or 1d") from None
    if not 1 <= seconds <= 30 * 86400:
        raise ValueError(f"'{text}': the interval must be between 1 second and 30 days")
    return seconds
