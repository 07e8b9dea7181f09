"""Every input format becomes Articles with stable ids and metadata; every bad input becomes an InputError."""

from __future__ import annotations

import codecs
import json
import shutil
import socket
import time
from pathlib import Path

import pytest
from sample_data import SEED, SEED_TITLE

from newsrag.index.articles import Article, InputError, article_id, content_hash, parse_date
from newsrag.index.cleaning import break_long_words, clean_line, clean_text
from newsrag.index.decoding import NotText, decode
from newsrag.index.fetch import FeedPolicy
from newsrag.index.loaders import _guarded, iter_inputs, load_file
from newsrag.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The feed server of these tests is on 127.0.0.1, which the default policy refuses.
LOCAL_FEEDS = FeedPolicy(allow_local=True, timeout=5.0)


def load(*paths: str | Path) -> list[Article | InputError]:
    return list(iter_inputs([str(p) for p in paths], feeds=LOCAL_FEEDS))


def articles_of(items: list[Article | InputError]) -> list[Article]:
    return [i for i in items if isinstance(i, Article)]


def errors_of(items: list[Article | InputError]) -> list[InputError]:
    return [i for i in items if isinstance(i, InputError)]


# --- plain text and markdown ------------------------------------------------------


def test_seed_trailer_gives_title_publisher_and_authors_and_leaves_the_body():
    [article] = load(SEED)
    assert isinstance(article, Article)
    assert article.title == SEED_TITLE
    assert article.source == "New York Times"
    assert article.authors == ["Madeleine Ngo"]
    assert article.metadata["credits"] == [
        "Mitch Smith contributed reporting.",
        "Madeleine Ngo covers immigration and economic policy for The Times.",
    ]
    assert article.metadata["origin"] == str(SEED)
    assert article.text.startswith("Tom Homan, the White House border czar, said on Wednesday")
    assert article.text.endswith("would expand nationwide as funding is available.")
    for gone in ("appeared first on", "contributed reporting", "covers immigration"):
        assert gone not in article.text
    # Every kept line is a line of the file, in order: the body is not rewritten.
    source_lines = SEED.read_text().splitlines()
    kept = article.text.splitlines()
    assert kept == [line for line in source_lines if line.strip() and line in kept]
    assert article.id == "sha-" + content_hash(article.text)[:16]
    assert article.published_at is None  # never invented


def test_text_id_is_stable_and_independent_of_file_name(tmp_path):
    copy = tmp_path / "other-name.txt"
    shutil.copy(SEED, copy)
    [first], [second] = load(SEED), load(copy)
    assert first.id == second.id
    assert first.text == second.text


def test_markdown_heading_is_the_title(tmp_path):
    path = tmp_path / "council-vote.md"
    path.write_text(
        "# Council Votes to Expand Bike Lanes\n\n"
        "The city council voted eight to three on Tuesday to add forty kilometres of protected bike lanes.\n"
        "Work starts in June.\n"
    )
    [article] = load(path)
    assert article.title == "Council Votes to Expand Bike Lanes"
    assert article.text.startswith("The city council voted eight to three")
    assert "#" not in article.text


def test_text_first_short_line_is_the_title_else_the_file_name(tmp_path):
    headed = tmp_path / "a.txt"
    headed.write_text("Storm Closes Mountain Pass\nSnow closed the pass on Sunday. It reopens on Friday.\n")
    plain = tmp_path / "river_levels-update.txt"
    plain.write_text("River levels fell overnight after a week of flooding in the valley towns.\n")
    [a], [b] = load(headed), load(plain)
    assert (a.title, a.text) == (
        "Storm Closes Mountain Pass",
        "Snow closed the pass on Sunday. It reopens on Friday.",
    )
    assert b.title == "River levels update"
    assert b.text == "River levels fell overnight after a week of flooding in the valley towns."


# --- JSON and JSON lines ----------------------------------------------------------


def test_json_fields_map_to_the_article_and_unknown_fields_are_kept(tmp_path):
    record = {
        "id": "wire-42",
        "title": "Port Strike Ends",
        "body": "Dock workers returned to work on Monday after a nine-day strike.",
        "link": "https://news.example/port-strike",
        "publisher": "Wire Service",
        "date": "2024-02-29T10:00:00Z",
        "author": "Ana Costa and Ben Ito",
        "section": "business",
        "tags": ["ports", "labour"],
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record))
    [article] = load(path)
    assert article.id == "wire-42"
    assert article.title == "Port Strike Ends"
    assert article.text == record["body"]
    assert article.url == "https://news.example/port-strike"
    assert article.source == "Wire Service"
    assert article.published_at == "2024-02-29T10:00:00+00:00"
    assert article.authors == ["Ana Costa", "Ben Ito"]
    assert article.metadata == {"origin": f"{path}[1]", "section": "business", "tags": ["ports", "labour"]}


def test_json_ids_come_from_the_id_else_the_url_else_the_text(tmp_path):
    text = "The museum reopened after a two-year renovation of its glass roof."
    records = [
        {"id": " given-7 ", "text": text + " One.", "url": "https://a.example/x"},
        {"text": text + " Two.", "url": "https://www.a.example/story/?utm_source=feed#top"},
        {"text": text + " Three."},
    ]
    path = tmp_path / "list.json"
    path.write_text(json.dumps(records))
    given, by_url, by_text = load(path)
    assert given.id == "given-7"
    # Scheme, www, tracking parameters, fragment and trailing slash do not change the id.
    assert by_url.id == article_id(None, "http://a.example/story", "")
    assert by_url.id.startswith("url-")
    assert by_text.id == "sha-" + content_hash(text + " Three.")[:16]
    assert [a.metadata["origin"] for a in (given, by_url, by_text)] == [f"{path}[{n}]" for n in (1, 2, 3)]
    assert by_text.title == text + " Three."  # no title: the start of the text
    assert by_url.published_at is None


def test_jsonl_trailer_in_the_text_is_parsed(tmp_path):
    body = "Fishing boats stayed in port as the storm passed.\nThe post Storm Keeps Boats in Port appeared first on Harbour News."
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"id": "s1", "text": body}) + "\n")
    [article] = load(path)
    assert article.title == "Storm Keeps Boats in Port"
    assert article.source == "Harbour News"
    assert article.text == "Fishing boats stayed in port as the storm passed."
    assert article.metadata["origin"] == f"{path}:1"


# --- HTML ----------------------------------------------------------------------------


def test_html_article_page():
    page = FIXTURES / "harbour-bridge-repairs.html"
    [article] = load(page)
    assert isinstance(article, Article), article
    assert article.title == "Harbour Bridge Repairs Will Close Two Lanes Until Spring"
    assert article.authors == ["Priya Raman"]
    assert article.published_at is not None and article.published_at.startswith("2024-03-14")
    assert article.source == "Coastal Herald"
    assert article.url == "https://www.coastalherald.example/news/harbour-bridge-repairs"
    assert article.id == article_id(None, article.url, "")
    assert "corroded expansion joints" in article.text
    assert "water damage beneath the road surface" in article.text
    for boilerplate in ("Copyright", "All rights reserved", "Weather"):
        assert boilerplate not in article.text
    assert article.metadata == {"origin": str(page)}


def test_html_without_an_article_is_an_error():
    [error] = load(FIXTURES / "index-page.html")
    assert isinstance(error, InputError)
    assert error.input == str(FIXTURES / "index-page.html")
    assert "no article text" in error.reason


# --- feeds ---------------------------------------------------------------------------


def check_city_desk(items: list[Article | InputError], origin: str) -> None:
    library, buses = items
    assert isinstance(library, Article) and isinstance(buses, Article)
    assert library.title == "Library Extends Opening Hours During Exam Season"
    assert library.text == (
        "The central library will stay open until midnight on weekdays for the next six weeks to give "
        "students a quiet place to revise for their exams.\n"
        "The library board approved the longer hours after a petition signed by more than three thousand "
        "students and parents."
    )
    assert library.source == "City Desk"
    assert library.url == "https://citydesk.example/2024/05/library-hours/"
    assert library.id == article_id(None, library.url, "")
    assert library.published_at == "2024-05-06T09:15:00+00:00"
    assert library.authors == ["Tomas Lindqvist"]
    assert library.metadata == {"origin": f"{origin}#1"}
    assert buses.title == "Night Buses Return to the Eastern Suburbs"
    assert buses.text.startswith("Night bus services to the eastern suburbs resume on Friday")
    assert "<p>" not in buses.text
    assert buses.source == "City Desk"  # no trailer: the feed's title
    assert buses.published_at == "2024-05-07T18:40:00+00:00"
    assert buses.metadata == {"origin": f"{origin}#2"}


def test_rss_file():
    path = FIXTURES / "city-desk.rss"
    check_city_desk(load(path), str(path))


def test_atom_file():
    path = FIXTURES / "science-notes.atom"
    turtles, ice = load(path)
    assert turtles.title == "Volunteers Count Record Number of Nesting Sea Turtles"
    assert turtles.source == "Science Notes Weekly"  # the trailer names the publisher
    assert "appeared first on" not in turtles.text
    assert turtles.text.endswith(
        "Researchers credit a ban on beach lighting that was introduced five years ago."
    )
    assert turtles.authors == ["Lena Fischer"]
    assert turtles.published_at == "2024-06-01T07:00:00+00:00"
    assert turtles.url == "https://sciencenotes.example/2024/06/sea-turtles"
    assert ice.title == "Lake Ice Melts Earliest on Record"
    assert ice.source == "Science Notes"
    assert ice.published_at == "2024-06-02T12:00:00+00:00"  # only <updated>
    assert ice.text.startswith("The ice on Lake Varden broke up")
    assert [a.metadata["origin"] for a in (turtles, ice)] == [f"{path}#1", f"{path}#2"]


def test_feed_url(feed_server):
    url = f"{feed_server}/city-desk.rss"
    check_city_desk(load(url), url)


def test_feed_url_errors_are_reported(feed_server):
    missing, not_a_feed = load(f"{feed_server}/gone.rss", f"{feed_server}/index-page.html")
    assert missing == InputError(f"{feed_server}/gone.rss", "HTTP 404 fetching the feed")
    assert isinstance(not_a_feed, InputError)
    assert not_a_feed.input == f"{feed_server}/index-page.html"
    assert "not a readable RSS/Atom feed" in not_a_feed.reason


def test_unreachable_feed_url_is_an_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        [error] = load(f"http://127.0.0.1:{port}/feed.rss")
    assert isinstance(error, InputError)
    assert error.input == f"http://127.0.0.1:{port}/feed.rss"
    assert "feed" in error.reason


# --- bad inputs ------------------------------------------------------------------------


def test_bad_files_each_become_an_error_naming_the_input(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n")
    (tmp_path / "binary.txt").write_bytes(b"GIF89a\x00\x01\x02\x00\xff" * 20)
    (tmp_path / "broken.json").write_text('{"title": "unterminated", ')
    (tmp_path / "array.json").write_text('[1, {"title": "no text"}]')
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    errors = {
        Path(e.input).name: e.reason for e in load(*sorted(tmp_path.iterdir()), tmp_path / "nowhere.txt")
    }
    assert errors == {
        "array.json[1]": "expected a JSON object, got a number",
        "array.json[2]": "no 'text' or 'body' field with article text",
        "binary.txt": "binary file, not text",
        "broken.json": "invalid JSON at line 1: Expecting property name enclosed in double quotes",
        "empty.txt": "empty file",
        "notes.csv": "unsupported file type '.csv' (accepted: .atom, .htm, .html, .json, .jsonl, .markdown, "
        ".md, .ndjson, .rss, .txt, .xml)",
        "nowhere.txt": "no such file or directory",
    }


def test_malformed_json_line_is_reported_and_the_other_lines_load(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"id": "a", "text": "First story text about the regional election results."})
        + "\n{not json}\n\n"
        + json.dumps({"id": "b", "text": "Second story text about the harvest festival."})
        + "\n"
    )
    items = load(path)
    assert [a.id for a in articles_of(items)] == ["a", "b"]
    [error] = errors_of(items)
    assert error.input == f"{path}:2"
    assert error.reason.startswith("invalid JSON")


def test_binary_and_empty_feed_files_are_errors(tmp_path):
    (tmp_path / "empty.rss").write_text("")
    (tmp_path / "garbage.xml").write_text("this is not xml at all")
    (tmp_path / "binary.atom").write_bytes(b"\x00\x01\x02" * 10)
    errors = {Path(e.input).name: e.reason for e in load(tmp_path)}
    assert errors["empty.rss"] == "empty file"
    assert errors["binary.atom"] == "binary file, not text"
    assert errors["garbage.xml"].startswith("not a readable RSS/Atom feed")


def test_folders_are_read_recursively_in_a_stable_order_skipping_hidden_and_unsupported(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("The second story is about the tram strike in the old town.\n")
    (tmp_path / "a.md").write_text("# One\n\nThe first story is about the new ferry timetable.\n")
    (tmp_path / ".hidden.txt").write_text("A hidden draft that must not be ingested by anyone.\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    items = load(tmp_path)
    assert all(isinstance(i, Article) for i in items)
    assert [Path(a.metadata["origin"]).name for a in items] == ["a.md", "two.txt"]
    assert [a.id for a in items] == [a.id for a in load(tmp_path)]


def test_load_file_reports_unreadable_files(tmp_path):
    folder = tmp_path / "dir.txt"
    folder.mkdir()
    [error] = list(load_file(folder))
    assert isinstance(error, InputError)
    assert error.reason.startswith("cannot read")


# --- regressions of bugs found when these tests were written ---


def test_only_the_closing_lines_are_taken_as_credits_and_bio(tmp_path):
    body = (
        "The health ministry said on Monday that the clinic would reopen.\n"
        "Ana Ruiz is a spokeswoman for the Ministry of Health.\n"
        "She said the clinic had been closed for repairs since March."
    )
    path = tmp_path / "clinic.jsonl"
    path.write_text(
        json.dumps({"id": "clinic", "text": body + "\nMitch Smith contributed reporting.\n"}) + "\n"
    )
    [article] = load(path)
    assert article.text == body
    assert article.authors == []
    assert article.metadata["credits"] == ["Mitch Smith contributed reporting."]


# --- untrusted inputs: caps, the last guard, encodings, normalisation ------------------


def test_records_past_max_articles_per_file_are_reported_unread_and_the_next_file_still_loads(tmp_path):
    lines = [json.dumps({"id": f"r{n}", "text": f"Story number {n} about the harbour."}) for n in range(5)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.json").write_text(
        json.dumps([json.loads(line) | {"id": "b-" + str(n)} for n, line in enumerate(lines)])
    )
    items = list(iter_inputs([str(tmp_path)], settings=Settings(max_articles_per_file=3)))
    assert [a.id for a in articles_of(items)] == ["r0", "r1", "r2", "b-0", "b-1", "b-2"]
    reason = "more than 3 articles in one input (max_articles_per_file): the rest was not read"
    assert errors_of(items) == [
        InputError(str(tmp_path / "a.jsonl"), reason),
        InputError(str(tmp_path / "b.json"), reason),
    ]


def test_an_article_over_max_article_chars_is_refused_with_its_length(tmp_path):
    (tmp_path / "long.txt").write_text("Long Story\n" + "x " * 30 + "end.\n")
    (tmp_path / "short.txt").write_text("Short Story\nThe ferry left.\n")
    items = list(iter_inputs([str(tmp_path)], settings=Settings(max_article_chars=40)))
    assert [a.title for a in articles_of(items)] == ["Short Story"]
    assert errors_of(items) == [
        InputError(
            str(tmp_path / "long.txt"),
            "article text is 64 characters, more than max_article_chars (40): "
            "split it into smaller articles or raise the setting",
        )
    ]


def test_an_exception_no_parser_foresaw_ends_only_its_input_and_is_logged(caplog):
    def parser_with_a_bug():
        yield Article(id="first", title="First", text="The first story of the file.")
        raise KeyError("entry")

    items = list(_guarded("feed.xml", parser_with_a_bug(), clean_to=1000))
    assert [type(i) for i in items] == [Article, InputError]
    assert items[1] == InputError("feed.xml", "cannot be read: unexpected KeyError (the log has the details)")
    assert "KeyError: 'entry'" in caplog.text  # the traceback is in the log, not in the reason


@pytest.mark.parametrize(
    ("data", "text", "codec"),
    [
        (codecs.BOM_UTF8 + "Zürich".encode(), "Zürich", "utf-8-sig"),
        (codecs.BOM_UTF16_LE + "Zürich".encode("utf-16-le"), "Zürich", "utf-16"),
        (codecs.BOM_UTF16_BE + "Zürich".encode("utf-16-be"), "Zürich", "utf-16"),
        (codecs.BOM_UTF32_LE + "Zürich".encode("utf-32-le"), "Zürich", "utf-32"),
        (codecs.BOM_UTF32_BE + "Zürich".encode("utf-32-be"), "Zürich", "utf-32"),
        ("Zürich".encode("latin-1"), "Zürich", "cp1252"),
        (b"\x93quoted\x94 \x80 5", "\u201cquoted\u201d \u20ac 5", "cp1252"),
        (b"caf\xe9 owners protest, \x81", "caf\xe9 owners protest, \x81", "latin-1"),  # 0x81: none in cp1252
    ],
)
def test_byte_order_marks_and_single_byte_files_are_decoded(data, text, codec):
    assert decode(data) == (text, codec)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("Zürich ".encode() + b"\xe9t\xe9", "not valid UTF-8 (byte 8)"),  # UTF-8 and Latin-1 mixed: damaged
        (b"\x00\x01\x02\x03" * 10, "binary file, not text"),
        (bytes(range(1, 9)) * 100, "binary file, not text"),
        (b"\xff\xfe" + b"\x00\xdc", "not valid UTF-16 after its byte-order mark (byte 2)"),
    ],
)
def test_bytes_that_are_not_text_are_refused_with_the_reason(data, reason):
    with pytest.raises(NotText) as caught:
        decode(data)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1;31mRed\x1b[0m text", "Red text"),
        ("\x1b]0;new window title\x07Title", "Title"),
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x9b2JCleared", "Cleared"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("zero\u200bwidth\u2060joined\ufeff", "zerowidthjoined"),
        ("soft\u00adhyphen", "softhyphen"),
        ("a\r\nb\rc\u2028d\u2029e\x0bf\x0cg\x85h", "a\nb\nc\nd\ne\nf\ng\nh"),
        ("tab\tstays\nnewline stays", "tab\tstays\nnewline stays"),
        ("nul\x00bell\x07del\x7f", "nulbelldel"),
        ("Cafe\u0301", "Caf\u00e9"),  # NFC
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        (
            "\u0641\u0627\u200c\u0631\u0633\u06cc \u200f",
            "\u0641\u0627\u200c\u0631\u0633\u06cc \u200f",
        ),  # ZWNJ, RLM stay
    ],
)
def test_clean_text_removes_what_no_reader_sees_and_is_idempotent(raw, clean):
    assert clean_text(raw) == clean
    assert clean_text(clean) == clean


def test_labels_are_one_line_and_cut_with_an_ellipsis():
    assert clean_line("  Two\n\tlines \u00a0 here ", 200) == "Two lines here"
    assert clean_line("word " * 100, 20) == "word word word word\u2026"


def test_only_runs_the_embedder_cannot_read_are_broken():
    url = (
        "https://web.archive.org/web/20150403223948id_/http://www.dailymail.co.uk/sport/article-3023941.html"
    )
    assert break_long_words(url) == url  # punctuation ends a word piece's word: nothing to break
    assert break_long_words("x" * 60) == "x" * 60
    assert break_long_words("a" * 130 + " b") == "a" * 60 + " " + "a" * 60 + " " + "a" * 10 + " b"


def test_a_markdown_heading_with_a_long_run_of_spaces_is_read_in_linear_time(tmp_path):
    path = tmp_path / "heading.md"
    path.write_text("#" + " " * 150_000 + "x")  # the old heading pattern: over a minute (quadratic)
    started = time.perf_counter()
    [article] = load(path)
    assert time.perf_counter() - started < 5
    assert article.title == "Heading"


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2024-02-29", "2024-02-29"),
        ("2024-13-45", None),
        ("Mon, 06 May 2024 09:15:00 GMT", "2024-05-06T09:15:00+00:00"),
        ("May 2024", "2024-05-01T00:00:00"),  # the missing day is the 1st, not today's
        ("5", None),  # no year: dateutil alone would make it this month's 5th
        ("next tuesday", None),
        ("2024" + " x" * 100, None),
        (time.struct_time((2024, 5, 6, 9, 15, 0, 0, 127, 0)), "2024-05-06T09:15:00+00:00"),
        (("2024", "05"), None),
        (1714000000, None),
        (None, None),
    ],
)
def test_dates_are_read_from_a_string_with_a_year_or_a_struct_time_else_none(value, iso):
    assert parse_date(value) == iso


def test_feed_entries_are_cleaned_like_every_other_article(tmp_path):
    path = tmp_path / "odd.rss"
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Odd &#x202e;Desk</title>'
        "<item><title>Pier &#x200b;Reopens &#x202e;Today</title><link>javascript:alert(1)</link>"
        "<description>The pier\u200b reopened on Monday after repairs to its deck.</description></item>"
        "</channel></rss>"
    )
    [article] = load(path)
    assert (article.title, article.source, article.url) == ("Pier Reopens Today", "Odd Desk", None)
    assert article.text == "The pier reopened on Monday after repairs to its deck."


def test_an_input_error_prints_escapes_not_control_characters():
    error = InputError("\x1b[2Jnews\u202e.txt", "empty file")
    assert str(error) == "\\u001b[2Jnews\\u202e.txt: empty file"


def test_an_unterminated_escape_string_costs_two_characters_not_the_rest_of_the_text():
    assert clean_text("Before \x1b]0;the rest of the article.") == "Before 0;the rest of the article."
