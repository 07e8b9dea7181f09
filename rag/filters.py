"""Metadata filters (source, date range) applied before the top-k is cut."""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.schema import BaseNode


@dataclass(frozen=True)
class Filters:
    """Which articles a question may draw on; empty means all."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive
    article_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.sources or self.date_from or self.date_to or self.article_ids)

    def accepts(self, node: BaseNode) -> bool:
        meta = node.metadata
        if self.article_ids and node.ref_doc_id not in self.article_ids:
            return False
        if self.sources and (meta.get("source") or "") not in self.sources:
            return False
        date = (meta.get("published_at") or "")[:10]
        if (self.date_from or self.date_to) and not date:
            return False  # an undated article cannot be shown to fall in the range
        if self.date_from and date < self.date_from:
            return False
        return not (self.date_to and date > self.date_to)
