"""Articles to LlamaIndex Documents and sentence-aware chunks sized in the embedder's word pieces."""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter

from newsrag.index.articles import Article

# Only the title goes into what is embedded: a chunk is findable by what its article is about.
EMBEDDED_KEYS = {"title"}
METADATA_KEYS = ("title", "source", "url", "published_at", "authors", "content_hash")


# A title is embedded with every chunk of its article; a run-on "title" must not crowd out the text.
MAX_TITLE_CHARS = 200


def article_to_document(article: Article) -> Document:
    title = (
        article.title
        if len(article.title) <= MAX_TITLE_CHARS
        else article.title[: MAX_TITLE_CHARS - 1] + "\u2026"
    )
    metadata = {
        "title": title,
        "source": article.source or "",
        "url": article.url or "",
        "published_at": article.published_at or "",
        "authors": ", ".join(article.authors),
        "content_hash": article.content_hash,
        "extra": {k: v for k, v in article.metadata.items() if k != "origin"},
    }
    excluded = [k for k in metadata if k not in EMBEDDED_KEYS]
    return Document(
        id_=article.id,
        text=article.text,
        metadata=metadata,
        excluded_embed_metadata_keys=excluded,
        excluded_llm_metadata_keys=excluded,
    )


def document_to_article(doc: Document) -> Article:
    meta = doc.metadata
    return Article(
        id=doc.id_,
        title=meta.get("title", ""),
        text=doc.text,
        source=meta.get("source") or None,
        url=meta.get("url") or None,
        published_at=meta.get("published_at") or None,
        authors=[a for a in meta.get("authors", "").split(", ") if a],
        metadata=dict(meta.get("extra") or {}),
    )


def make_splitter(
    chunk_size: int, chunk_overlap: int, tokenize: Callable[[str], list[str]]
) -> SentenceSplitter:
    """Sentence-aware splitting measured by the embedder's tokenizer, so nothing is silently truncated."""
    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=tokenize,
        paragraph_separator="\n",
        include_prev_next_rel=False,
    )
