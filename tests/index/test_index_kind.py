"""The FAISS index type follows the corpus size: exact search for small corpora, HNSW for large ones,
recorded in the manifest; HNSW's top 10 agrees with exact search, deletions and filters stay exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery
from sample_data import SEED, SEED_QUESTION, SEED_TITLE, cnndm_rows

import newsrag.index.vector_store as vector_store
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.storage import SEGMENT_LIST, current_snapshot_dir, load_snapshot
from newsrag.index.vector_store import FaissArticleStore, index_kind_for, new_faiss_index
from newsrag.rag.engine import NewsRAG


def test_the_index_kind_follows_the_number_of_vectors():
    assert index_kind_for(0) == index_kind_for(vector_store.HNSW_FROM - 1) == "flat"
    assert index_kind_for(vector_store.HNSW_FROM) == index_kind_for(10**7) == "hnsw"


@pytest.fixture(scope="module")
def sentences(embedder) -> tuple[list[str], np.ndarray, np.ndarray]:
    """About 1,500 real sentences of the bundled CNN/DailyMail articles, embedded, and 60 queries'
    vectors (their titles)."""
    rows = cnndm_rows(60)
    texts = [s.strip() for r in rows for s in r["text"].split(". ") if len(s.split()) > 5]
    texts = list(dict.fromkeys(texts))[:1500]
    vectors = np.asarray(embedder.get_text_embedding_batch(texts), dtype="float32")
    queries = np.asarray([embedder.get_query_embedding(r["title"]) for r in rows], dtype="float32")
    return texts, vectors, queries


def store_of(kind: str, vectors: np.ndarray) -> FaissArticleStore:
    store = FaissArticleStore(vectors.shape[1], new_faiss_index(vectors.shape[1], kind))
    ids = np.arange(len(vectors), dtype=np.int64)
    store._index.add_with_ids(vectors, ids)
    for i in range(len(vectors)):
        store._file(f"a{i // 10}#{i % 10}", i, f"a{i // 10}")
    store._next_id = len(vectors)
    return store


def top(store: FaissArticleStore, query: np.ndarray, k: int = 10, allowed=None) -> list[str]:
    return store.query(
        VectorStoreQuery(query_embedding=query.tolist(), similarity_top_k=k, node_ids=allowed)
    ).ids


def test_hnsw_agrees_with_exact_search_on_real_sentences(sentences):
    _, vectors, queries = sentences
    exact, approximate = store_of("flat", vectors), store_of("hnsw", vectors)
    assert (exact.kind, approximate.kind) == ("flat", "hnsw")
    recall = np.mean([len(set(top(exact, q)) & set(top(approximate, q))) / 10 for q in queries])
    print(
        f"HNSW recall@10 against exact search: {recall:.3f} over {len(queries)} queries, {len(vectors)} vectors"
    )
    assert recall >= 0.98


def test_vectors_deleted_from_hnsw_are_never_returned_and_a_rewrite_drops_them(sentences):
    _, vectors, queries = sentences
    store = store_of("hnsw", vectors)
    before = top(store, queries[0], k=20)
    gone = before[:5]
    store.delete_nodes(gone)
    assert len(store) == len(vectors) - 5 and store.has_dead
    after = top(store, queries[0], k=20)
    assert not set(gone) & set(after) and after[:15] == before[5:20]
    rewritten = store.rewritten("hnsw")
    assert not rewritten.has_dead and rewritten._index.ntotal == len(vectors) - 5
    assert top(rewritten, queries[0], k=10) == after[:10]


def test_a_filter_on_hnsw_is_searched_exactly(sentences):
    _, vectors, queries = sentences
    exact, approximate = store_of("flat", vectors), store_of("hnsw", vectors)
    allowed = [f"a{n}#{i}" for n in range(0, 150, 7) for i in range(10)]
    for query in queries[:20]:
        assert top(approximate, query, allowed=allowed) == top(exact, query, allowed=allowed)


def test_a_large_segment_is_written_as_hnsw_recorded_and_answers(index_copy, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(vector_store, "HNSW_FROM", 50)  # the small index's ~120 chunks count as large
    report = ingest(index_copy, [str(SEED), _stories(tmp_path, 0, 5)], embedder, rebuild=True)
    assert len(report.new) == 6
    ingest(index_copy, [_stories(tmp_path, 5, 35)], embedder)  # 30 more: a merge into one HNSW segment
    snapshot = load_snapshot(index_copy.index_dir)
    live = current_snapshot_dir(index_copy.index_dir)
    kinds = [s["kind"] for s in json.loads((live / SEGMENT_LIST).read_text())["segments"]]
    assert kinds[0] == "hnsw" and snapshot.manifest.vector_index == "hnsw"
    assert snapshot.vectors.kind == "hnsw"
    catalog = Catalog(snapshot)
    assert len(snapshot.vectors) == len(catalog.chunks()) >= 50
    gone = next(a.id for a in catalog.articles() if a.title != SEED_TITLE)
    assert remove(index_copy, [gone]).removed == [gone]  # deleted from an HNSW segment: marked dead
    engine = NewsRAG(index_copy, embedder)
    answer = engine.ask(SEED_QUESTION)
    assert not answer.refused and answer.citations[0].title == SEED_TITLE
    assert gone not in {r.node.ref_doc_id for r in engine.retrieve(catalog.article(gone).title)}


def _stories(tmp_path, start: int, end: int) -> str:
    """CNN/DailyMail rows start..end as one JSONL file."""
    path = tmp_path / f"stories-{start}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in cnndm_rows(end)[start:]))
    return str(path)
