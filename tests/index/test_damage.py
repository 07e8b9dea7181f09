"""A damaged index on disk: the damage is named with its file, the previous snapshot serves with a
warning, and without one the error is IndexDamagedError saying how to repair it."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sample_data import SEED_QUESTION, SEED_TITLE

from newsrag.errors import IndexDamagedError
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.segments import DOCSTORE, REMOVED, SEGMENTS_DIR
from newsrag.index.storage import MANIFEST, SEGMENT_LIST, current_snapshot_dir, load_snapshot
from newsrag.index.vector_store import IDS_FILE, VECTORS_FILE
from newsrag.rag.engine import NewsRAG

REPAIR = "run `newsrag ingest PATH --rebuild`"


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def chunk_without_vector(docstore: dict) -> None:
    """A copy of a chunk under a new id, with no vector: what a writer that skipped the embedding leaves."""
    nodes = docstore["docstore/data"]
    chunk_id = next(k for k in nodes if k.endswith("#0"))
    copy = json.loads(json.dumps(nodes[chunk_id]))
    copy["__data__"]["id_"] = chunk_id[:-2] + "#99"
    nodes[copy["__data__"]["id_"]] = copy


def drop_an_article(docstore: dict) -> None:
    """The article's document is gone, its chunks stay: orphans."""
    nodes = docstore["docstore/data"]
    del nodes[next(k for k in nodes if k.endswith("#1")).rsplit("#", 1)[0]]


def vector_id_not_in_faiss(ids: dict) -> None:
    ids["nodes"][next(iter(ids["nodes"]))] = 10**9


@dataclass(frozen=True)
class Damage:
    apply: Callable[[Path], None]  # given the folder `where` names
    named: str  # a regex of what the error or warning must say
    where: str = "segment"  # the newest segment of the snapshot, or the snapshot's own folder

    def to(self, snapshot: Path) -> None:
        self.apply(snapshot if self.where == "snapshot" else newest_segment(snapshot))


def newest_segment(snapshot: Path) -> Path:
    """The segment the snapshot's own write added: the others are shared with the snapshot before it."""
    name = json.loads((snapshot / SEGMENT_LIST).read_text())["segments"][-1]["name"]
    return snapshot.parent / SEGMENTS_DIR / name


DAMAGES = {
    "truncated vectors.faiss": Damage(
        lambda d: cut_in_half(d / VECTORS_FILE), r"vectors\.faiss: not a readable FAISS index"
    ),
    "extra manifest key": Damage(
        lambda d: edit_json(d / MANIFEST, lambda m: m.update(surprise=1)),
        r"manifest\.json: unknown keys surprise",
        "snapshot",
    ),
    "manifest of another format version": Damage(
        lambda d: edit_json(d / MANIFEST, lambda m: m.update(format_version=3)),
        r"manifest\.json: format 3, this version reads 2",
        "snapshot",
    ),
    "manifest value of the wrong type": Damage(
        lambda d: edit_json(d / MANIFEST, lambda m: m.update(dimension="384")),
        r"manifest\.json: values of the wrong type for dimension",
        "snapshot",
    ),
    "truncated segment list": Damage(
        lambda d: cut_in_half(d / SEGMENT_LIST), r"segments\.json: not valid JSON", "snapshot"
    ),
    "segment list naming a folder outside": Damage(
        lambda d: edit_json(d / SEGMENT_LIST, lambda m: m["segments"][-1].update(name="../../etc")),
        r"segments\.json: an entry is not",
        "snapshot",
    ),
    "damaged removal list": Damage(
        lambda d: (d / REMOVED).write_text('["not", "by collection"]'),
        r"removed\.json: not the removed keys of each collection",
    ),
    "missing segment folder": Damage(shutil.rmtree, r"segment s-\S+/the segment folder is missing"),
    "truncated docstore.json": Damage(lambda d: cut_in_half(d / DOCSTORE), r"docstore\.json: not valid JSON"),
    "emptied id map": Damage(
        lambda d: edit_json(d / IDS_FILE, lambda i: i.update(nodes={}, articles={})),
        r"vector_ids\.json: maps 0 chunks but vectors\.faiss holds \d+ vectors",
    ),
    "empty id map file": Damage(lambda d: (d / IDS_FILE).write_text(""), r"vector_ids\.json: not valid JSON"),
    "missing vector_ids.json": Damage(lambda d: (d / IDS_FILE).unlink(), r"vector_ids\.json: missing"),
    "missing snapshot folder": Damage(shutil.rmtree, r"v-\S+: the snapshot folder is missing", "snapshot"),
    "docstore chunk without a vector": Damage(
        lambda d: edit_json(d / DOCSTORE, chunk_without_vector),
        r"docstore\.json: chunk \S+#99 has no vector in vector_ids\.json",
    ),
    "chunks of an article not in the docstore": Damage(
        lambda d: edit_json(d / DOCSTORE, drop_an_article),
        r"docstore\.json: chunk \S+ (\(and \d+ more\) )?belongs to no article",
    ),
    "vector id not in FAISS": Damage(
        lambda d: edit_json(d / IDS_FILE, vector_id_not_in_faiss),
        r"vector_ids\.json: its vector ids are not the ids vectors\.faiss holds",
    ),
}


def live(settings) -> Path:
    folder = current_snapshot_dir(settings.index_dir)
    assert folder is not None
    return folder


@pytest.fixture
def two_snapshots(index_copy, embedder, tmp_path):
    """The index copy after one more article of two chunks: a live snapshot of 32 articles, whose own
    segment holds that article, and the previous one of 31 beside it."""
    previous = live(index_copy)
    path = tmp_path / "added.jsonl"
    text = " ".join(
        f"Harbour ferry crossing {n} will run every {n + 10} minutes from Monday." for n in range(40)
    )
    path.write_text(json.dumps({"id": "added-before-damage", "title": "Ferries", "text": text}) + "\n")
    report = ingest(index_copy, [str(path)], embedder)
    assert report.new == ["added-before-damage"] and report.chunks_written >= 2
    return index_copy, previous, "added-before-damage"


def new_story(tmp_path: Path) -> str:
    path = tmp_path / "after.jsonl"
    path.write_text(
        json.dumps({"id": "after-damage", "text": "The ferry timetable changes again on Monday."}) + "\n"
    )
    return str(path)


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_live_snapshot_falls_back_to_the_previous_one(two_snapshots, embedder, damage, caplog):
    settings, previous, added = two_snapshots
    damaged = live(settings)
    damage.to(damaged)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.storage"):
        snapshot = load_snapshot(settings.index_dir)
    assert snapshot.path == previous and snapshot.fallback_from == damaged
    warning = snapshot.warning or ""
    assert re.search(damage.named, warning), warning
    assert damaged.name in warning and f"serving the previous snapshot {previous.name}" in warning
    assert REPAIR in warning
    assert warning in caplog.text
    catalog = Catalog(snapshot)
    assert len(catalog.articles()) == 31 and not catalog.has_article(added)  # what the previous snapshot held
    assert catalog.stats().warning == warning
    assert live(settings) == damaged  # loading repairs nothing behind the user's back
    engine = NewsRAG(settings, embedder)
    assert engine.warning == warning
    answer = engine.ask(SEED_QUESTION)
    assert not answer.refused and answer.citations[0].title == SEED_TITLE


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_index_with_no_earlier_snapshot_is_a_typed_error(index_copy, damage):
    damage.to(live(index_copy))
    with pytest.raises(IndexDamagedError, match=damage.named) as caught:
        load_snapshot(index_copy.index_dir)
    message = str(caught.value)
    assert str(index_copy.index_dir) in message
    assert "no earlier snapshot to fall back on" in message and REPAIR in message


def test_when_every_snapshot_is_damaged_each_is_named(two_snapshots):
    settings, previous, _ = two_snapshots
    damaged = live(settings)
    segment = newest_segment(damaged)
    cut_in_half(segment / VECTORS_FILE)
    (previous / SEGMENT_LIST).write_text("{")
    with pytest.raises(IndexDamagedError) as caught:
        load_snapshot(settings.index_dir)
    message = str(caught.value)
    assert f"{damaged.name}/segment {segment.name}/{VECTORS_FILE}: not a readable FAISS index" in message
    assert f"{previous.name}/{SEGMENT_LIST}: not valid JSON" in message
    assert "no earlier snapshot loads" in message and REPAIR in message


def test_an_ingest_onto_a_damaged_snapshot_builds_on_the_previous_one(two_snapshots, embedder, tmp_path):
    settings, previous, added = two_snapshots
    damaged = live(settings)
    segment = newest_segment(damaged)
    cut_in_half(segment / DOCSTORE)
    report = ingest(settings, [new_story(tmp_path)], embedder)
    assert report.new == ["after-damage"]
    assert report.warning and "docstore.json: not valid JSON" in report.warning
    snapshot = load_snapshot(settings.index_dir)
    assert snapshot.warning is None and snapshot.path not in (damaged, previous)
    catalog = Catalog(snapshot)
    # The previous snapshot's 31 articles (the one added in the damaged snapshot is gone) and the new one.
    assert (
        len(catalog.articles()) == 32
        and not catalog.has_article(added)
        and catalog.has_article("after-damage")
    )
    assert not damaged.exists() and previous.exists()  # the damaged one went, the one built on is kept
    assert not segment.exists()  # and so did its segment, which no snapshot lists any more


def test_a_write_onto_an_index_with_no_loadable_snapshot_refuses_until_a_rebuild(
    index_copy, embedder, tmp_path
):
    damaged = live(index_copy)
    cut_in_half(newest_segment(damaged) / VECTORS_FILE)
    some_id = (
        json.loads((newest_segment(damaged) / IDS_FILE).read_text())["nodes"].popitem()[0].rsplit("#", 1)[0]
    )
    with pytest.raises(IndexDamagedError, match=r"vectors\.faiss.*--rebuild"):
        ingest(index_copy, [new_story(tmp_path)], embedder)
    with pytest.raises(IndexDamagedError, match=r"vectors\.faiss.*--rebuild"):
        remove(index_copy, [some_id])
    assert live(index_copy) == damaged
    report = ingest(index_copy, [new_story(tmp_path)], embedder, rebuild=True)
    assert report.new == ["after-damage"] and report.warning is None
    catalog = Catalog(load_snapshot(index_copy.index_dir))
    assert [a.id for a in catalog.articles()] == ["after-damage"]


def newsrag_cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsrag", "--index-dir", str(settings.index_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_reports_damage_in_one_line(two_snapshots):
    settings, previous, _ = two_snapshots
    cut_in_half(newest_segment(live(settings)) / VECTORS_FILE)
    served = newsrag_cli(settings, "stats", "--json")
    assert served.returncode == 0, served.stderr
    warning = json.loads(served.stdout)["warning"]
    assert "vectors.faiss: not a readable FAISS index" in warning and previous.name in warning
    assert "Traceback" not in served.stderr

    shutil.rmtree(previous)
    failed = newsrag_cli(settings, "stats")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    [line] = failed.stderr.strip().splitlines()
    assert "is damaged" in line and "vectors.faiss" in line and REPAIR in line
