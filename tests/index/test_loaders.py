"""Every input format becomes Articles with stable ids and metadata; every bad input becomes an InputError."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

from sample_data import SEED, SEED_TITLE

from newsrag.index.articles import Article, InputError, article_id, content_hash
from newsrag.index.loaders import iter_inputs, load_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load(*paths: str | Path) -> list[Article | InputError]:
    return list(iter_inputs([str(p) for p in paths]))


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
    assert "not a readable RSS/Atom feed" in error.reason


# --- bad inputs ------------------------------------------------------------------------


def test_bad_files_each_become_an_error_naming_the_input(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n")
    (tmp_path / "binary.txt").write_bytes(b"GIF89a\x00\x01\x02\x00\xff" * 20)
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 owners protest the new rent rules.".encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"title": "unterminated", ')
    (tmp_path / "array.json").write_text('[1, {"title": "no text"}]')
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    errors = {
        Path(e.input).name: e.reason for e in load(*sorted(tmp_path.iterdir()), tmp_path / "nowhere.txt")
    }
    assert errors == {
        "array.json[1]": "expected a JSON object, got int",
        "array.json[2]": "no 'text' or 'body' field with article text",
        "binary.txt": "binary file, not text",
        "broken.json": "invalid JSON at line 1: Expecting property name enclosed in double quotes",
        "empty.txt": "empty file",
        "latin1.txt": "not valid UTF-8 (byte 3)",
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
