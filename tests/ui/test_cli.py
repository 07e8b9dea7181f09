"""The `newsrag ingest/remove/stats/list` commands: exit statuses, one-line errors, machine-readable output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_data import CNNDM, SEED_TITLE

from newsrag.index.storage import writer_lock
from newsrag.ui.cli import cli

NEWSRAG = Path(sys.executable).with_name("newsrag")


@pytest.fixture
def newsrag(tmp_path, monkeypatch):
    """Invoke the CLI in-process from an empty folder, with no NEWSRAG_* variables but those given."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("NEWSRAG_")]:
        monkeypatch.delenv(key)

    def run(*args: str, env: dict[str, str] | None = None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


def stories(path: Path, **texts: str) -> str:
    path.write_text(
        "".join(json.dumps({"id": k, "title": k.title(), "text": v}) + "\n" for k, v in texts.items())
    )
    return str(path)


def test_stats_json(newsrag, small_index):
    result = newsrag("--index-dir", str(small_index.index_dir), "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["articles"] == 31
    assert stats["chunks"] > 31
    assert stats["sources"] == {"Daily Mail": 30, "New York Times": 1}
    assert (stats["embed_model"], stats["dimension"]) == ("all-MiniLM-L6-v2", 384)
    assert stats["size_bytes"] > 0 and stats["updated_at"]
    assert (stats["first_date"], stats["last_date"]) == (None, None)


def test_stats_text(newsrag, small_index):
    result = newsrag("stats", env={"NEWSRAG_INDEX_DIR": str(small_index.index_dir)})
    assert result.exit_code == 0, result.output
    assert "articles:  31" in result.stdout
    assert "all-MiniLM-L6-v2 (384-d)" in result.stdout


def test_list_json(newsrag, small_index):
    result = newsrag("--index-dir", str(small_index.index_dir), "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 31
    assert set(rows[0]) == {"id", "title", "source", "url", "published_at", "authors"}
    by_id = {r["id"]: r for r in rows}
    first = json.loads(CNNDM.read_text().splitlines()[0])
    assert by_id[first["id"]]["title"] == first["title"]
    assert by_id[first["id"]]["url"] == first["url"]
    [seed] = [r for r in rows if r["title"] == SEED_TITLE]
    assert (seed["source"], seed["authors"]) == ("New York Times", ["Madeleine Ngo"])


def test_list_json_in_a_subprocess(small_index, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    env["NEWSRAG_INDEX_DIR"] = str(small_index.index_dir)
    result = subprocess.run(
        [str(NEWSRAG), "list", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 31


def test_missing_index_is_one_line_and_exit_1(newsrag, tmp_path):
    result = newsrag("--index-dir", str(tmp_path / "none"), "stats")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no index in {tmp_path / 'none'}: run `newsrag ingest PATH` first"
    ]


def test_ingest_exits_non_zero_when_an_input_fails_but_the_good_ones_land(newsrag, tmp_path):
    index_dir = str(tmp_path / "index")
    (tmp_path / "empty.txt").write_text("")
    good = stories(
        tmp_path / "good.jsonl",
        ferry="The harbour ferry will run every ten minutes from Monday, the transport office said.",
        tram="Tram drivers in the old town will strike on Friday over a dispute about night shifts.",
    )
    (tmp_path / "copy.jsonl").write_text(
        (tmp_path / "good.jsonl").read_text().replace('"ferry"', '"ferry-2"')
    )
    result = newsrag(
        "--index-dir", index_dir, "ingest", str(tmp_path / "empty.txt"), good, str(tmp_path / "copy.jsonl")
    )
    assert result.exit_code == 1
    assert f"failed: {tmp_path / 'empty.txt'}: empty file" in result.stderr.splitlines()
    assert f"duplicate: {tmp_path / 'copy.jsonl'}:1 (same text as ferry)" in result.stderr.splitlines()
    assert "2 new, 0 updated, 0 unchanged, 2 duplicate, 1 failed" in result.stdout
    listed = newsrag("--index-dir", index_dir, "list", "--json")
    assert sorted(r["id"] for r in json.loads(listed.stdout)) == ["ferry", "tram"]

    again = newsrag("--index-dir", index_dir, "ingest", good)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == "index unchanged"
    assert "0 new, 0 updated, 2 unchanged" in again.stdout

    refused = newsrag("--index-dir", index_dir, "ingest", "--chunk-overlap", "8", good)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: index built with all-MiniLM-L6-v2 (384-d)")
    assert "run `newsrag ingest PATH --rebuild`" in refused.stderr
    assert "Traceback" not in refused.output

    with writer_lock(tmp_path / "index", timeout=1.0):
        locked = newsrag("ingest", good, env={"NEWSRAG_INDEX_DIR": index_dir, "NEWSRAG_LOCK_TIMEOUT": "0.3"})
    assert locked.exit_code == 1
    assert locked.stderr.startswith(f"Error: another process is writing the index in {index_dir}")

    removed = newsrag("--index-dir", index_dir, "remove", "tram", "nope")
    assert removed.exit_code == 1
    assert removed.stdout.startswith("1 removed")
    assert "failed: nope: no article with id 'nope'" in removed.stderr
    listed = newsrag("--index-dir", index_dir, "list", "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == ["ferry"]
    assert newsrag("--index-dir", index_dir, "remove", "ferry").exit_code == 0
    assert json.loads(newsrag("--index-dir", index_dir, "list", "--json").stdout) == []
