"""An index whose vectors are in Milvus (`vector_store = "milvus"`), end to end on Milvus Lite in temp dirs.

Ingest, ask with citations, update and remove articles through the real pipeline and embedder; a write
that fails (or is killed) after its rows reached Milvus must leave the live snapshot's vectors as they
were, and the rows no kept snapshot lists must be gone after the next successful write.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sample_data import CNNDM, SEED, SEED_QUESTION, SEED_TITLE

from newsrag.errors import IndexMismatchError, NewsRagError
from newsrag.index import storage
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.milvus_rows import PENDING_DIR, ROWS_FILE, MilvusRows
from newsrag.index.segments import SEGMENTS_DIR
from newsrag.index.storage import CURRENT, MANIFEST, current_snapshot_dir, load_snapshot
from newsrag.index.vector_backend import VectorBackend
from newsrag.rag.engine import NewsRAG
from newsrag.rag.filters import Filters
from newsrag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UPDATED = {
    "id": "ferry",
    "title": "Ferry timetable",
    "source": "Harbour Gazette",
    "published_at": "2024-05-02",
    "text": "The harbour ferry will leave every twenty minutes from Monday. The council said the new timetable "
    "follows complaints about crowded boats.",
}


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    """The seed article, three CNN/Daily Mail articles and a short local story: a few seconds to embed."""
    folder = tmp_path_factory.mktemp("milvus-articles")
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    lines = CNNDM.read_text().splitlines()[:3] + [json.dumps(UPDATED)]
    (folder / "more.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def milvus_settings(tmp_path) -> Settings:
    return Settings(index_dir=tmp_path / "index", lock_timeout=2.0, vector_store="milvus")


def collection_rows(settings: Settings) -> set[str]:
    """Every row id in the index's Milvus collection (a full listing: fine for a test's few rows)."""
    with VectorBackend.from_settings(settings) as backend:
        return set(backend.milvus(384).node_ids())


def listed_rows(settings: Settings) -> set[str]:
    """The rows the kept snapshots list (each read as a load reads it)."""
    rows: set[str] = set()
    with VectorBackend.from_settings(settings) as backend:
        for folder in settings.index_dir.glob("v-*"):
            vectors = storage.read_snapshot(folder, backend).vectors
            assert isinstance(vectors, MilvusRows)
            rows |= vectors.row_ids()
    return rows


def live_rows(settings: Settings) -> dict[str, str]:
    """{chunk id: row id} of the live snapshot."""
    with VectorBackend.from_settings(settings) as backend:
        vectors = load_snapshot(settings.index_dir, backend).vectors
        assert isinstance(vectors, MilvusRows)
        return {n: vectors.row_of(n) or "" for n in vectors.node_ids()}


def stored_vectors(settings: Settings, rows: list[str]) -> dict[str, list[float]]:
    with VectorBackend.from_settings(settings) as backend:
        milvus = backend.milvus(384)
        found = milvus.client.get(milvus.collection, ids=rows, output_fields=["embedding"])
        return {str(r["id"]): [float(x) for x in r["embedding"]] for r in found}


def release_lite_file(settings: Settings) -> None:
    """Stop this process's Milvus Lite server for the index's file, so another process may open it.

    It outlives the clients that opened it (closing a client does not stop it), as in `newsrag serve`.
    """
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(settings.milvus_location)


def write_update(folder: Path) -> str:
    path = folder / "update.jsonl"
    path.write_text(
        json.dumps({**UPDATED, "text": "The harbour ferry is cancelled all summer for repairs."}) + "\n"
    )
    return str(path)


def test_a_milvus_index_answers_with_cited_passages(milvus_settings, articles, embedder):
    report = ingest(milvus_settings, [str(articles)], embedder)
    assert len(report.new) == 5 and not report.failed
    index_dir = milvus_settings.index_dir
    live = current_snapshot_dir(index_dir)
    assert live is not None
    manifest = json.loads((live / MANIFEST).read_text())
    assert (manifest["vector_store"], manifest["milvus_collection"]) == ("milvus", "newsrag_chunks")
    # The segments carry the docstore, the counted words and the row list; the vectors are in the Milvus Lite file.
    for segment in (index_dir / SEGMENTS_DIR).iterdir():
        assert {p.name for p in segment.iterdir()} == {
            "docstore.json",
            "removed.json",
            "terms.npz",
            "articles.json",
            ROWS_FILE,
        }
    assert (index_dir / "milvus.db").is_dir()
    assert not list((index_dir / PENDING_DIR).iterdir())

    engine = NewsRAG(milvus_settings, embedder)
    answer = engine.ask(SEED_QUESTION)
    assert not answer.refused and answer.citations
    assert engine.article(answer.citations[0].article_id).title == SEED_TITLE
    assert "700" in answer.text
    # A filter becomes an allow-list of the snapshot's rows.
    hits = engine.retrieve(SEED_QUESTION, filters=Filters(sources=("Harbour Gazette",)), mode="dense")
    assert hits and {h.node.ref_doc_id for h in hits} == {"ferry"}
    chunks = len(engine.catalog.chunks())
    assert len(collection_rows(milvus_settings)) == chunks == len(listed_rows(milvus_settings))


def test_an_update_leaves_the_live_vectors_alone_until_the_swap_and_stale_rows_go_after(
    milvus_settings, articles, embedder, tmp_path, monkeypatch
):
    ingest(milvus_settings, [str(articles)], embedder)
    before = live_rows(milvus_settings)
    ferry_rows = [row for chunk, row in before.items() if chunk.startswith("ferry#")]
    old_vectors = stored_vectors(milvus_settings, ferry_rows)
    pointer = (milvus_settings.index_dir / CURRENT).read_text()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # The update's rows reach Milvus while it embeds; then its segment cannot be written.
    monkeypatch.setattr(storage, "write_segment", full_disk)
    with pytest.raises(
        NewsRagError, match=r"no space left on device \(writing a new segment; the index is unchanged\)"
    ):
        ingest(milvus_settings, [write_update(tmp_path)], embedder)
    monkeypatch.undo()

    assert (milvus_settings.index_dir / CURRENT).read_text() == pointer
    assert live_rows(milvus_settings) == before
    assert stored_vectors(milvus_settings, ferry_rows) == old_vectors  # not overwritten by the same chunk ids
    orphans = collection_rows(milvus_settings) - set(before.values())
    assert orphans and all(row.startswith("ferry#") for row in orphans)
    assert len(list((milvus_settings.index_dir / PENDING_DIR).iterdir())) == 1
    engine = NewsRAG(milvus_settings, embedder)
    hits = engine.retrieve("When does the harbour ferry leave?", mode="dense", top_k=1)
    assert hits[0].node.node_id.startswith("ferry#") and "twenty minutes" in hits[0].node.get_content()

    # The same update, written: the failed write's rows are deleted, the old version's rows kept while the
    # snapshot before (which lists them) is kept.
    assert ingest(milvus_settings, [write_update(tmp_path)], embedder).updated == ["ferry"]
    after = live_rows(milvus_settings)
    assert not collection_rows(milvus_settings) & orphans
    assert (
        collection_rows(milvus_settings)
        == listed_rows(milvus_settings)
        == set(before.values()) | set(after.values())
    )
    assert not list((milvus_settings.index_dir / PENDING_DIR).iterdir())
    engine.reload()
    hits = engine.retrieve("When does the harbour ferry leave?", mode="dense", top_k=1)
    assert "cancelled all summer" in hits[0].node.get_content()

    # One more write drops the snapshot from before the update, and the old version's rows with it.
    assert remove(milvus_settings, ["ferry"]).removed == ["ferry"]
    assert not collection_rows(milvus_settings) & set(ferry_rows)
    assert collection_rows(milvus_settings) == listed_rows(milvus_settings)


def test_removing_an_article_takes_it_out_of_answers_at_once(milvus_settings, articles, embedder):
    ingest(milvus_settings, [str(articles)], embedder)
    engine = NewsRAG(milvus_settings, embedder)
    seed_id = engine.ask(SEED_QUESTION).citations[0].article_id
    assert remove(milvus_settings, [seed_id, "no such article"]).removed == [seed_id]
    engine.reload()
    assert seed_id not in {h.node.ref_doc_id for h in engine.retrieve(SEED_QUESTION, mode="dense", top_k=10)}
    assert len(Catalog(load_snapshot(milvus_settings.index_dir, engine.vector_backend)).articles()) == 4


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import newsrag.index.storage as storage
    from newsrag.index.embedder import SentenceTransformerEmbedding
    from newsrag.index.ingest import ingest
    from newsrag.settings import Settings

    def killed(*args, **kwargs):  # the rows are in Milvus; the segment listing them never gets written
        os.kill(os.getpid(), signal.SIGKILL)

    storage.write_segment = killed
    settings = Settings(index_dir=Path(sys.argv[1]), vector_store="milvus")
    ingest(settings, [sys.argv[2]], SentenceTransformerEmbedding())
    """
)


@pytest.mark.slow
def test_an_ingest_killed_after_its_milvus_writes_leaves_the_old_snapshot_answering(
    milvus_settings, articles, embedder, tmp_path
):
    ingest(milvus_settings, [str(articles)], embedder)
    before = live_rows(milvus_settings)
    release_lite_file(milvus_settings)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(milvus_settings.index_dir), write_update(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert live_rows(milvus_settings) == before
    assert collection_rows(milvus_settings) > set(before.values())  # the killed write's rows
    engine = NewsRAG(milvus_settings, embedder)
    hits = engine.retrieve("When does the harbour ferry leave?", mode="dense", top_k=1)
    assert "twenty minutes" in hits[0].node.get_content()
    assert ingest(milvus_settings, [write_update(tmp_path)], embedder).updated == ["ferry"]
    assert collection_rows(milvus_settings) == listed_rows(milvus_settings)


def test_an_index_is_opened_only_with_the_store_it_was_built_with(
    milvus_settings, articles, embedder, tmp_path
):
    ingest(milvus_settings, [str(articles / SEED.name)], embedder)
    with pytest.raises(
        IndexMismatchError,
        match=r"index keeps its vectors in the Milvus collection 'newsrag_chunks'; settings ask for FAISS",
    ):
        load_snapshot(milvus_settings.index_dir)
    other = milvus_settings.replace(milvus_collection="other_chunks")
    with pytest.raises(
        IndexMismatchError, match=r"settings ask for Milvus \(the collection 'other_chunks'.*--rebuild"
    ):
        NewsRAG(other, embedder)
    faiss = Settings(index_dir=tmp_path / "faiss-index")
    ingest(faiss, [str(articles / SEED.name)], embedder)
    assert "vector_store" not in json.loads((current_snapshot_dir(faiss.index_dir) / MANIFEST).read_text())
    with pytest.raises(
        IndexMismatchError, match=r"index keeps its vectors in FAISS; settings ask for Milvus"
    ):
        ingest(faiss.replace(vector_store="milvus"), [str(articles / SEED.name)], embedder)
    # --rebuild moves it: the FAISS snapshot before stays readable until it is pruned.
    moved = faiss.replace(vector_store="milvus")
    assert len(ingest(moved, [str(articles)], embedder, rebuild=True).new) == 5
    assert len(NewsRAG(moved, embedder).catalog.articles()) == 5


def test_a_new_index_refuses_a_collection_holding_other_rows(milvus_settings, articles, embedder, tmp_path):
    ingest(milvus_settings, [str(articles / SEED.name)], embedder)
    second = milvus_settings.replace(
        index_dir=tmp_path / "second", milvus_uri=str(milvus_settings.index_dir / "milvus.db")
    )
    with pytest.raises(IndexMismatchError, match=r"already holds \d+ vectors that no index in .* lists"):
        ingest(second, [str(articles / SEED.name)], embedder)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vector_store": "chroma"}, r"setting vector_store: 'chroma' is not one of faiss, milvus"),
        ({"milvus_uri": "vectors.txt"}, r"setting milvus_uri: 'vectors.txt' is neither a Milvus server"),
        (
            {"milvus_collection": "9 chunks"},
            r"setting milvus_collection: '9 chunks' is not a Milvus collection name",
        ),
    ],
)
def test_bad_vector_store_settings_name_the_setting(changes, message, tmp_path):
    with pytest.raises(NewsRagError, match=message):
        Settings(index_dir=tmp_path, **changes)
    env = {f"NEWSRAG_{k.upper()}": v for k, v in changes.items()}
    with pytest.raises(NewsRagError, match=message):
        Settings.load(config=tmp_path / "none.toml", env=env)


def test_the_milvus_token_comes_from_the_environment_only(tmp_path):
    config = tmp_path / "newsrag.toml"
    config.write_text('[newsrag]\nvector_store = "milvus"\nmilvus_token = "user:secret"\n')
    with pytest.raises(NewsRagError, match=r"unknown setting\(s\) milvus_token"):
        Settings.load(config=config, env={})
    settings = Settings.load(config=tmp_path / "none.toml", env={"NEWSRAG_VECTOR_STORE": "milvus"})
    backend = VectorBackend.from_settings(settings, env={"NEWSRAG_MILVUS_TOKEN": "user:secret"})
    assert backend._token == "user:secret" and backend.uri == str(settings.index_dir / "milvus.db")
    server = settings.replace(milvus_uri="https://milvus.example:19530")
    assert VectorBackend.from_settings(server, env={}).uri == "https://milvus.example:19530"


@pytest.mark.slow
def test_an_ingest_while_another_process_holds_the_milvus_lite_file_is_one_clear_line(
    milvus_settings, articles, embedder
):
    """`newsrag serve` holds the Lite file; `newsrag ingest` in another process says so, without a traceback."""
    ingest(milvus_settings, [str(articles / SEED.name)], embedder)
    engine = NewsRAG(milvus_settings, embedder)  # holds the file, as a running server does
    assert engine.ask(SEED_QUESTION).citations
    env = {**os.environ, "NEWSRAG_VECTOR_STORE": "milvus", "NEWSRAG_LOCK_TIMEOUT": "5"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsrag",
            "--index-dir",
            str(milvus_settings.index_dir),
            "ingest",
            str(articles),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "serves a file to one process at a time" in error[0], done.stderr
    assert engine.ask(SEED_QUESTION).citations  # the holder still answers


def test_stats_and_list_work_while_another_process_holds_the_milvus_lite_file(
    milvus_settings, articles, embedder
):
    """They read the segments only: a running server's Lite file is not opened, and the figures are the index's."""
    ingest(milvus_settings, [str(articles)], embedder)
    engine = NewsRAG(milvus_settings, embedder)  # holds the file, as a running server does
    expected = Catalog(
        load_snapshot(milvus_settings.index_dir, VectorBackend.from_settings(milvus_settings), offline=True)
    ).stats()
    assert (expected.articles, expected.chunks) == (
        len(engine.catalog.articles()),
        len(engine.catalog.chunks()),
    )
    env = {**os.environ, "NEWSRAG_VECTOR_STORE": "milvus"}
    for command in (["stats", "--json"], ["list", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "newsrag", "--index-dir", str(milvus_settings.index_dir), *command],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        if command[0] == "stats":
            assert (
                (shown["articles"], shown["chunks"])
                == (expected.articles, expected.chunks)
                == (5, expected.chunks)
            )
        else:
            assert {row["title"] for row in shown} >= {SEED_TITLE, UPDATED["title"]}
    assert engine.ask(SEED_QUESTION).citations  # the holder still answers
