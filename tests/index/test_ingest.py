"""Ingest with the real embedder and real FAISS: what lands, what is skipped, what is replaced or removed."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from index_files import live_vectors
from llama_index.core.schema import MetadataMode
from llama_index.core.vector_stores.types import VectorStoreQuery
from sample_data import SEED, SEED_TITLE, cnndm_rows

from newsrag.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError, NewsRagError
from newsrag.index.articles import Article
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, remove
from newsrag.index.loaders import iter_inputs
from newsrag.index.storage import CURRENT, current_snapshot_dir, load_snapshot, writer_lock

FIXTURES = Path(__file__).resolve().parent / "fixtures"


STORIES = {
    "ferry": "The harbour ferry will run every ten minutes from Monday, the transport office said.",
    "tram": "Tram drivers in the old town will strike on Friday over a dispute about night shifts.",
    "market": "The farmers market moves to the cathedral square for the summer while the hall is repaired.",
}


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def stories(path: Path, *names: str) -> str:
    """A JSONL file of short one-chunk articles with their names as ids."""
    return write_jsonl(path, [{"id": n, "title": n.title(), "text": STORIES[n]} for n in names])


def open_catalog(settings) -> Catalog:
    return Catalog(load_snapshot(settings.index_dir))


def chunks_by_article(catalog: Catalog) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for chunk in catalog.chunks():
        grouped.setdefault(chunk.ref_doc_id, []).append(chunk)
    return {k: sorted(v, key=lambda c: int(c.node_id.rsplit("#", 1)[1])) for k, v in grouped.items()}


def assert_consistent(settings) -> Catalog:
    """Docstore chunks, the FAISS vectors and the id map on disk all describe the same chunks."""
    catalog = open_catalog(settings)
    chunk_ids = {c.node_id for c in catalog.chunks()}
    on_disk = live_vectors(settings.index_dir)
    assert len(on_disk.in_faiss) == len(chunk_ids)
    assert len(catalog.snapshot.vectors) == len(chunk_ids)
    assert set(on_disk.nodes) == chunk_ids
    assert len(set(on_disk.nodes.values())) == len(chunk_ids)
    assert set(on_disk.articles) == {a.id for a in catalog.articles()}
    grouped = chunks_by_article(catalog)
    for article_id, node_ids in on_disk.articles.items():
        assert sorted(node_ids) == sorted(c.node_id for c in grouped[article_id])
    assert set(grouped) == {a.id for a in catalog.articles()}
    return catalog


def assert_offsets(catalog: Catalog) -> None:
    """Each chunk is the exact slice of its article's text that its offsets name, and they cover it all."""
    for article_id, chunks in chunks_by_article(catalog).items():
        text = catalog.article(article_id).text
        assert [c.node_id for c in chunks] == [f"{article_id}#{i}" for i in range(len(chunks))]
        for chunk in chunks:
            assert text[chunk.start_char_idx : chunk.end_char_idx] == chunk.text
        assert chunks[0].start_char_idx == 0
        assert chunks[-1].end_char_idx == len(text)
        for before, after in zip(chunks, chunks[1:], strict=False):
            assert before.start_char_idx < after.start_char_idx
            assert text[before.end_char_idx : after.start_char_idx].strip() == ""  # no text skipped


def top_article(catalog: Catalog, embedder, question: str) -> str:
    result = catalog.snapshot.vectors.query(
        VectorStoreQuery(query_embedding=embedder.get_query_embedding(question), similarity_top_k=1)
    )
    return catalog.chunk(result.ids[0]).ref_doc_id


# --- the small sample index ------------------------------------------------------------


def test_ids_and_metadata(small_index):
    catalog = assert_consistent(small_index)
    articles = {a.id: a for a in catalog.articles()}
    assert len(articles) == 31
    [seed] = [a for a in articles.values() if a.title == SEED_TITLE]
    [expected_seed] = list(iter_inputs([str(SEED)]))
    assert seed.id == expected_seed.id and seed.id.startswith("sha-")
    assert seed.text == expected_seed.text
    assert (seed.source, seed.authors, seed.published_at) == ("New York Times", ["Madeleine Ngo"], None)
    assert seed.metadata == {
        "credits": expected_seed.metadata["credits"],
        "added_at": seed.metadata["added_at"],
    }
    assert datetime.fromisoformat(seed.metadata["added_at"]) <= datetime.now(UTC)
    for row in cnndm_rows(30):
        article = articles[row["id"]]
        assert (article.title, article.source, article.url) == (row["title"], row["source"], row["url"])
        assert article.text == row["text"]
    stats = catalog.stats()
    assert (stats.articles, stats.chunks) == (31, len(catalog.chunks()))
    assert stats.sources == {"Daily Mail": 30, "New York Times": 1}
    assert (stats.embed_model, stats.dimension) == ("all-MiniLM-L6-v2", 384)


def test_offsets_map_back_to_the_exact_text(small_index):
    catalog = open_catalog(small_index)
    assert len(catalog.chunks()) > len(catalog.articles())  # long articles were split
    assert_offsets(catalog)


def test_vector_query_finds_the_article(small_index, embedder):
    catalog = open_catalog(small_index)
    question = "Why is the border czar withdrawing 700 immigration officers from Minneapolis?"
    assert catalog.article(top_article(catalog, embedder, question)).title == SEED_TITLE


def test_chunks_fit_the_embedder_title_included(small_index, embedder, settings, tmp_path):
    long_title = "Officials Say " + " ".join(["Extraordinarily Complicated Infrastructure Negotiations"] * 8)
    # No sentence ends at all: the splitter has to cut inside the text.
    run_on = " ".join(f"Pneumonoultramicroscopicsilicovolcanoconiosis{n}" for n in range(60))
    sentences = " ".join(
        f"Sentence number {n} says the antidisestablishmentarian vote is close." for n in range(60)
    )
    path = write_jsonl(
        tmp_path / "long.jsonl",
        [
            {"id": "runon", "title": long_title, "text": run_on},
            {"id": "many", "title": long_title, "text": sentences},
        ],
    )
    report = ingest(settings, [path], embedder)
    assert report.new == ["runon", "many"]
    limit = embedder.model.max_seq_length  # word pieces the model reads, [CLS] and [SEP] included
    for catalog in (open_catalog(small_index), assert_consistent(settings)):
        for chunk in catalog.chunks():
            embedded = chunk.get_content(metadata_mode=MetadataMode.EMBED)
            assert embedded.startswith("title: ")  # the title is part of what is embedded
            assert "content_hash" not in embedded and "url:" not in embedded
            assert len(embedder.model.tokenizer.tokenize(embedded)) + 2 <= limit, chunk.node_id
    assert len(chunks_by_article(open_catalog(settings))["runon"]) > 3
    assert_offsets(open_catalog(settings))


# --- formats, idempotence, update, remove, rebuild ----------------------------------------


def test_every_input_format_lands(settings, embedder, tmp_path):
    md = tmp_path / "council.md"
    md.write_text(
        "# Council Votes to Expand Bike Lanes\n\nThe council voted eight to three for new bike lanes.\n"
    )
    jsonl = stories(tmp_path / "wire.jsonl", "ferry")
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"id": "tram", "title": "Tram Strike", "text": STORIES["tram"]}))
    inputs = [
        str(SEED),
        str(md),
        jsonl,
        str(single),
        str(FIXTURES / "city-desk.rss"),
        str(FIXTURES / "science-notes.atom"),
    ]
    report = ingest(settings, inputs, embedder)
    assert not report.failed and not report.duplicates
    assert len(report.new) == 8
    catalog = assert_consistent(settings)
    titles = {a.title for a in catalog.articles()}
    assert {
        SEED_TITLE,
        "Council Votes to Expand Bike Lanes",
        "Ferry",
        "Tram Strike",
        "Library Extends Opening Hours During Exam Season",
        "Night Buses Return to the Eastern Suburbs",
        "Volunteers Count Record Number of Nesting Sea Turtles",
        "Lake Ice Melts Earliest on Record",
    } == titles
    assert_offsets(catalog)
    # Newest first, undated last.
    dated = [a.published_at[:10] for a in catalog.articles() if a.published_at]
    assert dated == ["2024-06-02", "2024-06-01", "2024-05-07", "2024-05-06"]
    assert catalog.articles()[-1].published_at is None


def test_html_page_lands_and_a_page_without_an_article_is_reported(settings, embedder):
    report = ingest(settings, [str(p) for p in sorted(FIXTURES.iterdir()) if p.is_file()], embedder)
    assert [f.input for f in report.failed] == [str(FIXTURES / "index-page.html")]
    assert len(report.new) == 5
    catalog = assert_consistent(settings)
    [page] = [a for a in catalog.articles() if a.url and "coastalherald" in a.url]
    assert (page.title, page.authors, page.source) == (
        "Harbour Bridge Repairs Will Close Two Lanes Until Spring",
        ["Priya Raman"],
        "Coastal Herald",
    )
    assert_offsets(catalog)


def test_feed_url_lands_and_reingest_is_unchanged(settings, embedder, feed_server):
    settings = settings.replace(allow_local_feeds=True)  # the test's feed server is on 127.0.0.1
    url = f"{feed_server}/science-notes.atom"
    first = ingest(settings, [url], embedder)
    assert len(first.new) == 2 and not first.failed
    catalog = assert_consistent(settings)
    assert {a.url for a in catalog.articles()} == {
        "https://sciencenotes.example/2024/06/sea-turtles",
        "https://sciencenotes.example/2024/06/lake-ice",
    }
    again = ingest(settings, [url], embedder)
    assert sorted(again.unchanged) == sorted(first.new) and not again.changed


def test_reingest_is_idempotent(settings, embedder, tmp_path):
    inputs = [str(SEED), stories(tmp_path / "s.jsonl", "ferry", "tram")]
    first = ingest(settings, inputs, embedder)
    assert len(first.new) == 3 and first.chunks_written > 3
    pointer = (settings.index_dir / CURRENT).read_text()
    before = assert_consistent(settings)
    again = ingest(settings, inputs, embedder)
    assert sorted(again.unchanged) == sorted(first.new)
    assert (again.new, again.updated, again.duplicates, again.failed, again.chunks_written) == (
        [],
        [],
        [],
        [],
        0,
    )
    assert not again.changed
    assert (settings.index_dir / CURRENT).read_text() == pointer  # no new snapshot written
    after = assert_consistent(settings)
    assert {c.node_id for c in after.chunks()} == {c.node_id for c in before.chunks()}


def test_update_replaces_the_old_chunks_in_docstore_and_faiss(settings, embedder, tmp_path):
    old_text = cnndm_rows(1)[0]["text"]
    new_text = "Kilmarnock postponed the announcement of their new manager until next week."
    ingest(
        settings,
        [write_jsonl(tmp_path / "v1.jsonl", [{"id": "story", "title": "Old", "text": old_text}])],
        embedder,
    )
    ingest(settings, [stories(tmp_path / "other.jsonl", "ferry")], embedder)
    old_chunks = chunks_by_article(open_catalog(settings))["story"]
    assert len(old_chunks) >= 3

    report = ingest(
        settings,
        [write_jsonl(tmp_path / "v2.jsonl", [{"id": "story", "title": "New", "text": new_text}])],
        embedder,
    )
    assert (report.updated, report.new, report.chunks_written) == (["story"], [], 1)
    catalog = assert_consistent(settings)
    assert len(catalog.snapshot.vectors) == len(catalog.chunks()) == 2
    article = catalog.article("story")
    assert (article.title, article.text) == ("New", new_text)
    [chunk] = chunks_by_article(catalog)["story"]
    assert (chunk.node_id, chunk.text) == ("story#0", new_text)
    stale = {c.text for c in old_chunks}
    assert not stale & {n.get_content() for n in catalog.snapshot.docstore.docs.values()}
    assert catalog.snapshot.docstore.get_ref_doc_info("story").node_ids == ["story#0"]
    # The old text's own embedding now finds only live chunks, the updated one first.
    hits = catalog.snapshot.vectors.query(
        VectorStoreQuery(query_embedding=embedder.get_text_embedding(old_chunks[1].text), similarity_top_k=10)
    )
    assert set(hits.ids) == {"story#0", "ferry#0"}
    same = ingest(settings, [str(tmp_path / "v2.jsonl")], embedder)
    assert same.unchanged == ["story"] and not same.changed


def test_remove(settings, embedder, tmp_path):
    inputs = [str(SEED), stories(tmp_path / "s.jsonl", "ferry", "tram")]
    ingest(settings, inputs, embedder)
    seed_id = next(a.id for a in open_catalog(settings).articles() if a.title == SEED_TITLE)

    report = remove(settings, [seed_id, "no-such-id"])
    assert report.removed == [seed_id]
    [failure] = report.failed
    assert failure.input == "no-such-id" and "no article with id 'no-such-id'" in failure.reason
    catalog = assert_consistent(settings)
    assert {a.id for a in catalog.articles()} == {"ferry", "tram"}
    assert not catalog.has_article(seed_id)
    assert not [n for n in catalog.snapshot.docstore.docs if n.startswith(seed_id)]
    assert catalog.snapshot.docstore.get_ref_doc_info(seed_id) is None
    assert catalog.snapshot.docstore.get_document_hash(seed_id) is None
    assert len(catalog.snapshot.vectors) == 2

    back = ingest(settings, inputs, embedder)  # a removed article comes back as new
    assert back.new == [seed_id] and sorted(back.unchanged) == ["ferry", "tram"]
    assert_offsets(assert_consistent(settings))


def test_remove_without_an_index(settings):
    with pytest.raises(IndexNotFoundError, match="newsrag ingest"):
        remove(settings, ["anything"])


def test_rebuild_replaces_everything_and_may_change_settings(settings, embedder, tmp_path):
    ingest(settings, [stories(tmp_path / "a.jsonl", "ferry", "tram")], embedder)
    rebuilt = settings.replace(chunk_overlap=16)
    report = ingest(rebuilt, [stories(tmp_path / "b.jsonl", "market")], embedder, rebuild=True)
    assert report.new == ["market"]
    catalog = assert_consistent(settings.replace(chunk_overlap=16))
    assert [a.id for a in catalog.articles()] == ["market"]
    assert catalog.snapshot.manifest.chunk_overlap == 16
    again = ingest(rebuilt, [str(tmp_path / "b.jsonl")], embedder, rebuild=True)  # rebuild always writes
    assert again.new == ["market"]
    assert [a.id for a in assert_consistent(rebuilt).articles()] == ["market"]


@pytest.mark.parametrize(
    "changes",
    [{"chunk_overlap": 16}, {"chunk_size": 128}, {"embed_model": "sentence-transformers/all-mpnet-base-v2"}],
)
def test_settings_mismatch_is_refused(index_copy, embedder, changes):
    pointer = (index_copy.index_dir / CURRENT).read_text()
    with pytest.raises(IndexMismatchError, match="newsrag ingest PATH --rebuild") as caught:
        ingest(index_copy.replace(**changes), [str(SEED)], embedder)
    assert "all-MiniLM-L6-v2 (384-d)" in str(caught.value)
    assert (index_copy.index_dir / CURRENT).read_text() == pointer
    assert ingest(index_copy, [str(SEED)], embedder).unchanged  # the lock was released, the index is intact


def test_chunk_size_zero_means_the_embedders_limit(small_index, embedder):
    manifest = load_snapshot(small_index.index_dir).manifest
    assert manifest.chunk_size == embedder.max_tokens == embedder.model.max_seq_length - 2
    manifest.check("all-MiniLM-L6-v2", 0, 32)  # the default: whatever the embedder reads
    manifest.check("all-MiniLM-L6-v2", embedder.max_tokens, 32)  # the same size, given explicitly


# --- duplicates and bad inputs --------------------------------------------------------------


def test_same_text_under_another_file_name_or_url_is_a_duplicate(settings, embedder, tmp_path):
    text = "The regional orchestra announced a free concert in the park on the first Sunday of July."
    copy_a, copy_b = tmp_path / "concert.txt", tmp_path / "concert-copy.txt"
    copy_a.write_text(text + "\n")
    copy_b.write_text(text + "\n")
    rescraped = "THE regional  orchestra announced a \u201cfree\u201d concert in the park\non the first Sunday of July."
    feed = write_jsonl(
        tmp_path / "wire.jsonl",
        [
            {"title": "Concert", "text": "A free concert: " + text, "url": "https://one.example/concert"},
            {"title": "Concert", "text": "a free concert: " + rescraped, "url": "https://two.example/x"},
        ],
    )
    report = ingest(settings, [str(copy_a), str(copy_b), feed], embedder)
    assert len(report.new) == 2
    by_origin = dict(report.duplicates)
    assert by_origin == {str(copy_b): report.new[0], f"{feed}:2": report.new[1]}
    assert len(open_catalog(settings).articles()) == 2

    later = write_jsonl(tmp_path / "later.jsonl", [{"text": text, "url": "https://three.example/c"}])
    again = ingest(settings, [later], embedder)
    assert again.duplicates == [(f"{later}:1", report.new[0])] and not again.changed
    assert len(assert_consistent(settings).articles()) == 2


def test_bad_inputs_are_each_reported_while_the_rest_land(settings, embedder, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 64)
    (folder / "latin1.txt").write_bytes(
        "Caf\xe9 owners protest the new rent rules in the old port.".encode("latin-1")
    )
    (folder / "mixed.jsonl").write_text(
        json.dumps({"id": "ferry", "text": STORIES["ferry"]})
        + "\n{oops\n"
        + json.dumps({"id": "tram", "text": STORIES["tram"]})
        + "\n"
    )
    (folder / "zz-good.txt").write_text(STORIES["market"] + "\n")
    report = ingest(settings, [str(folder), str(tmp_path / "missing.json")], embedder)
    failed = {Path(f.input).name: f.reason for f in report.failed}
    assert set(failed) == {"empty.txt", "binary.txt", "mixed.jsonl:2", "missing.json"}
    assert failed["empty.txt"] == "empty file"
    assert failed["binary.txt"] == "binary file, not text"
    assert failed["mixed.jsonl:2"].startswith("invalid JSON")
    assert len(report.new) == 4  # Latin-1 text is read as Windows-1252 and lands
    catalog = assert_consistent(settings)
    latin1 = "Caf\xe9 owners protest the new rent rules in the old port."
    assert {a.text for a in catalog.articles()} == set(STORIES.values()) | {latin1}


def test_only_bad_inputs_write_no_index(settings, embedder, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    report = ingest(settings, [str(tmp_path / "empty.txt")], embedder)
    assert len(report.failed) == 1 and not report.changed
    with pytest.raises(IndexNotFoundError):
        load_snapshot(settings.index_dir)


# --- two writers ----------------------------------------------------------------------------------


def test_second_writer_fails_clearly_when_the_lock_is_held(settings, embedder, tmp_path):
    inputs = [stories(tmp_path / "s.jsonl", "ferry")]
    with writer_lock(settings.index_dir, timeout=1.0):
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match="another process is writing the index"):
            ingest(settings.replace(lock_timeout=0.5), inputs, embedder)
        assert 0.4 <= time.monotonic() - started < 5
        with pytest.raises(IndexLockedError):
            remove(settings.replace(lock_timeout=0.3), ["ferry"])
    assert not (settings.index_dir / CURRENT).exists()
    assert ingest(settings, inputs, embedder).new == ["ferry"]


def test_second_writer_waits_for_the_first(settings, embedder, tmp_path):
    inputs = [stories(tmp_path / "s.jsonl", "ferry")]
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        try:
            outcome["report"] = ingest(settings.replace(lock_timeout=60.0), inputs, embedder)
        except Exception as exc:  # reported to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=second_writer)
    with writer_lock(settings.index_dir, timeout=1.0):
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()  # waiting, not failing
        assert not (settings.index_dir / CURRENT).exists()
    thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].new == ["ferry"]
    assert isinstance(open_catalog(settings).article("ferry"), Article)


# --- regressions of bugs found when these tests were written ---


def test_a_title_longer_than_a_chunk_does_not_sink_the_ingest(settings, embedder, tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": "ferry", "title": "Ferry", "text": STORIES["ferry"]},
            {"id": "long", "title": " ".join(f"headline{n}" for n in range(150)), "text": STORIES["tram"]},
        ],
    )
    report = ingest(settings, [path], embedder)
    assert "ferry" in report.new
    assert "long" in report.new or [f.input for f in report.failed] == [f"{path}:2"]
    for chunk in assert_consistent(settings).chunks():
        embedded = chunk.get_content(metadata_mode=MetadataMode.EMBED)
        assert len(embedder.model.tokenizer.tokenize(embedded)) + 2 <= embedder.model.max_seq_length


def test_an_explicit_chunk_size_above_the_model_limit_is_refused(settings, embedder, tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", cnndm_rows(1))
    with pytest.raises(
        NewsRagError, match=r"chunk size 400 is more than all-MiniLM-L6-v2 reads \(254 word pieces\)"
    ):
        ingest(settings.replace(chunk_size=400), [path], embedder)
    assert current_snapshot_dir(settings.index_dir) is None  # nothing was written


def test_a_rebuild_whose_inputs_all_fail_keeps_the_index(index_copy, embedder, tmp_path):
    report = ingest(index_copy, [str(tmp_path / "mistyped-path")], embedder, rebuild=True)
    assert len(report.failed) == 1
    assert len(open_catalog(index_copy).articles()) == 31


def test_removing_an_id_given_twice_reports_it_once(index_copy):
    article_id = open_catalog(index_copy).articles()[0].id
    report = remove(index_copy, [article_id, article_id])
    assert report.removed == [article_id]
    assert len(assert_consistent(index_copy).articles()) == 30


def test_a_large_ingest_lands_in_parts_and_an_interrupted_one_resumes(
    small_index, embedder, tmp_path, monkeypatch
):
    """Each part is saved as it is done: an ingest that fails in its third part keeps the first two,
    and the same ingest run again finds them unchanged and does only the rest."""
    import newsrag.index.ingest as ingest_module

    settings = small_index.replace(index_dir=tmp_path / "parts")
    monkeypatch.setattr(ingest_module, "PART_ARTICLES", 2)
    rows = [
        {"id": f"part-{n}", "title": f"Part {n}", "text": f"Ferry timetable {n} changes on Monday."}
        for n in range(7)
    ]
    path = tmp_path / "parts.jsonl"
    write_jsonl(path, rows)
    real = ingest_module._index_articles
    calls = []

    def failing_third(snapshot, articles, *args):
        calls.append([a.id for a in articles])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third part
        return real(snapshot, articles, *args)

    monkeypatch.setattr(ingest_module, "_index_articles", failing_third)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, [str(path)], embedder)
    assert {a.id for a in open_catalog(settings).articles()} == {"part-0", "part-1", "part-2", "part-3"}
    assert len(load_snapshot(settings.index_dir).segments) <= 2

    monkeypatch.setattr(ingest_module, "_index_articles", real)
    report = ingest(settings, [str(path)], embedder)
    assert sorted(report.unchanged) == ["part-0", "part-1", "part-2", "part-3"]
    assert sorted(report.new) == ["part-4", "part-5", "part-6"]
    catalog = assert_consistent(settings)
    assert {a.id for a in catalog.articles()} == {r["id"] for r in rows}
