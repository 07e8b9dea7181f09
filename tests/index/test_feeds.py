"""Hostile feed files: bytes that name a server file, entity expansion, oversized feeds and entries."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from newsrag.index.articles import Article, InputError
from newsrag.index.feeds import load_feed
from newsrag.index.fetch import FeedPolicy
from newsrag.index.loaders import iter_inputs

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENTITY_REFUSED = "feed declares XML entities or a DTD internal subset"


def rss(items: str, prolog: str = "", encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{prolog}'
        '<rss version="2.0"><channel><title>Harbour Gazette</title>'
        f"{items}</channel></rss>\n"
    )


def item(title: str, text: str, slug: str) -> str:
    return (
        f"<item><title>{title}</title><link>https://gazette.example/{slug}</link>"
        f"<description>{text}</description></item>"
    )


FERRY = item(
    "Ferry Timetable Changes",
    "The winter ferry timetable starts on Monday with two fewer crossings.",
    "ferry",
)


def billion_laughs() -> str:
    """Ten entities, each ten of the one before: 10^9 'lol's from under a kilobyte."""
    entities = '<!ENTITY lol "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">\n' for i in range(1, 10)
    )
    return rss(item("Laughs", "&lol9;", "lol"), f"<!DOCTYPE rss [\n{entities}]>\n")


def quadratic_blowup() -> str:
    """One 20,000-character entity referenced 9,200 times: 66 KB of XML, 184 MB once expanded."""
    prolog = f'<!DOCTYPE rss [\n<!ENTITY big "{"A" * 20_000}">\n]>\n'
    return rss(item("Blowup", "&big;" * 9_200, "big"), prolog)


def load(*paths: Path) -> list[Article | InputError]:
    return list(iter_inputs([str(p) for p in paths]))


# --- 1. a feed upload is parsed as bytes, never opened as the path or URL it names ------------------


@pytest.mark.parametrize(
    "content", ["{victim}", "{victim}\n", "file://{victim}", "/proc/self/environ", "/etc/passwd"]
)
def test_an_upload_whose_content_names_a_file_is_not_that_file(tmp_path, content):
    victim = tmp_path / "server-side" / "secret.rss"
    victim.parent.mkdir()
    victim.write_bytes((FIXTURES / "city-desk.rss").read_bytes())
    upload = tmp_path / "upload.xml"
    upload.write_text(content.format(victim=victim))
    [error] = load(upload)
    assert isinstance(error, InputError), "the upload was read as the server file it names"
    assert error.input == str(upload)
    assert error.reason.startswith("not a readable RSS/Atom feed")
    assert load(victim)[0].title == "Library Extends Opening Hours During Exam Season"  # the file was a feed


def test_an_upload_whose_content_is_a_feed_url_fetches_nothing(tmp_path, counting_server):
    upload = tmp_path / "upload.rss"
    upload.write_text(f"{counting_server.url}/city-desk.rss")
    [error] = load(upload)
    assert isinstance(error, InputError) and error.reason.startswith("not a readable RSS/Atom feed")
    assert counting_server.connections == 0


def test_an_upload_naming_dev_zero_fails_fast(tmp_path):
    """In a child process with 1 GB of address space: reading /dev/zero would die there, not here."""
    upload = tmp_path / "zero.xml"
    upload.write_text("/dev/zero")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from newsrag.index.loaders import load_file
        print(list(load_file(Path({str(upload)!r}))))
        """
    )

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, preexec_fn=limit_memory
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"InputError(input='{upload}', reason='not a readable RSS/Atom feed" in done.stdout
    assert seconds < 30, f"{seconds:.1f}s"
    print(f"/dev/zero upload refused in {seconds:.2f}s (child process, imports included)")


# --- 3. entity expansion is refused before parsing; entries have a size cap -------------------------


@pytest.mark.parametrize(
    "name, document",
    [
        ("billion-laughs.xml", billion_laughs()),
        ("quadratic-blowup.rss", quadratic_blowup()),
        (
            "external-entity.xml",
            rss(item("XXE", "&xxe;", "xxe"), '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'),
        ),
        (
            "parameter-entity.atom",
            rss(FERRY, '<!DOCTYPE rss [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>\n'),
        ),
        ("subset-only.xml", rss(FERRY, "<!DOCTYPE rss [<!ATTLIST item id CDATA 'x'>]>\n")),
    ],
)
def test_entity_declarations_are_refused_quickly(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(document)
    started = time.perf_counter()
    [error] = load(path)
    seconds = time.perf_counter() - started
    assert isinstance(error, InputError) and error.input == str(path)
    assert error.reason.startswith(ENTITY_REFUSED), error.reason
    assert "expand a small file into a huge one" in error.reason
    assert seconds < 2, f"{seconds:.2f}s"
    print(f"{name}: {len(document.encode()):,} bytes refused in {seconds * 1000:.0f} ms")


def test_quadratic_blowup_is_the_size_of_the_audit_finding():
    """The case the audit found: about 66 KB of XML whose single entity is referenced thousands of times."""
    document = quadratic_blowup().encode()
    assert 60_000 < len(document) < 70_000
    assert document.count(b"&big;") == 9_200


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-7"])
def test_entities_are_found_whatever_the_declared_encoding(encoding):
    """The check reads the text the parser will read, so another encoding cannot hide `<!ENTITY`."""
    document = billion_laughs().replace('encoding="utf-8"', f'encoding="{encoding}"')
    if encoding == "utf-7":  # '<' as '+ADw-': a byte-level search for b"<!ENTITY" misses it
        data = document.replace("<!", "+ADw-!").encode("ascii")
        assert b"<!ENTITY" not in data
    else:
        data = document.encode(encoding)
    [error] = list(load_feed(data, f"laughs.{encoding}"))
    assert isinstance(error, InputError) and error.reason.startswith(ENTITY_REFUSED), error


def test_a_doctype_without_an_internal_subset_still_parses(tmp_path):
    """RSS 0.91 feeds name Netscape's DTD; naming one is harmless, only declaring entities is refused."""
    path = tmp_path / "netscape.rss"
    path.write_text(
        rss(
            FERRY,
            '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n',
        )
    )
    [ferry] = load(path)
    assert isinstance(ferry, Article) and ferry.title == "Ferry Timetable Changes"


def test_a_huge_entry_is_refused_with_the_reason_and_the_rest_of_the_feed_lands(tmp_path):
    path = tmp_path / "huge.rss"
    huge = "The council met again. " * 10_000  # 230,000 characters, over the 200,000 default
    path.write_text(rss(item("Endless Minutes", huge, "minutes") + FERRY))
    started = time.perf_counter()
    error, ferry = load(path)
    assert time.perf_counter() - started < 5
    assert error == InputError(
        f"{path}#1", "feed entry text is 229,999 characters, more than max_article_chars (200,000)"
    )
    assert isinstance(ferry, Article) and ferry.title == "Ferry Timetable Changes"


def test_the_entry_cap_and_the_feed_cap_come_from_the_policy():
    data = rss(FERRY).encode()
    [short] = list(load_feed(data, "f.rss", FeedPolicy(max_article_chars=20)))
    assert short == InputError(
        "f.rss#1", "feed entry text is 69 characters, more than max_article_chars (20)"
    )
    [big] = list(load_feed(data, "f.rss", FeedPolicy(max_bytes=100)))
    assert big == InputError("f.rss", f"feed is {len(data):,} bytes, more than max_feed_bytes (100)")
    [ferry] = list(load_feed(data, "f.rss", FeedPolicy(max_article_chars=69, max_bytes=len(data))))
    assert isinstance(ferry, Article)


def test_an_oversized_feed_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.xml"
    filler = item("Filler", "x" * 1_000, "filler")
    path.write_text(rss(filler * 9_100))  # just over the 10,000,000-byte default
    size = path.stat().st_size
    assert 10_000_000 < size < 10_100_000
    started = time.perf_counter()
    [error] = load(path)
    assert error == InputError(str(path), f"feed is {size:,} bytes, more than max_feed_bytes (10,000,000)")
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "fragment", ["&lt;html&gt;", "&lt;html&gt;&lt;head&gt;", "&lt;![CDATA[x]]&gt;", "&lt;"]
)
def test_odd_entry_html_is_an_error_or_text_never_an_exception(fragment):
    items = list(load_feed(rss(item("Odd", fragment, "odd") + FERRY).encode(), "odd.rss"))
    assert len(items) == 2 and isinstance(items[1], Article)
    assert isinstance(items[0], Article | InputError)


def test_entry_html_that_lxml_cannot_read_is_an_error_naming_the_entry():
    """Atom's type="text" content reaches html_to_text unsanitised: '<html>' made lxml raise AssertionError."""
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title>'
        "<entry><title>Odd</title><id>urn:odd</id><updated>2024-01-01T00:00:00Z</updated>"
        '<content type="text">&lt;html&gt;</content></entry>'
        "<entry><title>Quay</title><id>urn:quay</id><updated>2024-01-02T00:00:00Z</updated>"
        '<content type="text">The quay reopens after repairs to the sea wall.</content></entry></feed>'
    )
    odd, quay = load_feed(atom.encode(), "desk.atom")
    assert isinstance(odd, InputError) and odd.input == "desk.atom#1"
    assert odd.reason.startswith("feed entry HTML cannot be read: AssertionError")
    assert isinstance(quay, Article) and quay.text == "The quay reopens after repairs to the sea wall."
