"""A writer opens the index by its ledger (articles.json) and reads no docstore and no vector it keeps."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from newsrag.errors import IndexDamagedError
from newsrag.index.catalog import Catalog
from newsrag.index.ingest import ingest, ingest_articles, remove
from newsrag.index.ledger import LEDGER_FILE, Ledger
from newsrag.index.segments import DOCSTORE, SEGMENTS_DIR
from newsrag.index.storage import _collections, current_snapshot_dir, load_snapshot, open_for_appending
from newsrag.index.vector_store import IDS_FILE, VECTORS_FILE

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)  # an audit hook cannot be removed: it records only inside `files_opened`


@contextmanager
def files_opened() -> Iterator[list[str]]:
    """The paths every open() in this process asks for meanwhile (Python's audit events)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def story(folder: Path, article_id: str, text: str, title: str = "A story") -> str:
    path = folder / f"{article_id}-{abs(hash(text))}.jsonl"
    path.write_text(json.dumps({"id": article_id, "title": title, "text": text}) + "\n")
    return str(path)


def long_text(topic: str) -> str:
    return " ".join(
        f"Sentence {i} of the story about {topic} says something new about it." for i in range(60)
    )


def whole_ledger(settings) -> Ledger:
    snapshot = load_snapshot(settings.index_dir)
    return Ledger.of_collections(_collections(snapshot.docstore), snapshot.vectors.next_id)


def test_adding_one_article_reads_no_docstore_and_no_vector_of_the_index(index_copy, embedder, tmp_path):
    before = {p.name for p in (index_copy.index_dir / SEGMENTS_DIR).iterdir()}
    new = story(tmp_path, "one-more", long_text("a new bridge"))
    with files_opened() as opened:
        report = ingest(index_copy, [new], embedder)
    assert report.new == ["one-more"]
    read = {Path(p).name for p in opened if Path(p).parent.name in before}
    assert read and read <= {LEDGER_FILE, "removed.json"}, read  # the ledger, never DOCSTORE or vectors
    assert not read & {DOCSTORE, VECTORS_FILE, IDS_FILE}
    catalog = Catalog(load_snapshot(index_copy.index_dir))
    assert catalog.has_article("one-more") and len(catalog.articles()) == 32


def test_appending_writes_give_what_a_rebuild_of_the_same_articles_gives(index_copy, embedder, tmp_path):
    inputs = {f"story-{k}": story(tmp_path, f"story-{k}", long_text(f"topic {k}")) for k in range(4)}
    for path in inputs.values():  # one write each: several segments, some merged
        ingest(index_copy, [path], embedder)
    inputs["story-1"] = story(
        tmp_path, "story-1", "Now a short story about topic 1, rewritten."
    )  # fewer chunks
    inputs["story-2"] = story(
        tmp_path, "story-2", long_text("topic 2") + " " + long_text("its sequel")
    )  # more
    report = ingest(index_copy, [inputs["story-1"], inputs["story-2"]], embedder)
    assert sorted(report.updated) == ["story-1", "story-2"]
    first = Catalog(load_snapshot(index_copy.index_dir)).articles()[-1].id  # one of the small corpus's
    assert remove(index_copy, ["story-3", first]).removed == ["story-3", first]
    duplicate = story(tmp_path, "story-0-again", long_text("topic 0"))
    assert [kept for _, kept in ingest(index_copy, [duplicate], embedder).duplicates] == ["story-0"]

    appended = load_snapshot(index_copy.index_dir)
    # The same articles, ingested into a new index in one write.
    catalog = Catalog(appended)
    rebuilt = index_copy.replace(index_dir=tmp_path / "rebuilt")
    ingest_articles(rebuilt, catalog.articles(), embedder, rebuild=True)
    whole = load_snapshot(rebuilt.index_dir)

    def contents(snapshot) -> dict[str, str]:
        return {k: n.get_content() for k, n in snapshot.docstore.docs.items()}

    assert contents(appended) == contents(whole)
    assert sorted(appended.vectors.node_ids()) == sorted(whole.vectors.node_ids())
    assert {k for k in contents(appended) if k.startswith("story-1#")} == {"story-1#0"}
    # And the ledger a writer replays equals the one the loaded docstore gives.
    opened = open_for_appending(index_copy.index_dir)
    assert opened is not None and opened.ledger is not None
    assert opened.ledger.articles == whole_ledger(index_copy).articles
    assert opened.ledger.next_id == appended.vectors.next_id


def test_segments_without_a_readable_ledger_are_read_from_their_docstore_and_given_one(
    index_copy, embedder, tmp_path, caplog
):
    ingest(index_copy, [story(tmp_path, "extra", long_text("a harbour"))], embedder)
    segments = sorted((index_copy.index_dir / SEGMENTS_DIR).iterdir())
    assert len(segments) == 2
    (segments[0] / LEDGER_FILE).unlink()  # as an index written before ledgers existed
    (segments[1] / LEDGER_FILE).write_text('{"next_id": 3, "articles": {"x": [1]}}')  # damaged
    expected = whole_ledger(index_copy)
    with caplog.at_level(logging.INFO, logger="newsrag.index.ledger"):
        opened = open_for_appending(index_copy.index_dir)
    assert opened is not None and opened.ledger == expected
    assert "has no articles.json" in caplog.text and "articles.json is damaged" in caplog.text
    caplog.clear()  # the writer gave both segments their ledger back: the next one reads no docstore
    with caplog.at_level(logging.INFO, logger="newsrag.index.ledger"), files_opened() as opened:
        again = open_for_appending(index_copy.index_dir)
    assert again is not None and again.ledger == expected and not caplog.text
    assert not [p for p in opened if p.endswith(DOCSTORE)]
    report = ingest(index_copy, [story(tmp_path, "extra", long_text("a harbour at night"))], embedder)
    assert report.updated == ["extra"]
    assert (
        Catalog(load_snapshot(index_copy.index_dir))
        .article("extra")
        .text.endswith("at night says something new about it.")
    )


def test_a_file_cut_short_is_found_by_its_recorded_size(index_copy, embedder, tmp_path):
    ingest(index_copy, [story(tmp_path, "extra", long_text("a harbour"))], embedder)
    live = current_snapshot_dir(index_copy.index_dir)
    assert live is not None
    listed = json.loads((live / "segments.json").read_text())["segments"]
    assert all(entry["files"][DOCSTORE] > 0 for entry in listed)
    newest = index_copy.index_dir / SEGMENTS_DIR / listed[-1]["name"]
    data = (newest / VECTORS_FILE).read_bytes()
    (newest / VECTORS_FILE).write_bytes(data[: len(data) // 2])
    expected = f"{listed[-1]['name']}/{VECTORS_FILE}: {len(data) // 2} bytes where {len(data)} were written"
    with pytest.raises(IndexDamagedError, match=re.escape(expected)):
        open_for_appending(index_copy.index_dir)


def test_a_segment_list_written_before_file_sizes_were_recorded_still_opens(index_copy, embedder, tmp_path):
    live = current_snapshot_dir(index_copy.index_dir)
    assert live is not None
    listing = live / "segments.json"
    data = json.loads(listing.read_text())
    for entry in data["segments"]:
        del entry["files"]  # as an index of the stop before wrote it
    listing.write_text(json.dumps(data))
    assert len(Catalog(load_snapshot(index_copy.index_dir)).articles()) == 31
    assert ingest(index_copy, [story(tmp_path, "extra", long_text("a harbour"))], embedder).new == ["extra"]
    newest = json.loads((current_snapshot_dir(index_copy.index_dir) / "segments.json").read_text())[
        "segments"
    ]
    assert not newest[0]["files"] and newest[-1]["files"][LEDGER_FILE] > 0  # the new segment's are recorded
