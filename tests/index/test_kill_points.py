"""Proof that a killed ingest never damages the index: SIGKILL a real ingest process at 20 points spread
over its run; after each the index loads, answers with citations, holds no duplicate or orphan chunk,
and running the same ingest again completes it.

The ingest process kills itself (os.kill(getpid(), SIGKILL): a real kill, no exception is raised or
caught) at its Nth *event*: inputs read, lock taken, each embedding batch, each file write and fsync
of the new segment and snapshot, their renames into place, the CURRENT swap, the pruning, the return. A first run
with no kill lists the events; the 20 kill points include the first event of every kind and are
otherwise spread as evenly as possible over the run.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from index_files import live_vectors
from sample_data import SEED_QUESTION, SEED_TITLE, cnndm_rows

from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.storage import CURRENT, current_snapshot_dir, load_snapshot
from newsrag.rag.engine import NewsRAG

KILLS = 20

# Events are named "<phase>: <what>"; the phase is where the writer is when the event fires.
KILL_CHILD = r"""
import fcntl, os, shutil, signal, sys
from pathlib import Path

import faiss
import newsrag.index.segments as segments
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest
from newsrag.settings import Settings

index_dir, inputs, total, kill_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
count, phase = 0, "reading inputs"


def event(what):
    global count
    count += 1
    print(f"event {count}\t{phase}: {what}", flush=True)
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


embedder = SentenceTransformerEmbedding(batch_size=4)  # small batches: more points to kill at
embedder.model.register_forward_pre_hook(lambda module, args: event("an embedding batch"))


def wrap(owner, name, what, starts=None, then=None):
    real = getattr(owner, name)

    def call(*args, **kwargs):
        global phase
        phase = starts or phase
        event(what)
        result = real(*args, **kwargs)
        phase = then or phase
        return result

    setattr(owner, name, call)


real_flock = fcntl.flock


def flock(fd, operation):
    global phase
    real_flock(fd, operation)
    if operation & fcntl.LOCK_EX:
        phase = "chunking and embedding"
        event("writer lock taken")


# Installed after the model is loaded: only the ingest's own calls are counted.
fcntl.flock = flock
wrap(segments, "_write_synced", "a segment file", starts="writing the new snapshot")
wrap(faiss, "serialize_index", "vectors.faiss")
wrap(os, "fsync", "fsync")
wrap(os, "rename", "rename into place", then="in place, CURRENT not yet swapped")
wrap(os, "replace", "swap CURRENT", then="CURRENT swapped, pruning")
wrap(shutil, "rmtree", "remove a folder")


def seen(n):
    if n == total:
        event("all inputs read")


ingest(Settings(index_dir=index_dir, lock_timeout=30.0), [inputs], embedder, on_article=seen)
phase = "finished"
event("ingest returned")
print("done", flush=True)
"""


@pytest.fixture
def template(small_index, tmp_path):
    """The small index with two snapshots (one article removed), and the ingest to kill: six new
    articles and a new version of one already indexed."""
    index_dir = tmp_path / "template"
    shutil.copytree(small_index.index_dir, index_dir)
    settings = small_index.replace(index_dir=index_dir)
    rows = cnndm_rows(36)
    assert remove(settings, [rows[29]["id"]]).removed == [rows[29]["id"]]
    updated = {**rows[0], "text": rows[0]["text"] + " A correction was added to this story on Saturday."}
    inputs = tmp_path / "ingest.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in [updated, *rows[30:36]]))
    before = {a.id for a in Catalog(load_snapshot(index_dir)).articles()}
    return {
        "settings": settings,
        "inputs": inputs,
        "count": 7,
        "before": before,
        "after": before | {r["id"] for r in rows[30:36]},
        "updated": (rows[0]["id"], rows[0]["text"], updated["text"]),
        "new_titles": {r["id"]: r["title"] for r in rows[30:36]},
    }


def run_child(index_dir: Path, plan: dict, kill_at: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_CHILD,
            str(index_dir),
            str(plan["inputs"]),
            str(plan["count"]),
            str(kill_at),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def events_of(child: subprocess.CompletedProcess) -> list[str]:
    return [line.split("\t", 1)[1] for line in child.stdout.splitlines() if line.startswith("event ")]


def choose(events: list[str], n: int) -> list[int]:
    """The first event of every kind, then farthest-point picks: n points spread over the run (1-based)."""
    firsts = {name: i for i, name in reversed(list(enumerate(events, 1)))}
    chosen = set(firsts.values())
    while len(chosen) < min(n, len(events)):
        chosen.add(max(range(1, len(events) + 1), key=lambda i: (min(abs(i - c) for c in chosen), -i)))
    return sorted(chosen)


def assert_whole(settings, plan: dict) -> str:
    """The live snapshot is exactly the index before or after the ingest, with nothing half done; returns which."""
    snapshot = load_snapshot(settings.index_dir)
    assert snapshot.warning is None, snapshot.warning  # a kill never damages the live snapshot
    catalog = Catalog(snapshot)
    articles = {a.id for a in catalog.articles()}
    assert articles in (plan["before"], plan["after"]), "neither the old index nor the new one"
    state = "new" if articles == plan["after"] else "old"
    chunks = catalog.chunks()
    chunk_ids = [c.node_id for c in chunks]
    assert len(chunk_ids) == len(set(chunk_ids))
    by_article: dict[str, list] = {}
    for chunk in chunks:
        assert chunk.ref_doc_id in articles, f"orphan chunk {chunk.node_id}"
        by_article.setdefault(chunk.ref_doc_id, []).append(chunk)
    assert set(by_article) == articles  # every article has its chunks
    for article_id, group in by_article.items():
        group.sort(key=lambda c: int(c.node_id.rsplit("#", 1)[1]))
        text = catalog.article(article_id).text
        assert [c.node_id for c in group] == [
            f"{article_id}#{i}" for i in range(len(group))
        ]  # no stale extra
        assert all(text[c.start_char_idx : c.end_char_idx] == c.text for c in group)  # of this version
    updated_id, old_text, new_text = plan["updated"]
    assert catalog.article(updated_id).text == (new_text if state == "new" else old_text)
    # The segments' vector files, read with FAISS and json directly: one vector per chunk, ids resolving both ways.
    on_disk = live_vectors(settings.index_dir)
    assert set(on_disk.nodes) == set(chunk_ids) and len(on_disk.in_faiss) == len(chunk_ids)
    return state


def assert_answers(settings, plan: dict, embedder, state: str) -> None:
    engine = NewsRAG(settings, embedder)
    answer = engine.ask(SEED_QUESTION)
    assert not answer.refused and answer.citations and answer.citations[0].title == SEED_TITLE
    if state == "new":
        article_id, title = next(iter(plan["new_titles"].items()))
        assert engine.retrieve(title)[0].node.ref_doc_id == article_id


@pytest.mark.slow  # 21 ingest processes, each loading the embedder: about 6 minutes on 2 cores
def test_an_ingest_killed_at_any_of_20_points_leaves_a_whole_index_and_reruns_to_completion(
    template, embedder, tmp_path
):
    plan = template
    dry = tmp_path / "dry-run"
    shutil.copytree(plan["settings"].index_dir, dry)
    child = run_child(dry, plan, kill_at=0)
    assert child.returncode == 0 and child.stdout.rstrip().endswith("done"), child.stderr[-3000:]
    events = events_of(child)
    points = choose(events, KILLS)
    assert len(points) == KILLS, f"only {len(events)} events in one ingest"
    before = {p.name for p in plan["settings"].index_dir.iterdir()}

    outcomes: list[tuple[str, str, list[str]]] = []  # (phase, index live after the kill, what it left)
    for n, kill_at in enumerate(points):
        index_dir = tmp_path / f"kill-{n}"
        shutil.copytree(plan["settings"].index_dir, index_dir)
        settings = plan["settings"].replace(index_dir=index_dir)
        child = run_child(index_dir, plan, kill_at)
        assert child.returncode == -signal.SIGKILL, f"kill at {kill_at}: {child.stderr[-3000:]}"
        assert events_of(child)[-1] == events[kill_at - 1]  # it died exactly there
        state = assert_whole(settings, plan)
        live = current_snapshot_dir(index_dir)
        left = sorted({p.name for p in index_dir.iterdir()} - before - {live.name if live else ""})
        assert_answers(settings, plan, embedder, state)

        report = ingest(settings, [str(plan["inputs"])], embedder)  # the same ingest, run again
        assert not report.failed
        if state == "old":
            assert sorted(report.new) == sorted(plan["new_titles"]) and report.updated == [plan["updated"][0]]
        else:
            assert not report.changed
        assert assert_whole(settings, plan) == "new"
        if report.changed:  # a write clears what the killed writer left and keeps two snapshots
            assert not any(p.name.startswith((".building-", f".{CURRENT}.")) for p in index_dir.iterdir())
            assert len(list(index_dir.glob("v-*"))) <= 2
            listed = {
                s["name"]
                for v in index_dir.glob("v-*")
                for s in json.loads((v / "segments.json").read_text())["segments"]
            }
            assert {p.name for p in (index_dir / "segments").iterdir()} == listed  # and its segments
        outcomes.append((events[kill_at - 1].split(": ", 1)[0], state, left))
        print(
            f"kill at event {kill_at:2} ({events[kill_at - 1]}): {state} index live, left {left or 'nothing'}"
        )
        shutil.rmtree(index_dir)

    phases = list(dict.fromkeys(e.split(": ", 1)[0] for e in events))
    landed = Counter(p for p, _, _ in outcomes)
    print(f"{KILLS} SIGKILLs over one ingest of {len(events)} events (7 articles onto 30, 2 snapshots kept):")
    print(f"  {'phase':36} {'events':>6} {'kills':>5} {'old live':>8} {'new live':>8} {'left debris':>11}")
    for phase in phases:
        rows = [o for o in outcomes if o[0] == phase]
        print(
            f"  {phase:36} {sum(e.startswith(phase + ':') for e in events):>6} {landed[phase]:>5} "
            f"{sum(s == 'old' for _, s, _ in rows):>8} {sum(s == 'new' for _, s, _ in rows):>8} "
            f"{sum(bool(left) for *_, left in rows):>11}"
        )
    assert set(landed) == set(phases)  # every phase was killed in at least once
    assert {s for _, s, _ in outcomes} == {"old", "new"}
