"""Load a tiny MultiHop-RAG-format fixture and score it with hand-computed Hits/MAP/MRR."""

import json
import shutil
from pathlib import Path

import pytest

from newsrag.eval.metrics import multihop_metrics
from newsrag.eval.multihop import (
    MultiHopFormatError,
    corpus_to_jsonl_articles,
    load_multihop,
    write_articles_jsonl,
)

FIXTURE = Path(__file__).parent / "fixtures" / "multihop"


def test_load_fixture_into_typed_records():
    data = load_multihop(FIXTURE)
    assert [a.title for a in data.articles] == [
        "Harbor City opens its first tram line",
        "Tram ridership beats forecast",
        "River Lights festival returns",
    ]
    assert data.articles[2].author is None
    assert data.articles[0].published_at == "2023-10-02T08:00:00+00:00"
    assert [q.question_type for q in data.queries] == ["inference_query", "comparison_query", "null_query"]
    first = data.queries[0]
    assert first.answer == "14"
    assert first.evidence[1].url == "https://example.test/tram-ridership"
    assert first.facts[0] == "The line has 14 stops and cost 320 million dollars."
    assert data.queries[2].is_null and data.queries[2].facts == []
    assert [q.answer for q in data.retrieval_queries()] == ["14", "Yes"]


def test_load_accepts_a_repository_clone(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "dataset")
    assert len(load_multihop(tmp_path).articles) == 3


def test_score_fixture_by_hand():
    data = load_multihop(FIXTURE)
    tram, ridership, festival = (a.body for a in data.articles)
    tram_open, tram_stops = tram.split("\n")
    retrieved = {
        # Fact 2 sits across a newline in the body; found at rank 3, fact 1 at rank 4.
        data.queries[0].query: [festival, tram_open, ridership, tram_stops],
        # One chunk holding both facts at rank 5.
        data.queries[1].query: [tram_open, ridership, tram_open, ridership, festival + " " + tram_stops],
    }
    queries = data.retrieval_queries()
    m = multihop_metrics([retrieved[q.query] for q in queries], [q.facts for q in queries])
    assert m["hits@4"] == pytest.approx(0.5)
    assert m["hits@10"] == pytest.approx(1.0)
    assert m["mrr@10"] == pytest.approx((1 / 3 + 1 / 5) / 2)  # 4/15
    assert m["map@10"] == pytest.approx(((1 / 3 + 1 / 4) / 2 + (2 / 5) / 2) / 2)  # 59/240


def test_corpus_maps_to_ingester_articles(tmp_path):
    data = load_multihop(FIXTURE)
    rows = corpus_to_jsonl_articles(data.articles)
    assert rows[0] == {
        "id": "https://example.test/harbor-city-tram",
        "title": "Harbor City opens its first tram line",
        "text": data.articles[0].body,
        "url": "https://example.test/harbor-city-tram",
        "source": "Example Times",
        "published_at": "2023-10-02T08:00:00+00:00",
        "author": "Ada Lane",
    }
    out = tmp_path / "mh" / "articles.jsonl"
    assert write_articles_jsonl(data.articles, out) == 3
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [a.url for a in data.articles]
    assert lines[2]["author"] is None


def test_lfs_pointer_is_a_clear_error(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "ds")
    (tmp_path / "ds" / "corpus.json").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 6785567\n"
    )
    with pytest.raises(MultiHopFormatError, match="git lfs pull"):
        load_multihop(tmp_path / "ds")


def test_missing_or_malformed_files(tmp_path):
    with pytest.raises(MultiHopFormatError, match="not found"):
        load_multihop(tmp_path)
    shutil.copytree(FIXTURE, tmp_path / "ds")
    (tmp_path / "ds" / "MultiHopRAG.json").write_text('[{"query": "q", "answer": "a"}]')
    with pytest.raises(MultiHopFormatError, match="question_type"):
        load_multihop(tmp_path / "ds")
