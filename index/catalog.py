"""Read-only views of a loaded index: its articles, chunks and figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from llama_index.core import Document
from llama_index.core.schema import TextNode

from newsrag.errors import ArticleNotFoundError
from newsrag.index.articles import Article
from newsrag.index.chunking import document_to_article
from newsrag.index.storage import Snapshot


@dataclass(frozen=True)
class IndexStats:
    articles: int
    chunks: int
    sources: dict[str, int]
    first_date: str | None
    last_date: str | None
    embed_model: str
    dimension: int
    size_bytes: int
    updated_at: str
    warning: str | None = None  # set when a damaged live snapshot fell back to the one before it


class Catalog:
    """Articles and chunks of one snapshot, split out of the mixed LlamaIndex docstore once."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._documents: dict[str, Document] = {}
        self._chunks: dict[str, TextNode] = {}
        nodes = snapshot.nodes if snapshot.nodes is not None else snapshot.docstore.docs
        for node_id, node in nodes.items():
            if isinstance(node, Document):
                self._documents[node_id] = node
            elif isinstance(node, TextNode):
                self._chunks[node_id] = node

    @property
    def warning(self) -> str | None:
        """Why these are not the live snapshot's articles (it is damaged), or None."""
        return self.snapshot.warning

    def articles(self) -> list[Article]:
        """Articles newest first (undated last), then by title."""
        by_title = sorted(
            (document_to_article(d) for d in self._documents.values()), key=lambda a: a.title.lower()
        )
        # Stable sort: within one date (and among the undated, sorted last) titles stay in order.
        return sorted(
            by_title, key=lambda a: (a.published_at is not None, a.published_at or ""), reverse=True
        )

    def article(self, article_id: str) -> Article:
        doc = self._documents.get(article_id)
        if doc is None:
            raise ArticleNotFoundError(f"no article with id '{article_id}' in the index (see `newsrag list`)")
        return document_to_article(doc)

    def has_article(self, article_id: str) -> bool:
        return article_id in self._documents

    def chunks(self) -> list[TextNode]:
        return list(self._chunks.values())

    def chunk(self, node_id: str) -> TextNode:
        return self._chunks[node_id]

    def stats(self) -> IndexStats:
        articles = self.articles()
        dates = sorted(a.published_at[:10] for a in articles if a.published_at)
        manifest = self.snapshot.manifest
        return IndexStats(
            articles=len(articles),
            chunks=len(self._chunks),
            sources=dict(Counter(a.source or "(unknown)" for a in articles).most_common()),
            first_date=dates[0] if dates else None,
            last_date=dates[-1] if dates else None,
            embed_model=manifest.embed_model,
            dimension=manifest.dimension,
            size_bytes=self.snapshot.size_bytes(),
            updated_at=manifest.updated_at,
            warning=self.warning,
        )
