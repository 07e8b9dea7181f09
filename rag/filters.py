"""Metadata filters (source, date range, article ids) applied before the top-k is cut, and by the corpus browser."""

from __future__ import annotations

from dataclasses import dataclass

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
