"""Metadata filters (source, date range, article ids) applied before the top-k is cut, and by the corpus browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llama_index.core.schema import BaseNode

from newsrag.index.articles import Article


@dataclass(frozen=True)
class Filters:
    """Which articles a question (or a listing) may draw on; empty means all."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive
    article_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.sources or self.date_from or self.date_to or self.article_ids)

    def accepts(self, node: BaseNode) -> bool:
        """Whether a chunk's article passes (its metadata carries the article's source and date)."""
        meta = node.metadata
        return self.admits(node.ref_doc_id, meta.get("source"), meta.get("published_at"))

    def accepts_article(self, article: Article) -> bool:
        return self.admits(article.id, article.source, article.published_at)

    def admits(self, article_id: str | None, source: str | None, published_at: str | None) -> bool:
        if self.article_ids and article_id not in self.article_ids:
            return False
        if self.sources and (source or "") not in self.sources:
            return False
        date = (published_at or "")[:10]
        if (self.date_from or self.date_to) and not date:
            return False  # an undated article cannot be shown to fall in the range
        if self.date_from and date < self.date_from:
            return False
        return not (self.date_to and date > self.date_to)


class ChunkFilterIndex:
    """Positions of chunks by date (sorted) and by source and article, built once per snapshot.

    A filter's chunks are found by two binary searches on the dates and a lookup per source or
    article, not by testing every chunk's metadata per question.
    """

    def __init__(self, chunks: Sequence[BaseNode]) -> None:
        self.size = len(chunks)
        dates = [str(c.metadata.get("published_at") or "")[:10] for c in chunks]
        self._by_date = np.array(sorted(range(self.size), key=dates.__getitem__), dtype=np.int64)
        self._dates = np.array([dates[i] for i in self._by_date], dtype=object)
        self._undated = int(np.searchsorted(self._dates, "", side="right"))  # "" sorts first
        self._by_source: dict[str, list[int]] = {}
        self._by_article: dict[str, list[int]] = {}
        for k, chunk in enumerate(chunks):
            self._by_source.setdefault(str(chunk.metadata.get("source") or ""), []).append(k)
            self._by_article.setdefault(chunk.ref_doc_id or "", []).append(k)

    def positions(self, filters: Filters) -> np.ndarray:
        """Sorted positions of the chunks the filters admit (the same as `Filters.accepts` on each)."""
        keep: np.ndarray | None = None
        if filters.date_from or filters.date_to:
            lo = self._undated
            if filters.date_from:
                lo = max(lo, int(np.searchsorted(self._dates, filters.date_from, side="left")))
            hi = self.size
            if filters.date_to:
                hi = int(np.searchsorted(self._dates, filters.date_to, side="right"))
            keep = np.sort(self._by_date[lo:hi])
        for chosen, table in ((filters.sources, self._by_source), (filters.article_ids, self._by_article)):
            if chosen:
                found = np.array(
                    sorted(k for name in set(chosen) for k in table.get(name, ())), dtype=np.int64
                )
                keep = found if keep is None else np.intersect1d(keep, found, assume_unique=True)
        return np.arange(self.size) if keep is None else keep
