"""What a writer needs to know of an index without loading it: each live article's hashes and chunks.

Adding one article used to load the whole index first (every docstore parsed, every node built, every
vector read: 2.4 s at 10,000 articles, growing with the corpus) only to learn which articles exist,
whether an input changed, and which chunks an updated article had. So each segment also writes
articles.json: for every article it adds, the document hash LlamaIndex's upserts compare, the content
hash duplicates are found by, when it was first added, and its chunk ids; and the next vector id.
Replaying these files (a segment's removals, then its additions, as the docstore is replayed) gives
the live articles without reading a docstore or a vector.

A segment written before this file existed, or with the file damaged, is read from its docstore.json
instead: slower, never wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llama_index.core.schema import ObjectType

from newsrag.errors import IndexDamagedError

log = logging.getLogger(__name__)

LEDGER_FILE = "articles.json"
# LlamaIndex's SimpleDocumentStore collections: nodes (articles and chunks), their hashes, each article's chunks.
NODES = "docstore/data"
HASHES = "docstore/metadata"
REF_DOCS = "docstore/ref_doc_info"

# A docstore's entries by collection, as its SimpleKVStore holds them and docstore.json stores them.
Collections = dict[str, dict[str, dict]]


@dataclass(frozen=True)
class ArticleEntry:
    # LlamaIndex's hash of the stored document: what tells an updated input from an unchanged one.
    doc_hash: str
    content_hash: str  # of the article's text and title: what finds a duplicate under another id
    added_at: str | None  # when it was first added; an update keeps it
    chunks: tuple[str, ...]  # the docstore ids of its chunks, which an update or a removal deletes


def articles_of(data: Collections) -> dict[str, ArticleEntry]:
    """The articles among docstore entries (plain JSON, as written), read without building a node."""
    hashes, ref_docs = data.get(HASHES, {}), data.get(REF_DOCS, {})
    found = {}
    for key, entry in data.get(NODES, {}).items():
        if entry.get("__type__") != ObjectType.DOCUMENT:
            continue
        metadata = entry.get("__data__", {}).get("metadata", {})
        content_hash = metadata.get("content_hash") or _content_hash_of(entry)
        found[key] = ArticleEntry(
            doc_hash=str(hashes.get(key, {}).get("doc_hash", "")),
            content_hash=str(content_hash),
            added_at=(metadata.get("extra") or {}).get("added_at"),
            chunks=tuple(ref_docs.get(key, {}).get("node_ids", [])),
        )
    return found


def _content_hash_of(entry: dict) -> str:
    """An article stored before its content hash was kept in its metadata: hashed from its text."""
    from llama_index.core.storage.docstore.utils import json_to_doc

    from newsrag.index.chunking import document_to_article

    return document_to_article(json_to_doc(entry)).content_hash  # type: ignore[arg-type]


@dataclass
class Ledger:
    """The live articles of an index, and the id its next vector gets."""

    articles: dict[str, ArticleEntry]
    next_id: int = 0

    @classmethod
    def of_collections(cls, data: Collections, next_id: int) -> Ledger:
        """The ledger of a loaded docstore (an index read whole)."""
        return cls(articles_of(data), next_id)

    def apply(
        self, articles: dict[str, ArticleEntry], removed: Mapping[str, Iterable[str]], next_id: int
    ) -> None:
        """One segment's changes, as a replay applies them: its removals, then the articles it adds."""
        for key in removed.get(NODES, ()):
            self.articles.pop(key, None)
        self.articles.update(articles)
        self.next_id = max(self.next_id, next_id)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.articles

    def __len__(self) -> int:
        return len(self.articles)

    def content_hashes(self) -> dict[str, str]:
        """Each article's content hash to its id, for duplicate checks."""
        return {entry.content_hash: article_id for article_id, entry in self.articles.items()}


def ledger_bytes(articles: dict[str, ArticleEntry], next_id: int) -> bytes:
    """articles.json of a segment: the articles it adds and the next vector id after it."""
    return json.dumps(
        {
            "next_id": next_id,
            "articles": {
                key: [e.doc_hash, e.content_hash, e.added_at, list(e.chunks)] for key, e in articles.items()
            },
        }
    ).encode()


def read_ledger_file(folder: Path) -> tuple[dict[str, ArticleEntry], int] | None:
    """A segment's articles.json; None (logged) when it is missing or damaged: read its docstore instead."""
    path = folder / LEDGER_FILE
    try:
        payload = json.loads(path.read_bytes())
        if not isinstance(payload, dict) or set(payload) != {"next_id", "articles"}:
            raise IndexDamagedError("not a ledger (keys next_id, articles)")
        next_id, rows = payload["next_id"], payload["articles"]
        if type(next_id) is not int or not isinstance(rows, dict):
            raise IndexDamagedError("a value of the wrong type")
        articles = {}
        for key, row in rows.items():
            doc_hash, content_hash, added_at, chunks = row
            if not (
                isinstance(doc_hash, str)
                and isinstance(content_hash, str)
                and (added_at is None or isinstance(added_at, str))
                and isinstance(chunks, list)
                and all(isinstance(c, str) for c in chunks)
            ):
                raise IndexDamagedError(f"article {key}: a value of the wrong type")
            articles[key] = ArticleEntry(doc_hash, content_hash, added_at, tuple(chunks))
    except FileNotFoundError:
        log.info("segment %s has no %s: reading its docstore instead", folder.name, LEDGER_FILE)
        return None
    except (OSError, ValueError, TypeError, IndexDamagedError) as exc:  # ValueError: bad JSON or a short row
        log.warning(
            "segment %s: %s is damaged (%s): reading its docstore instead", folder.name, LEDGER_FILE, exc
        )
        return None
    return articles, next_id
