"""The index directory: json + FAISS only, atomic snapshot swaps that survive a killed writer, one writer at a time."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery
from sample_data import CNNDM, SEED_TITLE

from newsrag.errors import (
    IndexDamagedError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    NewsRagError,
)
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.segments import SEGMENTS_DIR
from newsrag.index.storage import (
    CURRENT,
    MANIFEST,
    SEGMENT_LIST,
    Manifest,
    current_snapshot_dir,
    gc_paused,
    load_snapshot,
    writer_lock,
)
from newsrag.settings import Settings

SNAPSHOT_FILES = {"manifest.json", "segments.json"}
SEGMENT_FILES = {
    "docstore.json",
    "removed.json",
    "vectors.faiss",
    "vector_ids.json",
    "terms.npz",
    "articles.json",
}


def seed_id(settings) -> str:
    return next(a.id for a in Catalog(load_snapshot(settings.index_dir)).articles() if a.title == SEED_TITLE)


def assert_old_index_intact(settings, embedder, articles: int = 31) -> None:
    """The live snapshot loads with the same articles, one vector per chunk, and answers a vector query."""
    snapshot = load_snapshot(settings.index_dir)
    catalog = Catalog(snapshot)
    assert len(catalog.articles()) == articles
    assert len(snapshot.vectors) == len(catalog.chunks())
    question = "How many immigration officers is Tom Homan pulling out of Minneapolis?"
    result = snapshot.vectors.query(
        VectorStoreQuery(query_embedding=embedder.get_query_embedding(question), similarity_top_k=3)
    )
    assert catalog.article(catalog.chunk(result.ids[0]).ref_doc_id).title == SEED_TITLE
    with writer_lock(settings.index_dir, timeout=0.5):  # a killed writer's lock died with it
        pass


def test_a_paused_garbage_collector_comes_back_as_it_was_even_after_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        assert not gc.isenabled()
        raise ValueError("a damaged file")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # whoever disabled it keeps it disabled
    finally:
        gc.enable()


def write_story(path: Path) -> str:
    story = {"id": "after-crash", "title": "After", "text": "The ferry timetable changes again on Monday."}
    path.write_text(json.dumps(story) + "\n")
    return str(path)


# --- what is on disk ---------------------------------------------------------------------------


def test_only_json_faiss_and_the_current_pointer_are_persisted(small_index):
    index_dir = small_index.index_dir
    top = {p.name for p in index_dir.iterdir()}
    live = current_snapshot_dir(index_dir)
    assert live is not None and live.parent == index_dir and live.name.startswith("v-")
    assert top == {CURRENT, ".lock", SEGMENTS_DIR, live.name}
    assert (index_dir / ".lock").stat().st_size == 0
    assert (index_dir / CURRENT).read_text() == live.name + "\n"
    assert {p.name for p in live.iterdir()} == SNAPSHOT_FILES
    listed = [s["name"] for s in json.loads((live / SEGMENT_LIST).read_text())["segments"]]
    assert sorted(listed) == sorted(p.name for p in (index_dir / SEGMENTS_DIR).iterdir())
    files = [*live.iterdir()]
    for name in listed:
        folder = index_dir / SEGMENTS_DIR / name
        assert {p.name for p in folder.iterdir()} == SEGMENT_FILES
        files += folder.iterdir()
    for path in files:
        head = path.read_bytes()[:2]
        assert head[:1] != b"\x80", f"{path.name} looks like a pickle"
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:  # numbers only: a pickle would raise here
                assert all(arrays[name].dtype.kind in "iu" for name in arrays.files)
        else:
            assert path.suffix == ".faiss"
            assert faiss.read_index(str(path)).ntotal > 0


def test_loading_needs_no_pickle(small_index, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the index must load without unpickling anything")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    snapshot = load_snapshot(small_index.index_dir)
    catalog = Catalog(snapshot)
    assert len(catalog.articles()) == 31
    assert len(snapshot.vectors) == len(catalog.chunks()) > 31


def test_manifest_records_the_build_settings(small_index, embedder):
    snapshot = load_snapshot(small_index.index_dir)
    raw = json.loads((snapshot.path / MANIFEST).read_text())
    assert raw["embed_model"] == "all-MiniLM-L6-v2"
    assert raw["dimension"] == embedder.dimension == 384
    assert raw["chunk_size"] == embedder.max_tokens
    assert raw["chunk_overlap"] == 32
    assert raw["format_version"] == 2
    assert raw["created_at"] and raw["updated_at"]


def test_manifest_check():
    manifest = Manifest(embed_model="all-MiniLM-L6-v2", dimension=384, chunk_size=254, chunk_overlap=32)
    manifest.check("all-MiniLM-L6-v2", 0, 32)
    manifest.check("all-MiniLM-L6-v2", 254, 32)
    for wanted in [("bge-small", 0, 32), ("all-MiniLM-L6-v2", 200, 32), ("all-MiniLM-L6-v2", 0, 0)]:
        with pytest.raises(IndexMismatchError, match=r"run `newsrag ingest PATH --rebuild`"):
            manifest.check(*wanted)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="run `newsrag ingest PATH` first"):
        load_snapshot(tmp_path / "nothing-here")
    (tmp_path / "dangling").mkdir()
    (tmp_path / "dangling" / CURRENT).write_text("v-gone\n")
    with pytest.raises(IndexDamagedError, match=r"v-gone: the snapshot folder is missing; .*--rebuild"):
        load_snapshot(tmp_path / "dangling")


def test_another_format_version_is_refused(index_copy):
    manifest = current_snapshot_dir(index_copy.index_dir) / MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 99}))
    with pytest.raises(
        IndexDamagedError, match=r"manifest.json: format 99, this version reads 2; .*--rebuild"
    ):
        load_snapshot(index_copy.index_dir)


def test_each_write_is_a_new_snapshot_and_two_are_kept(index_copy):
    index_dir = index_copy.index_dir
    first = current_snapshot_dir(index_dir)
    ids = [a.id for a in Catalog(load_snapshot(index_dir)).articles()][:3]
    seen = [first]
    for article_id in ids:
        assert remove(index_copy, [article_id]).removed == [article_id]
        seen.append(current_snapshot_dir(index_dir))
        assert Catalog(load_snapshot(index_dir)).has_article(article_id) is False
    assert len(set(seen)) == 4  # every write made a new folder
    left = sorted(p.name for p in index_dir.iterdir() if p.name.startswith("v-"))
    assert len(left) == 2 and seen[-1].name in left
    assert not list(index_dir.glob(".building-*")) and not list(index_dir.glob(f".{CURRENT}.*"))
    assert len(Catalog(load_snapshot(index_dir)).articles()) == 28


# --- the writer lock -----------------------------------------------------------------------------


def test_writer_lock_times_out_then_frees(tmp_path):
    index_dir = tmp_path / "index"
    with writer_lock(index_dir, timeout=1.0):
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match=r"another process is writing the index .* waited 0s"):
            with writer_lock(index_dir, timeout=0.3):
                pass
        assert 0.25 <= time.monotonic() - started < 3
    with writer_lock(index_dir, timeout=0.1):
        pass


def test_writer_lock_held_by_another_process(tmp_path):
    index_dir = tmp_path / "index"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from index.storage import writer_lock\n"
            "with writer_lock(Path(sys.argv[1]), 5):\n    print('held', flush=True); time.sleep(60)",
            str(index_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(IndexLockedError):
            with writer_lock(index_dir, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait(30)
    with writer_lock(index_dir, timeout=1.0):  # released when its holder died
        pass


# --- killed writers --------------------------------------------------------------------------------

INGEST_CHILD = """
import sys
from pathlib import Path
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest
from newsrag.settings import Settings

index_dir, inputs, total = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
embedder = SentenceTransformerEmbedding()
embedder.model
print("model loaded", flush=True)

def seen(n):
    if n == total:
        print("inputs loaded", flush=True)

ingest(Settings(index_dir=index_dir, lock_timeout=5.0), [inputs], embedder, on_article=seen)
print("done", flush=True)
"""


def read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.strip())


def wait_for(lines: queue.Queue, wanted: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"the ingest subprocess did not print {wanted!r} within {timeout}s")
        if line == wanted:
            return


@pytest.mark.slow  # a model-loading subprocess killed mid-embedding; test_kill_points covers 20 such points
def test_killed_ingest_leaves_the_old_index_intact(index_copy, embedder, tmp_path):
    index_dir = index_copy.index_dir
    pointer = (index_dir / CURRENT).read_text()
    rows = CNNDM.read_text().splitlines()[30:230]  # 200 new articles: minutes of embedding on this machine
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(rows) + "\n")
    child = subprocess.Popen(
        [sys.executable, "-c", INGEST_CHILD, str(index_dir), str(more), str(len(rows))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(child.stdout, lines), daemon=True).start()
    try:
        wait_for(lines, "model loaded", 120)
        wait_for(lines, "inputs loaded", 60)
        # Now chunking and embedding; kill it a moment in, or as soon as it starts writing a snapshot.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and not list(index_dir.glob(".building-*")):
            time.sleep(0.05)
        assert child.poll() is None, "the ingest finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)

    assert (index_dir / CURRENT).read_text() == pointer
    assert_old_index_intact(index_copy, embedder)

    report = ingest(index_copy, [write_story(tmp_path / "after.jsonl")], embedder)
    assert report.new == ["after-crash"]
    assert_old_index_intact(index_copy, embedder, articles=32)
    assert not list(index_dir.glob(".building-*"))


# Kill the writer at the exact steps of the snapshot swap (it kills itself there, with SIGKILL).
# `remove` needs no model, so these writers start fast; the storage code runs unchanged.
SWAP_CHILD = """
import os, signal, sys
from pathlib import Path
from newsrag.index.ingest import remove
from newsrag.settings import Settings

index_dir, article_id, step = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
real = {"rename": os.rename, "replace": os.replace}

def die_at(name):
    def call(src, dst, *args, **kwargs):
        # "segment": the new segment's rename into place; "rename": the new snapshot's; "replace": CURRENT's.
        moving = Path(src).name
        if (name, step) == ("rename", "segment") and moving.startswith(".building-s-") or (
            name == step and (name != "rename" or moving.startswith(".building-v-"))
        ):
            os.kill(os.getpid(), signal.SIGKILL)
        return real[name](src, dst, *args, **kwargs)
    return call

os.rename, os.replace = die_at("rename"), die_at("replace")
remove(Settings(index_dir=index_dir, lock_timeout=5.0), [article_id])
print("survived", flush=True)
"""


@pytest.mark.parametrize(
    ("step", "debris"),
    [
        ("segment", f"{SEGMENTS_DIR}/.building-s-*"),  # the new segment is written but not yet in place
        ("rename", ".building-v-*"),  # the new snapshot is written but not yet in place
        ("replace", f".{CURRENT}.*"),  # in place, CURRENT not yet swapped
    ],
)
def test_writer_killed_during_the_swap_leaves_the_old_index_live(
    index_copy, embedder, tmp_path, step, debris
):
    index_dir = index_copy.index_dir
    pointer = (index_dir / CURRENT).read_text()
    target = seed_id(index_copy)
    child = subprocess.run(
        [sys.executable, "-c", SWAP_CHILD, str(index_dir), target, step],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert list(index_dir.glob(debris)), "the writer was not killed mid-swap"
    if step == "rename":  # killed with a complete snapshot written beside the live one
        [building] = index_dir.glob(".building-v-*")
        assert {p.name for p in building.iterdir()} == SNAPSHOT_FILES
    elif step == "replace":  # killed with the new snapshot in place, CURRENT still naming the old one
        assert len(list(index_dir.glob("v-*"))) == 2
    else:  # killed before any new snapshot was written
        assert len(list(index_dir.glob("v-*"))) == 1 and not list(index_dir.glob(".building-v-*"))
    assert (index_dir / CURRENT).read_text() == pointer
    assert Catalog(load_snapshot(index_dir)).has_article(target)  # the removal never went live
    assert_old_index_intact(index_copy, embedder)

    report = ingest(index_copy, [write_story(tmp_path / "after.jsonl")], embedder)
    assert report.new == ["after-crash"]
    assert_old_index_intact(index_copy, embedder, articles=32)
    assert not list(index_dir.glob(".building-*")) and not list(index_dir.glob(f".{CURRENT}.*"))
    assert not list(index_dir.glob(f"{SEGMENTS_DIR}/.building-*"))
    listed = {
        s["name"]
        for v in index_dir.glob("v-*")
        for s in json.loads((v / SEGMENT_LIST).read_text())["segments"]
    }
    assert {p.name for p in (index_dir / SEGMENTS_DIR).iterdir()} == listed  # no segment left unlisted
    assert os.listdir(current_snapshot_dir(index_dir)) and len(list(index_dir.glob("v-*"))) <= 2


# --- a read-only directory, a full disk ------------------------------------------------------------


def test_an_index_dir_under_a_file_is_a_clear_error(tmp_path, embedder):
    (tmp_path / "not-a-folder").write_text("a file where the index's parent folder should be")
    settings = Settings(index_dir=tmp_path / "not-a-folder" / "index", lock_timeout=1.0)
    with pytest.raises(
        NewsRagError, match=r"cannot write the index in .*not-a-folder/index: not a directory"
    ):
        ingest(settings, [write_story(tmp_path / "after.jsonl")], embedder)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make `folder` refuse new entries for real. Root ignores permission bits, so as root the
    immutable attribute is used (chattr +i, which binds root too); yields which one it was."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "chmod 555"
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip(
            "running as root on a filesystem without the immutable attribute: no real read-only folder"
        )
    try:
        yield "chattr +i"
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_index_dir_is_a_clear_error_and_the_old_index_stays_live(index_copy, embedder, tmp_path):
    index_dir = index_copy.index_dir
    pointer = (index_dir / CURRENT).read_text()
    before = sorted(p.name for p in index_dir.iterdir())
    segments = sorted(p.name for p in (index_dir / SEGMENTS_DIR).iterdir())
    story = write_story(tmp_path / "after.jsonl")
    with read_only(index_dir) as how:
        with pytest.raises(NewsRagError) as caught:
            ingest(index_copy, [story], embedder)
        assert sorted(p.name for p in index_dir.iterdir()) == before  # nothing half-written left behind
        assert sorted(p.name for p in (index_dir / SEGMENTS_DIR).iterdir()) == segments
    print(f"read-only by {how}: {caught.value}")
    assert re.fullmatch(
        rf"cannot write the index in {re.escape(str(index_dir))}: (permission denied|operation not permitted) "
        r"\(writing a new snapshot; the index is unchanged\)",
        str(caught.value),
    )
    assert (index_dir / CURRENT).read_text() == pointer
    assert_old_index_intact(index_copy, embedder)
    assert ingest(index_copy, [story], embedder).new == ["after-crash"]  # writable again: it lands


# Run a writer on a real full disk (a tiny tmpfs mounted in a user+mount namespace: no root needed)
# or under a file-size limit (RLIMIT_FSIZE: the kernel fails the write with EFBIG, for root too).
FULL_DISK_CHILD = """
import json, resource, signal, sys
from pathlib import Path
from newsrag.errors import NewsRagError
from newsrag.index.ingest import remove
from newsrag.settings import Settings

index_dir, article_id, file_limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if file_limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
try:
    remove(Settings(index_dir=index_dir, lock_timeout=5.0), [article_id])
    print(json.dumps({"error": None}))
except NewsRagError as exc:
    entries = sorted(p.name for p in index_dir.iterdir())
    segments = sorted(p.name for p in (index_dir / "segments").iterdir())
    print(json.dumps({"error": str(exc), "entries": entries, "segments": segments}))
"""

ON_TMPFS = """
set -e
mount -t tmpfs -o size="$1" tmpfs "$2"
cp -a "$3" "$2/index"
"$4" -c "$5" "$2/index" "$6" 0
echo "$(cat "$2/index/CURRENT")"
"$4" -c 'import sys; from pathlib import Path; from newsrag.index.catalog import Catalog
from newsrag.index.storage import load_snapshot
print(len(Catalog(load_snapshot(Path(sys.argv[1]))).articles()))' "$2/index"
"""


def unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(["unshare", "-rm", "true"]).returncode == 0


def test_a_full_disk_is_a_clear_error_and_the_old_index_stays_live(index_copy, tmp_path):
    if not unshare_works():
        pytest.skip(
            "no user namespaces here to mount a small tmpfs in; the file-size-limit test covers the path"
        )
    live = current_snapshot_dir(index_copy.index_dir)
    segments = sorted(p.name for p in (index_copy.index_dir / SEGMENTS_DIR).iterdir())
    # tmpfs gives each file whole 4 KiB pages: room for the index and the new segment's first two files
    # (its docstore.json and removed.json), not for its vectors.
    page = 4096
    used = sum(-(-p.stat().st_size // page) * page for p in index_copy.index_dir.rglob("*") if p.is_file())
    room = used + 2 * page
    mount = tmp_path / "small-disk"
    mount.mkdir()
    child = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            ON_TMPFS,
            "sh",
            str(room),
            str(mount),
            str(index_copy.index_dir),
            sys.executable,
            FULL_DISK_CHILD,
            seed_id(index_copy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    outcome, pointer, articles = child.stdout.strip().splitlines()
    result = json.loads(outcome)
    print(f"full tmpfs of {room} bytes: {result['error']}")
    assert re.fullmatch(
        r"cannot write the index in \S+: no space left on device \(writing a new segment; the index is unchanged\)",
        result["error"] or "",
    )
    assert set(result["entries"]) == {CURRENT, ".lock", SEGMENTS_DIR, live.name}  # no half-written snapshot
    assert result["segments"] == segments  # nor segment
    assert pointer == live.name and articles == "31"


def test_a_write_failing_midway_is_a_clear_error_and_the_old_index_stays_live(index_copy, embedder):
    index_dir = index_copy.index_dir
    pointer = (index_dir / CURRENT).read_text()
    segments = sorted(p.name for p in (index_dir / SEGMENTS_DIR).iterdir())
    limit = 128  # bytes: a removal's segment starts with a nearly empty docstore.json, then its longer removed.json
    child = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(index_dir), seed_id(index_copy), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    print(f"file size limit of {limit} bytes: {result['error']}")
    assert re.fullmatch(
        r"cannot write the index in \S+: file too large \(writing a new segment; the index is unchanged\)",
        result["error"] or "",
    )
    assert set(result["entries"]) == {CURRENT, ".lock", SEGMENTS_DIR, pointer.strip()}
    assert result["segments"] == segments
    assert (index_dir / CURRENT).read_text() == pointer
    assert_old_index_intact(index_copy, embedder)


# --- segments: a write stores what it changed ---------------------------------------------------


def segment_files(index_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Every segment file with its inode, size and modification time: what a rewrite would change."""
    return {
        str(p.relative_to(index_dir)): (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns)
        for p in (index_dir / SEGMENTS_DIR).rglob("*")
        if p.is_file()
    }


def test_adding_one_article_writes_one_small_segment_and_rewrites_nothing(index_copy, embedder, tmp_path):
    index_dir = index_copy.index_dir
    before = segment_files(index_dir)
    base_bytes = sum(size for _, size, _ in before.values())
    assert ingest(index_copy, [write_story(tmp_path / "after.jsonl")], embedder).new == ["after-crash"]
    after = segment_files(index_dir)
    assert {k: v for k, v in after.items() if k in before} == before  # every old file as it was
    new = {k: size for k, (_, size, _) in after.items() if k not in before}
    assert {Path(k).name for k in new} == SEGMENT_FILES
    print(f"one article: {sum(new.values())} bytes written beside {base_bytes} bytes of index")
    assert sum(new.values()) < base_bytes / 20
    assert_old_index_intact(index_copy, embedder, articles=32)


def test_removing_an_article_rewrites_nothing_and_its_vectors_go(index_copy, embedder):
    index_dir = index_copy.index_dir
    before = segment_files(index_dir)
    target = seed_id(index_copy)
    assert remove(index_copy, [target]).removed == [target]
    after = segment_files(index_dir)
    assert {k: v for k, v in after.items() if k in before} == before
    snapshot = load_snapshot(index_dir)
    catalog = Catalog(snapshot)
    assert not catalog.has_article(target) and target not in snapshot.vectors.article_ids()
    assert len(snapshot.vectors) == len(catalog.chunks())


def test_many_small_writes_keep_few_segments_and_the_same_contents(index_copy, embedder, tmp_path):
    from newsrag.index.segments import merge_start

    index_dir = index_copy.index_dir
    ids = [a.id for a in Catalog(load_snapshot(index_dir)).articles()]
    for n in range(12):  # add, update and remove, one small write each
        path = tmp_path / f"story-{n}.jsonl"
        story = {
            "id": f"small-{n % 5}",
            "title": f"Small {n}",
            "text": f"Ferry timetable number {n} starts Monday.",
        }
        path.write_text(json.dumps(story) + "\n")
        assert not ingest(index_copy, [str(path)], embedder).failed
        if n % 4 == 3:
            assert remove(index_copy, [ids.pop()]).removed
    snapshot = load_snapshot(index_dir)
    refs = snapshot.segments
    assert len(refs) <= 5, [r.size for r in refs]
    assert merge_start(refs) >= len(refs) - 1  # nothing left that the policy would merge
    sizes = [r.size for r in refs]
    assert all(sizes[i] > 2 * sum(sizes[i + 1 :]) for i in range(len(sizes) - 1)), sizes  # geometric
    catalog = Catalog(snapshot)
    assert {a.id for a in catalog.articles()} == set(ids) | {f"small-{i}" for i in range(5)}
    assert catalog.article("small-1").title == "Small 11"  # the last version of each
    assert len(snapshot.vectors) == len(catalog.chunks())
    assert {p.name for p in (index_dir / SEGMENTS_DIR).iterdir()} == {
        s["name"]
        for v in index_dir.glob("v-*")
        for s in json.loads((v / SEGMENT_LIST).read_text())["segments"]
    }


def test_the_merge_policy_keeps_segment_sizes_geometric():
    from newsrag.index.segments import SegmentRef, merge_start

    def refs(*sizes: int) -> list[SegmentRef]:
        return [SegmentRef(f"s-{i}", s) for i, s in enumerate(sizes)]

    assert merge_start(refs(1000, 5)) == 1  # a small write on a large index: nothing to merge
    assert merge_start(refs(1000, 5, 5)) == 1  # two alike: merged
    assert merge_start(refs(1000, 12, 5)) == 2
    assert merge_start(refs(1000, 12, 5, 5)) == 1  # the merged pair is as large as the one before
    assert merge_start(refs(100, 40, 20)) == 0  # the tail grew to half the base: everything merges
    assert merge_start(refs(7)) == 0 and merge_start([]) == 0


def test_an_index_of_format_1_is_read_and_its_next_write_makes_it_format_2(index_copy, embedder, tmp_path):
    """Format 1 kept the whole docstore and vectors in the snapshot folder: such an index still answers,
    and the first write stores all of it as a segment."""
    from dataclasses import asdict

    index_dir = index_copy.index_dir
    snapshot = load_snapshot(index_dir)
    legacy = index_dir / "v-20250101T000000000000-legacy"
    legacy.mkdir()
    manifest = {k: v for k, v in asdict(snapshot.manifest).items() if k != "vector_index"}
    (legacy / MANIFEST).write_text(json.dumps({**manifest, "format_version": 1}))
    snapshot.docstore.persist(str(legacy / "docstore.json"))
    snapshot.vectors.persist(str(legacy))
    shutil.rmtree(snapshot.path)
    shutil.rmtree(index_dir / SEGMENTS_DIR)
    (index_dir / CURRENT).write_text(legacy.name + "\n")

    assert_old_index_intact(index_copy, embedder)
    assert ingest(index_copy, [write_story(tmp_path / "after.jsonl")], embedder).new == ["after-crash"]
    live = current_snapshot_dir(index_dir)
    assert json.loads((live / MANIFEST).read_text())["format_version"] == 2
    assert {p.name for p in live.iterdir()} == SNAPSHOT_FILES
    assert_old_index_intact(index_copy, embedder, articles=32)
    assert legacy.exists()  # the snapshot built on is kept, as always
