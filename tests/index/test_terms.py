"""The words each segment counts for its chunks: what a load gathers must equal counting the live chunks afresh."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np
from sample_data import SEED_TITLE

from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.segments import SEGMENTS_DIR
from newsrag.index.storage import load_snapshot
from newsrag.index.terms import BM25, LOWER, STEMS, TERMS_FILE, SegmentTerms, bm25_index, bm25_text, gather
from newsrag.rag.engine import NewsRAG
from newsrag.rag.lexical import TermWeights
from newsrag.rag.words import english_stemmer

QUERIES = [
    "How many immigration officers is Tom Homan pulling out of Minneapolis?",
    "police shooting investigation",
    "What did the mayor say?",
    "the of and",  # stopwords only
    "zyxwv",  # no word the corpus has
]


def story_file(folder: Path, article_id: str, title: str, text: str) -> str:
    """A one-article JSONL input."""
    path = folder / f"{article_id}.jsonl"
    path.write_text(json.dumps({"id": article_id, "title": title, "text": text}) + "\n")
    return str(path)


def frequencies(terms: SegmentTerms, bag: str) -> dict[str, int]:
    counted = terms.bags[bag]
    return {w: n for w, n in zip(counted.vocab, counted.document_frequency().tolist(), strict=True) if n}


def scores(index: bm25s.BM25, query: str) -> np.ndarray:
    tokens = bm25s.tokenize(
        [query], stopwords="en", stemmer=english_stemmer(), show_progress=False, return_ids=False
    )
    return index.get_scores(tokens[0]) if tokens[0] else np.zeros(index.scores["num_docs"])


def test_bm25_weights_from_counts_equal_those_bm25s_computes_from_the_texts(small_index):
    chunks = Catalog(load_snapshot(small_index.index_dir)).chunks()
    ours = bm25_index(SegmentTerms.of_chunks(chunks).bags[BM25])
    theirs = bm25s.BM25()
    theirs.index(
        bm25s.tokenize(
            [bm25_text(c) for c in chunks], stopwords="en", stemmer=english_stemmer(), show_progress=False
        ),
        show_progress=False,
    )
    for query in QUERIES:
        np.testing.assert_allclose(scores(ours, query), scores(theirs, query), rtol=1e-5, atol=1e-6)
    assert scores(ours, QUERIES[0]).max() > 1  # the comparison compared something


def test_after_adds_and_a_removal_the_gathered_words_are_those_of_the_live_chunks(
    index_copy, embedder, tmp_path
):
    for n in range(3):  # three writes: new segments, and merges of the newest ones
        path = story_file(
            tmp_path, f"story-{n}", f"Ferry {n}", f"The ferry timetable changes again on day {n}."
        )
        assert ingest(index_copy, [path], embedder).new == [f"story-{n}"]
    snapshot = load_snapshot(index_copy.index_dir)
    seed = next(a.id for a in Catalog(snapshot).articles() if a.title == SEED_TITLE)
    assert remove(index_copy, [seed]).removed == [seed]

    snapshot = load_snapshot(index_copy.index_dir)
    chunks = Catalog(snapshot).chunks()
    gathered, missing = gather(snapshot.terms, [c.node_id for c in chunks])
    assert missing == []  # every live chunk's words came from a segment's file
    afresh = SegmentTerms.of_chunks(chunks)
    for bag in (BM25, STEMS, LOWER):
        assert frequencies(gathered, bag) == frequencies(afresh, bag), bag
    assert "immigr" not in frequencies(gathered, STEMS)  # the removed seed article's words went with it
    assert frequencies(gathered, STEMS)["ferri"] == 3
    for query in QUERIES:
        np.testing.assert_allclose(
            scores(bm25_index(gathered.bags[BM25]), query),
            scores(bm25_index(afresh.bags[BM25]), query),
            rtol=1e-6,
        )


def test_a_damaged_or_missing_terms_file_costs_a_recount_not_the_index(index_copy, embedder, caplog):
    segments = sorted((index_copy.index_dir / SEGMENTS_DIR).iterdir())
    (segments[0] / TERMS_FILE).write_bytes(b"PK\x03\x04 not a zip")
    for segment in segments[1:]:
        (segment / TERMS_FILE).unlink()  # as a segment written before the file existed
    chunks = Catalog(load_snapshot(index_copy.index_dir)).chunks()
    expected = TermWeights.of_texts(c.text for c in chunks)

    engine = NewsRAG(index_copy, embedder)
    assert "cannot be read" in caplog.text
    assert engine.corpus.terms.documents == expected.documents == len(chunks)
    assert engine.corpus.terms.frequency == dict(expected.frequency)
    assert engine.corpus.terms.common_words == expected.common_words
    answer = engine.ask("How many immigration officers is Tom Homan pulling out of Minneapolis?")
    assert SEED_TITLE in {c.title for c in answer.citations}


def test_a_segment_holds_the_words_of_exactly_the_chunks_it_adds(
    index_copy, embedder, tmp_path: Path, caplog
):
    path = story_file(tmp_path, "one", "One", "A lighthouse keeper retired on Friday.")
    before = {p.name for p in (index_copy.index_dir / SEGMENTS_DIR).iterdir()}
    ingest(index_copy, [path], embedder)
    added = {p.name for p in (index_copy.index_dir / SEGMENTS_DIR).iterdir()} - before
    remove(index_copy, ["one"])  # a segment that adds no chunk at all
    snapshot = load_snapshot(index_copy.index_dir)
    assert len(snapshot.segments) >= 2
    for ref in snapshot.segments:
        folder = index_copy.index_dir / SEGMENTS_DIR / ref.name
        terms = SegmentTerms.load(folder)
        assert terms is not None, ref.name
        entries = json.loads((folder / "docstore.json").read_text()).get("docstore/data", {})
        assert sorted(terms.ids) == sorted(k for k, v in entries.items() if v["__type__"] != "4")
        if ref.name in added:
            assert "lighthous" in terms.bags[STEMS].vocab
    assert "cannot be read" not in caplog.text  # nor any segment a merge read back
