"""`newsrag eval --dataset` end to end on tiny data sets: the report is written and its figures are right."""

from __future__ import annotations

import json
import re
from pathlib import Path

from newsrag.eval.runner import run_eval

FIXTURE = Path(__file__).parent / "fixtures" / "multihop"


def test_multihop_dataset_runs_with_the_benchmark_rules(tmp_path, settings, embedder):
    run = run_eval(settings, embedder, tmp_path / "report", dataset=FIXTURE, baselines=())
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    rows = results["suites"]["multihop"]["rows"]
    assert set(rows) == {"newsrag hybrid", "BM25 only", "dense only"}
    # Three short articles: every fact's chunk is within the top 4 for every query.
    assert rows["newsrag hybrid"]["hits@4"] == 1.0
    assert rows["newsrag hybrid"]["mrr@10"] > 0.5
    report = (tmp_path / "report" / "report.md").read_text()
    assert "MultiHop-RAG" in report and results["settings"]["articles indexed"] == 3
    assert "hits@4" in run.summary
    assert results["settings"]["index build"].startswith("3 new")


def test_a_second_run_reuses_the_cached_index(tmp_path, settings, embedder):
    run_eval(settings, embedder, tmp_path / "first", dataset=FIXTURE, baselines=())
    run_eval(settings, embedder, tmp_path / "second", dataset=FIXTURE, suites=("multihop",), baselines=())
    header = json.loads((tmp_path / "second" / "results.json").read_text())["settings"]
    assert header["index build"].startswith("cached index reused")
    reused, embedded = map(
        int, re.match(r"(\d+) texts reused, (\d+) embedded", header["embedding cache"]).groups()
    )
    assert reused > 0 and embedded == 0  # the first run embedded every query the second asks
    assert header["answerer"] == settings.answerer


def test_user_dataset_in_the_bundled_formats(tmp_path, settings, embedder):
    data = tmp_path / "mydata"
    data.mkdir()
    articles = [
        {
            "id": "ferry",
            "title": "Ferry timetable",
            "text": "The harbour ferry will run every ten minutes from Monday, the transport office said.",
        },
        {
            "id": "tram",
            "title": "Tram strike",
            "text": "Tram drivers in the old town will strike on Friday over a dispute about night shifts.",
        },
    ]
    (data / "articles.jsonl").write_text("\n".join(json.dumps(a) for a in articles) + "\n")
    qa = [
        {
            "id": "a",
            "question": "How often will the harbour ferry run?",
            "answers": ["every ten minutes"],
            "article": "ferry",
        },
        {
            "id": "b",
            "question": "When will the tram drivers strike?",
            "answers": ["Friday"],
            "article": "tram",
        },
    ]
    (data / "qa.jsonl").write_text("\n".join(json.dumps(q) for q in qa) + "\n")
    (data / "highlights.jsonl").write_text(
        json.dumps({"id": "tram", "highlights": ["Tram drivers strike on Friday"]}) + "\n"
    )
    run_eval(settings, embedder, tmp_path / "report", dataset=data, suites=("retrieval", "qa"), baselines=())
    suites = json.loads((tmp_path / "report" / "results.json").read_text())["suites"]
    assert suites["retrieval"]["rows"]["newsrag hybrid"]["recall@1"] == 1.0
    assert suites["qa"]["rows"]["newsrag extractive"]["answer accuracy"] == 1.0
    assert suites["qa"]["rows"]["newsrag extractive"]["gold article cited"] == 1.0
