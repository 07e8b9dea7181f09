"""`newsrag bench --quick` for real (real embedder, index, CLI subprocesses), and its cache of built indexes."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from newsrag.eval.bench import CountingEmbedding, cached_index
from newsrag.eval.bench_report import SECTIONS
from newsrag.eval.synthetic import PUBLISHERS, SyntheticArchive
from newsrag.ui.cli import cli

MB = 1e6


# About 30 s on an idle 2-core machine, a minute when it is shared: two cold `newsrag` processes
# (ask, serve) alone take half of it.
@pytest.mark.slow
def test_quick_bench_measures_every_part(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("NEWSRAG_")]:
        monkeypatch.delenv(key)
    out = tmp_path / "report"
    args = ["--index-dir", str(tmp_path / "index"), "bench", "--quick", "--scales", "20", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    table = (out / "bench.md").read_text()
    assert table in result.stdout
    for section in SECTIONS:
        assert section in table
    figures = json.loads((out / "bench.json").read_text())
    assert figures["header"]["cores"] == os.cpu_count()
    assert {"python", "torch", "faiss", "scale corpora"} <= set(figures["header"])

    ingest = figures["ingest"]
    assert ingest["articles"] == 7  # the seed and 6 CNN/DailyMail articles
    assert (
        ingest["chunks_written"] == ingest["chunks_embedded"] == ingest["chunks_indexed"] > ingest["articles"]
    )
    assert 0 < ingest["encode_seconds"] < ingest["seconds"]
    assert ingest["llamaindex_chunks"] > 0 and ingest["best_batch"] in (16, 64)
    assert {k: len(v) for k, v in ingest["slices"].items()} == dict.fromkeys(
        ("ours", "ours_encode", "bare", "llamaindex", "llamaindex_persisted", "llamaindex_our_embedder"), 2
    )
    assert ingest["llamaindex_persisted_seconds"] > 0 and ingest["llamaindex_our_embedder_seconds"] > 0
    assert ingest["llamaindex_batch"] == ingest["best_batch"]
    for ratio in ("vs_bare", "vs_llamaindex", "vs_llamaindex_persisted", "vs_llamaindex_our_embedder"):
        assert 0.1 < ingest[ratio] < 10
    assert 0 < figures["help_seconds"] < 30 and figures["empty_add_one_seconds"] > 0

    (scale,) = figures["scales"]
    assert scale["scale"] == scale["articles"] == scale["build"]["articles"] == 20
    assert scale["chunks"] == scale["build"]["chunks"] >= 20 and not scale["build"]["cached"]
    assert scale["added_many"] == 3
    for name in ("add_one", "add_one_encode", "remove_one"):
        assert len(scale[name]) == 1 and scale[name][0] > 0
    assert scale["add_one"][0] > scale["add_one_encode"][0]
    assert scale["add_many"] > scale["add_many_encode"] > 0 and scale["unchanged_many"] > 0
    assert set(scale["latency"]) == {
        *(f"{k}{f}" for k in ("retrieve", "search", "answer") for f in ("", " filtered")),
        "query embedding",
    }
    for name, latency in scale["latency"].items():
        assert 0 < latency["p50_ms"] <= latency["p95_ms"], name
    assert scale["filtered_passages"] > 0
    assert scale["serve_answer_seconds"] > scale["serve_ready_seconds"] > 0
    assert scale["cold_ask_seconds"] > figures["help_seconds"]
    # Each process holds at least the embedder; the index is on disk, earlier snapshots included.
    assert scale["cold_ask_rss"] > 200 * MB and scale["serve_rss"] > 200 * MB
    assert 0 < scale["live_bytes"] <= scale["dir_bytes"] and scale["bytes_per_chunk"] > 384 * 4
    assert not (out / "work").exists()


def test_a_built_index_is_reused_until_its_settings_change(settings, embedder):
    counting = CountingEmbedding(embedder.model_name, 64)
    archive = SyntheticArchive()
    lines: list[str] = []
    first, built = cached_index(settings, counting, archive, 3, lines.append)
    again, reused = cached_index(settings, counting, archive, 3, lines.append)
    assert first == again and reused.cached and not built.cached
    assert reused.chunks == built.chunks >= 3 and len(lines) == 1

    other, rebuilt = cached_index(settings.replace(chunk_overlap=16), counting, archive, 3, lines.append)
    assert other != first and not rebuilt.cached
    assert not first.exists()  # built with other settings: it measures nothing any more


def test_the_synthetic_archive_is_deterministic_and_prefix_stable():
    small, large = SyntheticArchive().articles(0, 50), SyntheticArchive().articles(0, 80)
    assert small == large[:50]
    assert len({a.id for a in large}) == len({a.content_hash for a in large}) == 80
    assert {a.source for a in large} <= set(PUBLISHERS) and all(a.published_at for a in large)
    assert all(90 <= len(a.text.split()) <= 310 for a in large)
