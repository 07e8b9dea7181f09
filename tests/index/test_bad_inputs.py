"""The bad-input corpus: hostile and broken inputs ingested in one batch with good ones.

Each input fails alone with its reason, or lands with its fields coerced to what the index
stores, and the good inputs of the same batch land. The batch goes through ingest once (the
`batch` fixture); every expectation is one parametrised test. Committed inputs are in
fixtures/bad/ (fields.jsonl carries each record's expectation in its "expect" key); the ones
a repository cannot hold sensibly (binary, other encodings, symbolic links, odd file names,
large files) are written by `write_generated`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from llama_index.core import Document

from newsrag.index.articles import Article
from newsrag.index.catalog import Catalog
from newsrag.index.chunking import make_splitter
from newsrag.index.cleaning import clean_body
from newsrag.index.ingest import IngestReport, ingest
from newsrag.index.storage import load_snapshot
from newsrag.settings import Settings

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
HARBOUR = (BAD / "harbour-story.txt").read_text()
ZURICH = "Trams in Zürich will run all night at weekends from {}, the city transport office said."
MAX_CHARS = Settings().max_article_chars
# Runs of hex digits: each one "word" that the embedder would read as a single unknown word piece.
BLOB = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(63))[:4000]
SHORT_BLOB = BLOB[:300]  # the batch's: one chunk, so that the batch embeds no long chunk
TOO_LONG_BODY = ("The harbour board met again on Tuesday to discuss the ferries. " * 3200)[:MAX_CHARS] + "."
ODD_NAMES = {
    "Nachrichten März/Café – día de mercado.md": "Mercado de São Bento Abre ao Domingo",
    "with space/river levels update.txt": "River levels update",
    "\x1b[31mAlert\x1b[0m.txt": "Alert",
}
INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def write_generated(folder: Path) -> None:
    """The inputs that are written here rather than committed."""
    gen = folder / "generated"
    gen.mkdir()
    (gen / "binary.txt").write_bytes(b"GIF89a\x00\x01\x02\x00\xff" * 40)
    (gen / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (gen / "controls.txt").write_bytes(bytes(range(1, 9)) * 500)  # no NUL, but no text either
    (gen / "utf-8-bom.txt").write_bytes(codecs.BOM_UTF8 + ZURICH.format("May").encode())
    (gen / "utf-16-le.txt").write_bytes(codecs.BOM_UTF16_LE + ZURICH.format("June").encode("utf-16-le"))
    (gen / "utf-16-be.txt").write_bytes(codecs.BOM_UTF16_BE + ZURICH.format("July").encode("utf-16-be"))
    (gen / "utf-32-le.txt").write_bytes(codecs.BOM_UTF32_LE + ZURICH.format("August").encode("utf-32-le"))
    (gen / "utf-32-be.txt").write_bytes(codecs.BOM_UTF32_BE + ZURICH.format("October").encode("utf-32-be"))
    (gen / "utf-16-without-bom.txt").write_bytes(ZURICH.format("never").encode("utf-16-le"))
    (gen / "utf-16-broken.txt").write_bytes(codecs.BOM_UTF16_LE + "Trams".encode("utf-16-le") + b"\x00\xd8")
    (gen / "latin-1.txt").write_bytes(
        "Caf\xe9 owners in Bras\xedlia protest the new rent rules for the old market.".encode("latin-1")
    )
    (gen / "windows-1252.txt").write_bytes(
        b"\x93We will not close,\x94 the owner said \x96 the market stays open until nine."
    )
    (gen / "invalid-utf-8.txt").write_bytes("Zürich trams ".encode() + b"\xff\xfe run all night.")
    (gen / "truncated-utf-8.txt").write_bytes("Trams in Zürich run until ".encode() + "€".encode()[:2])
    (gen / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (gen / "huge-number.json").write_text('{"text": "A story.", "n": ' + "9" * 5000 + "}")
    (gen / "metadata-too-large.jsonl").write_text(
        json.dumps({"id": "big-metadata", "text": ZURICH.format("March"), "notes": "x" * 12_000}) + "\n"
    )
    (gen / "line-separator.jsonl").write_text(
        json.dumps(
            {"id": "line-separator", "text": "The first line ends here\u2028and the second one follows it."},
            ensure_ascii=False,
        )
        + "\n"
    )
    (gen / "long-word.txt").write_text(
        f"A Story With a Blob\nThe report attached a checksum: {SHORT_BLOB}.\n"
    )
    (gen / "too-long.txt").write_text("Too Long\n" + TOO_LONG_BODY + "\n")
    # "#" and a long run of spaces with no newline took the old heading pattern minutes.
    (gen / "pathological-heading.md").write_text("#" + " " * 100_000 + "x")
    # Copies of harbour-story.txt that only invisible characters or Unicode forms tell apart.
    copies = folder / "copies"
    copies.mkdir()
    (copies / "zero-width-space.txt").write_text(HARBOUR.replace("ferr", "fe\u200brr"))
    (copies / "zero-width-joiner.txt").write_text(HARBOUR.replace("board", "bo\u200dard"))
    (copies / "bidi-marks.txt").write_text(HARBOUR.replace("harbour", "\u202aharbour\u202c"))
    (copies / "decomposed.txt").write_text(unicodedata.normalize("NFD", HARBOUR))
    for name, title in ODD_NAMES.items():
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        body = f"The market opens on Sunday mornings from next month, {len(name)} stalls in all."
        path.write_text(f"# {title}\n\n{body}\n" if name.endswith(".md") else body + "\n")
    links = folder / "links"
    links.mkdir()
    (links / "loop").symlink_to(".")  # a folder link back to its own folder
    (links / "self.txt").symlink_to("self.txt")
    (links / "ping.txt").symlink_to("pong.txt")
    (links / "pong.txt").symlink_to("ping.txt")
    (links / "gone.txt").symlink_to("missing.txt")
    (links / "real.txt").write_text(
        "The lighthouse on the north mole will be repainted in red and white this summer.\n"
    )
    os.mkfifo(links / "pipe.txt")  # opening it would block for ever: it must not be opened


FAILS = {
    "empty.txt": "empty file",
    "whitespace-only.md": "empty file",
    "trailer-only.txt": "no article text: only the feed trailer, credit or author lines",
    "no-article.html": "no article text found in the HTML",
    "mixed-lines.jsonl:2": "invalid JSON: Expecting property name enclosed in double quotes",
    "mixed-lines.jsonl:3": "expected a JSON object, got a list",
    "mixed-lines.jsonl:4": "expected a JSON object, got a string",
    "generated/binary.txt": "binary file, not text",
    "generated/image.md": "binary file, not text",
    "generated/controls.txt": "binary file, not text",
    "generated/utf-16-without-bom.txt": "binary file, not text",  # no byte-order mark: not guessed
    "generated/utf-16-broken.txt": "not valid UTF-16 after its byte-order mark (byte 12)",
    "generated/invalid-utf-8.txt": "not valid UTF-8 (byte 14)",
    "generated/truncated-utf-8.txt": "not valid UTF-8 (byte 27)",
    "generated/deep.json": "invalid JSON: nested too deeply",
    "generated/huge-number.json": (
        "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits"
    ),
    "generated/metadata-too-large.jsonl:1": (
        "the other fields take 12,002 characters as JSON ('notes': 12,002), more than 10,000; "
        "they are stored with every chunk"
    ),
    "generated/too-long.txt": (
        f"article text is {len(TOO_LONG_BODY.strip()):,} characters, more than max_article_chars "
        f"({MAX_CHARS:,}): split it into smaller articles or raise the setting"
    ),
    "links/self.txt": "cannot read: Too many levels of symbolic links",
    "links/ping.txt": "cannot read: Too many levels of symbolic links",
    "links/pong.txt": "cannot read: Too many levels of symbolic links",
    "links/gone.txt": "cannot read: No such file or directory",
    "pipe (given by name)": "not a regular file or folder",
}
# Inputs that land, with what the index then holds; looked up by title.
LANDS = {
    "mixed-lines.jsonl:1": {"title": "Tram Strike Ends"},
    "mixed-lines.jsonl:5": {"title": "Market Hall Reopens"},
    "generated/utf-8-bom.txt": {"text": ZURICH.format("May"), "encoding": None},
    "generated/utf-16-le.txt": {"text": ZURICH.format("June"), "encoding": "utf-16"},
    "generated/utf-16-be.txt": {"text": ZURICH.format("July"), "encoding": "utf-16"},
    "generated/utf-32-le.txt": {"text": ZURICH.format("August"), "encoding": "utf-32"},
    "generated/utf-32-be.txt": {"text": ZURICH.format("October"), "encoding": "utf-32"},
    "generated/latin-1.txt": {
        "text": "Café owners in Brasília protest the new rent rules for the old market.",
        "encoding": "cp1252",
    },
    "generated/windows-1252.txt": {
        "text": "\u201cWe will not close,\u201d the owner said \u2013 the market stays open until nine.",
        "encoding": "cp1252",
    },
    "generated/line-separator.jsonl:1": {"text": "The first line ends here\nand the second one follows it."},
    "generated/long-word.txt": {"title": "A Story With a Blob"},
    "generated/pathological-heading.md": {"title": "Pathological heading"},
    "links/real.txt": {"title": "Real"},
    **{name: {"title": title} for name, title in ODD_NAMES.items()},
}


def field_cases(want_failure: bool) -> list:
    lines = (BAD / "fields.jsonl").read_text().splitlines()
    return [
        pytest.param(f"fields.jsonl:{n}", record["expect"], id=record["case"])
        for n, record in ((n, json.loads(line)) for n, line in enumerate(lines, 1))
        if isinstance(record["expect"], str) == want_failure
    ]


@dataclass
class Batch:
    folder: Path
    report: IngestReport
    catalog: Catalog
    articles: list[Article]
    seconds: float

    def failed(self) -> dict[str, str]:
        return {self.name(e.input): e.reason for e in self.report.failed}

    def name(self, path: str) -> str:
        return (
            "pipe (given by name)"
            if path.endswith("pipe-outside")
            else str(Path(path).relative_to(self.folder))
        )

    def by_title(self, title: str) -> Article:
        [article] = [a for a in self.articles if a.title == title]
        return article

    def by_text(self, text: str) -> Article:
        [article] = [a for a in self.articles if a.text == text]
        return article


@pytest.fixture(scope="module")
def batch(tmp_path_factory, embedder) -> Batch:
    """The corpus ingested once into a fresh index, with settings as the `settings` fixture makes them."""
    root = tmp_path_factory.mktemp("bad-inputs")
    folder = root / "inbox"
    shutil.copytree(BAD, folder)
    write_generated(folder)
    os.mkfifo(root / "pipe-outside")
    settings = Settings(index_dir=root / "index", lock_timeout=2.0)
    embedder.encode(["warm up: the model loads on first use"])
    started = time.perf_counter()
    report = ingest(settings, [str(folder), str(root / "pipe-outside")], embedder)
    seconds = time.perf_counter() - started
    print(f"\nbad-input batch: {report.summary()}")
    catalog = Catalog(load_snapshot(settings.index_dir))
    return Batch(folder, report, catalog, catalog.articles(), seconds)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        *(pytest.param(n, r, id=n.encode("unicode_escape").decode()) for n, r in FAILS.items()),
        *field_cases(True),
    ],
)
def test_each_bad_input_fails_alone_with_its_reason(batch, name, reason):
    assert batch.failed().get(name) == reason


@pytest.mark.parametrize(("name", "expect"), field_cases(False))
def test_each_record_with_a_coercible_field_lands_coerced(batch, name, expect):
    expect = dict(expect)
    if "id" in expect:
        [article] = [a for a in batch.articles if a.id == expect["id"]]
    else:
        article = batch.by_title(expect["title"])
    kept = expect.pop("metadata", {})
    assert {k: getattr(article, k) for k in expect} == expect
    assert {k: article.metadata.get(k) for k in kept} == kept


@pytest.mark.parametrize(
    ("name", "expect"), LANDS.items(), ids=[n.encode("unicode_escape").decode() for n in LANDS]
)
def test_each_good_input_lands(batch, name, expect):
    article = batch.by_title(expect["title"]) if "title" in expect else batch.by_text(expect["text"])
    if "encoding" in expect:  # said when the bytes were not UTF-8
        assert article.metadata.get("encoding") == expect["encoding"]
    assert article.id in batch.report.new


def test_nothing_else_failed_and_every_other_input_landed(batch):
    expected_failures = set(FAILS) | {p.values[0] for p in field_cases(want_failure=True)}
    assert set(batch.failed()) == expected_failures
    landed = len(LANDS) + len(field_cases(want_failure=False)) + 1  # + one of the harbour story's copies
    assert len(batch.report.new) == len(batch.articles) == landed
    assert not any("/loop/" in e.input for e in batch.report.failed)  # the folder link was not followed


def test_copies_told_apart_only_by_invisible_characters_or_unicode_forms_are_duplicates(batch):
    [kept] = [a for a in batch.articles if a.title.startswith("Harbour Board Approves Night Ferries")]
    assert kept.text == HARBOUR.split("\n", 1)[1].strip()  # whichever copy came first, stored clean
    duplicates = {batch.name(origin): twin for origin, twin in batch.report.duplicates}
    names = {"harbour-story.txt", *(f"copies/{p.name}" for p in (batch.folder / "copies").iterdir())}
    assert set(duplicates) <= names and len(duplicates) == len(names) - 1
    assert set(duplicates.values()) == {kept.id}


def test_nothing_stored_holds_control_escape_invisible_or_override_characters(batch):
    for article in batch.articles:
        for value in (article.title, article.text, article.source or "", *article.authors):
            assert not INVISIBLE.search(value), (article.id, value)
            assert unicodedata.is_normalized("NFC", value)
    # What the chat's publisher filter and `newsrag stats` do on every page load.
    assert sorted({a.source for a in batch.articles if a.source}) == ["12.5", "7", "Harbour News"]
    assert batch.catalog.stats().articles == len(batch.articles)


def test_a_long_run_is_stored_broken_and_embedded_whole(batch, embedder):
    article = batch.by_title("A Story With a Blob")
    assert max(len(w) for w in re.findall(r"\w+", article.text)) == 60
    assert "".join(article.text.split()).endswith(SHORT_BLOB + ".")  # broken with spaces, nothing dropped
    [chunk] = [c for c in batch.catalog.chunks() if c.ref_doc_id == article.id]
    assert "[UNK]" not in embedder.count_tokens(chunk.text)
    assert embedder.count_tokens(SHORT_BLOB) == ["[UNK]"]  # what the embedder made of it before


def test_a_long_run_broken_is_chunked_by_what_the_embedder_reads(embedder):
    splitter = make_splitter(embedder.max_tokens, 32, embedder.count_tokens)
    text = f"The report attached a checksum: {BLOB}."
    [before] = splitter.get_nodes_from_documents([Document(text=text)])  # 4,000 characters, 7 word pieces
    assert embedder.count_tokens(before.text).count("[UNK]") == 1
    after = splitter.get_nodes_from_documents([Document(text=clean_body(text))])
    assert len(after) > 5
    for chunk in after:
        pieces = embedder.count_tokens(chunk.text)
        assert "[UNK]" not in pieces and len(pieces) <= embedder.max_tokens
    assert after[0].text.startswith("The report") and after[-1].text.endswith(BLOB[-20:] + ".")


def test_the_batch_is_quick(batch):
    # A generous bound: the pathological heading alone took minutes before, the batch takes seconds.
    print(
        f"bad-input batch: {len(batch.report.failed)} failed, {len(batch.report.new)} new in {batch.seconds:.1f}s"
    )
    assert batch.seconds < 60


def split_and_embed(text: str, embedder) -> tuple[list[str], float]:
    """The two stages ingest spends its time in, on one text: its chunks and the seconds taken."""
    started = time.perf_counter()
    splitter = make_splitter(embedder.max_tokens, 32, embedder.count_tokens)
    chunks = [n.get_content() for n in splitter.get_nodes_from_documents([Document(text=text)])]
    embedder.encode(chunks)
    return chunks, time.perf_counter() - started


@pytest.mark.slow
def test_a_100_kb_single_line_costs_what_its_text_does(tmp_path, embedder):
    """Before/after in one run: the raw text (as stored before) and the cleaned one, then ingest of the file."""
    texts = {
        "prose": " ".join(
            f"The council said on day {i} that the harbour repairs would close two lanes."
            for i in range(1400)
        )[:100_000],
        "no punctuation": " ".join(f"harbour repairs close lanes day {i}" for i in range(3000))[:100_000],
        "one 100 KB word": "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(1600))[
            :100_000
        ],
    }
    embedder.encode(["warm up: the model loads on first use"])
    rows = []
    for n, (kind, text) in enumerate(texts.items()):
        before, before_seconds = split_and_embed(text, embedder)
        after, after_seconds = split_and_embed(clean_body(text), embedder)
        path = tmp_path / f"{n}.txt"
        path.write_text(f"One Line\n{text}\n")
        started = time.perf_counter()
        report = ingest(Settings(index_dir=tmp_path / f"index-{n}"), [str(path)], embedder)
        ingest_seconds = time.perf_counter() - started
        unknown = sum(embedder.count_tokens(c).count("[UNK]") for c in before)
        rows.append(
            f"{kind:15} before: {len(before):3} chunks, longest {max(map(len, before)):6,} chars, "
            f"{unknown} [UNK], {before_seconds:4.1f}s | after: {len(after):3} chunks, longest "
            f"{max(map(len, after)):5,} chars, {after_seconds:4.1f}s | ingest of the file {ingest_seconds:4.1f}s"
        )
        assert report.new and report.chunks_written >= len(after)
        assert max(map(len, after)) < 20_000
        assert all("[UNK]" not in embedder.count_tokens(c) for c in after)
    print("\n" + "\n".join(rows))
