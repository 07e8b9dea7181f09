"""Escaping and highlighting of what the UI shows, on hand-made answers, summaries and articles."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from newsrag.index.articles import Article, InputError
from newsrag.index.catalog import IndexStats
from newsrag.index.ingest import IngestReport
from newsrag.rag.filters import Filters
from newsrag.rag.types import Answer, AnswerSentence, Citation, Source, Summary
from newsrag.ui import render

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
TRACKER = "![x](http://127.0.0.1:9/track.png)"
PHISH = "[Log in again](http://127.0.0.1:9/login)"
# Text that Markdown (CommonMark with GFM, as Gradio renders it) would turn into markup.
HOSTILE_MARKDOWN = [
    TRACKER,
    PHISH,
    "[x](javascript:alert(1)) and [y][ref]\n\n[ref]: javascript:alert(2)",
    "<http://127.0.0.1:9/auto> http://127.0.0.1:9/bare www.example.com/x mail@example.com",
    f"{SCRIPT} {IMG} &lt;b&gt; &#60;i&#62; &amp;",
    "**bold** __bold__ *em* _em_ ~~gone~~ `code` ```fence``` $x^2$ $$y$$",
    "# heading\n- item\n+ item\n1. first\n2) second\n> quote\n| a | b |\n|---|---|",
    "Title\n===\nSub\n---\n***\n    indented code\n\n\n\ttabbed",
    "back\\slash \\[not a link\\](x) \\![x](y) ![x]\\(y)",
]
MARKDOWN_PUNCTUATION = set("\\`*_{}[]()#+-.!|~$=:@^")


def unescaped_markup(md: str) -> list[str]:
    """Characters of `md` that could open Markdown or HTML markup: punctuation not backslash-escaped,
    `<` `>`, and `&` that does not start one of html.escape's own entities."""
    found, i = [], 0
    while i < len(md):
        ch = md[i]
        if ch == "\\" and i + 1 < len(md) and md[i + 1] != "\n":
            i += 2
            continue
        if ch in MARKDOWN_PUNCTUATION or ch in "<>" or (ch == "&" and not re.match(r"&(amp|lt|gt);", md[i:])):
            found.append(ch)
        i += 1
    return found


def shown_text(md: str) -> str:
    """The text a CommonMark renderer shows for md_text's output: escapes undone, breaks as newlines."""
    return htmllib.unescape(re.sub(r"\\(.)", r"\1", md.replace("  \n", "\n")))


ARTICLE = (
    "Opening line of the article.\n"
    "The council voted 7 to 2 on Monday. The mayor said it was a good day. Then it rained.\n"
    "Last paragraph."
)


def cite(n: int, sentence: str, passage_start: int = 29, title: str = "Council votes", **kw) -> Citation:
    start = ARTICLE.index(sentence)
    passage_end = ARTICLE.index("Last paragraph.")
    values = dict(
        n=n,
        article_id="a1",
        title=title,
        source="Gazette",
        published_at="2026-02-04T10:00:00+00:00",
        url="https://example.com/council",
        passage=ARTICLE[passage_start:passage_end],
        start=start,
        end=start + len(sentence),
        passage_start=passage_start,
        sentence=sentence,
    )
    values.update(kw)
    return Citation(**values)


def answer_of(*citations: Citation) -> Answer:
    sentences = [AnswerSentence(c.sentence, [c.n]) for c in citations]
    text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
    return Answer("What did the mayor say?", text, False, sentences, list(citations))


def test_highlight_marks_exactly_the_cited_sentence():
    c = cite(1, "The mayor said it was a good day.")
    html = render.highlight(c.passage, c.passage_start, c.start, c.end, c.sentence)
    assert html == (
        "The council voted 7 to 2 on Monday. <mark>The mayor said it was a good day.</mark> Then it rained.\n"
    )


def test_highlight_falls_back_to_the_sentence_text_when_offsets_do_not_fit():
    c = cite(1, "Then it rained.")
    shifted = render.highlight(c.passage, c.passage_start + 500, c.start, c.end, c.sentence)
    assert shifted.count("<mark>") == 1 and "<mark>Then it rained.</mark>" in shifted
    unknown = render.highlight("Nothing to see here.", 0, 50, 60, "Absent sentence.")
    assert unknown == "Nothing to see here." and "<mark>" not in unknown


def test_highlight_escapes_markup_around_and_inside_the_mark():
    passage = f"Before {SCRIPT}. Cited {IMG} sentence. After."
    start = passage.index("Cited")
    end = passage.index(" After")
    html = render.highlight(passage, 1000, 1000 + start, 1000 + end, passage[start:end])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "<mark>Cited &lt;img src=x onerror=&quot;" in html


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_md_text_leaves_no_markup_and_shows_the_text_as_given(text):
    md = render.md_text(text)
    assert unescaped_markup(md) == []
    assert shown_text(md) == re.sub(r"[ \t]*\n\s*", "\n", text)  # every character shown, none lost
    assert (
        "\n\n" not in md.replace("  \n", "\n") and "\n " not in md
    )  # no blank line or indent starts a block


def test_md_text_of_every_ascii_punctuation_mark_and_of_nothing():
    text = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
    assert unescaped_markup(render.md_text(text)) == [] and shown_text(render.md_text(text)) == text
    assert render.md_text(None) == "" and render.md_text("") == ""
    assert render.md_text("Line one\r\n\r\n   line two") == "Line one  \nline two"


def test_corpus_line_shows_publisher_names_as_text():
    sources = {TRACKER: 2, PHISH: 1, f"Times {IMG}": 1, "**Loud** _News_": 1, "Daily Mail": 3}
    stats = IndexStats(
        8, 20, sources, "2015-04-01", "2026-02-04 ![d](http://127.0.0.1:9/d.png)", "m", 384, 1, "t"
    )
    line = render.corpus_line(stats)
    assert line.startswith("**8 articles** from ")
    body = line.removeprefix("**8 articles** from ")
    assert unescaped_markup(re.sub(r" \(\d+\)(, )?", "", body)) == []  # but the line's own counts
    for name, count in sources.items():
        assert f"{name} ({count})" in shown_text(body)
    assert "dated 2015-04-01 to 2026-02-04 ![d](http://127.0.0.1:9/d.png)" in shown_text(body)
    assert (
        render.corpus_line(IndexStats(0, 0, {}, None, None, "m", 384, 1, "t"))
        == "**0 articles** from no publisher"
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "http:no-host",
        "//127.0.0.1:9/protocol-relative",
        "/relative/path",
        "https://[::1",
        "https://example.com/a b",
    ],
)
def test_only_http_urls_become_links_any_other_is_shown_as_text(url):
    assert render.safe_url(url) is None
    meta = render.meta_line("Gazette", None, url)
    assert "<a " not in meta and "href" not in meta
    shown = url.strip()
    assert f'<span class="nr-url">{htmllib.escape(shown)}</span>' in meta
    assert htmllib.unescape(re.sub(r"<[^>]+>", "", meta)).endswith(shown)


def test_an_http_url_is_a_link_with_its_quotes_escaped():
    url = "https://example.com/a?b=1&c='x'\"onmouseover=\"alert(1)"
    meta = render.meta_line("Gazette", None, f"  {url} ")
    assert render.safe_url(url) == url
    assert (
        '<a href="https://example.com/a?b=1&amp;c=&#x27;x&#x27;&quot;onmouseover=&quot;alert(1)" target="_blank"'
        in meta
    )
    assert 'rel="noopener noreferrer nofollow"' in meta
    assert render.meta_line("Gazette", None, None).count("<span") == 1  # no link, no url text


def test_source_cards_escape_titles_passages_and_drop_script_urls():
    c = cite(1, "The council voted 7 to 2 on Monday.", title=f"Vote {SCRIPT}{IMG}", url="javascript:alert(1)")
    c2 = cite(2, "Then it rained.", passage_start=ARTICLE.index("The mayor"), source=f"Times {IMG}")
    html = render.sources_html(answer_of(c, c2))
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert '<span class="nr-url">javascript:alert(1)</span>' in html
    assert "Vote &lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert 'href="https://example.com/council"' in html
    assert html.index("[1]") < html.index("[2]")
    assert "<mark>The council voted 7 to 2 on Monday.</mark>" in html
    assert "2026-02-04" in html and "Gazette" in html


def test_answer_markdown_escapes_and_streams_sentence_by_sentence():
    c1 = cite(1, "The council voted 7 to 2 on Monday.")
    c2 = cite(2, "The mayor said it was a good day.")
    answer = answer_of(c1, c2)
    answer.sentences[0].text = f"The *council* voted {SCRIPT} 7 to 2."
    parts = list(render.answer_stream(answer))
    assert len(parts) == 2 and parts[-1] == render.answer_markdown(answer)
    assert parts[1].startswith(parts[0])
    assert "<script>" not in parts[-1] and "&lt;script&gt;" in parts[-1]
    assert r"\*council\*" in parts[-1]
    answer.sentences[1].text = f"See {TRACKER} and {PHISH}."
    reply = render.answer_markdown(answer)
    assert unescaped_markup(re.sub(r"\*\*(\\\[\d\\\])+\*\*", "", reply)) == []  # only the bold [n] marks
    assert f"See {TRACKER} and {PHISH}. [2]" in shown_text(reply).replace("**", "")
    assert parts[-1].endswith(r"**\[2\]**") and r"**\[1\]**" in parts[0]


def test_refusal_is_marked_and_lists_the_closest_articles():
    closest = [Source("a1", f"Budget {SCRIPT}", "Gazette", None, None)]
    refusal = Answer(
        "What rate?", "The articles don't say. The closest articles are: x.", True, [], [], closest=closest
    )
    text = render.answer_markdown(refusal)
    assert text.startswith(f"> {render.REFUSAL_MARK} **The articles don't say.**")
    assert list(render.answer_stream(refusal)) == [text]
    panel = render.sources_html(refusal)
    assert "nr-refused" in panel and "Budget &lt;script&gt;" in panel and "<script" not in panel


def test_article_view_escapes_text_and_highlights_summary_sentences():
    article = Article(
        "a1",
        f"Title {SCRIPT}",
        ARTICLE.replace("Then it rained.", f"Then {IMG} rained."),
        f"Times {IMG}",
        "javascript:alert(1)",
        authors=[f"Ann {SCRIPT}", TRACKER],
    )
    c = cite(1, "The mayor said it was a good day.")
    html = render.article_html(article, [c])
    assert "<script" not in html and "<img" not in html and "href" not in html
    assert f'<div class="nr-meta">By Ann {htmllib.escape(SCRIPT)}, {TRACKER}</div>' in html
    assert html.count("<p>") == 3
    assert '<mark>The mayor said it was a good day.</mark><sup class="nr-n">[1]</sup>' in html
    assert "Then &lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt; rained." in html


def test_summary_html_escapes_and_keeps_its_citations():
    c = cite(1, "The mayor said it was a good day.", title=SCRIPT)
    summary = Summary(f"Summary {IMG} [1]", [], [c], [Source("a1", "t", None, None, None)], "mayor")
    html = render.summary_html(summary, f"About {SCRIPT}")
    assert "<script" not in html and "<img" not in html
    assert "<p>Summary &lt;img src=x" in html and "<mark>The mayor said it was a good day.</mark>" in html


def test_article_filter_by_title_words_then_the_retrieval_filters():
    articles = [
        Article("1", "Goat elected mayor", "t", "Gazette", None, "2026-02-01"),
        Article("2", "Mayor resigns", "t", "Times", None, "2015-04-07T12:00:00"),
        Article("3", "Undated mayor story", "t", "Times"),
    ]
    ids = lambda xs: [a.id for a in xs]  # noqa: E731
    assert ids(render.filter_articles(articles, "MAYOR")) == ["1", "2", "3"]
    assert ids(render.filter_articles(articles, "goat mayor")) == ["1"]
    assert ids(render.filter_articles(articles, "", Filters(sources=("Times",)))) == ["2", "3"]
    to = render.normalize_date("2015-04", end=True)
    assert to == "2015-04-31"
    april = Filters(date_to=to)
    assert ids(render.filter_articles(articles, "", april)) == ["2"]
    since_2016 = Filters(date_from=render.normalize_date("2016"))
    assert ids(render.filter_articles(articles, "mayor", since_2016)) == ["1"]
    # The browser lists exactly what a filtered question may draw on.
    for filters in (Filters(sources=("Times",)), april, since_2016):
        assert ids(render.filter_articles(articles, "", filters)) == ids(
            filter(filters.accepts_article, articles)
        )
    assert render.normalize_date(" ") is None
    try:
        render.normalize_date("April 2015")
    except ValueError as exc:
        assert "YYYY-MM-DD" in str(exc)
    else:
        raise AssertionError("an unreadable date must be refused")


def test_ingest_result_names_uploads_not_temp_paths_and_escapes_them():
    report = IngestReport(
        new=["a1"],
        duplicates=[("/tmp/x/002/copy.jsonl:1", "a1")],
        failed=[InputError("/tmp/x/001/bad.json:3", f"invalid JSON: <b> {TRACKER}")],
    )
    names = {"/tmp/x/001/bad.json": f"bad{SCRIPT}.json", "/tmp/x/002/copy.jsonl": f"{PHISH}.jsonl"}
    rejected = [f"{IMG}.exe: file type '.exe' not accepted"]
    text = render.ingest_markdown(report, names, {"a1": f"Goat *mayor* {TRACKER}"}, rejected)
    head, *lines = text.split("\n")
    assert head.startswith("**1 new, 0 updated, 0 unchanged, 1 duplicate, 1 failed, 1 rejected**")
    assert "/tmp/x" not in text and "<script>" not in text and "<b>" not in text
    assert [shown_text(line) for line in lines] == [
        f"- new: Goat *mayor* {TRACKER}",
        f"- duplicate: {PHISH}.jsonl:1 (same text as Goat *mayor* {TRACKER})",
        f"- failed: bad{SCRIPT}.json:3: invalid JSON: <b> {TRACKER}",
        f"- rejected: {IMG}.exe: file type '.exe' not accepted",
    ]
    # Each name, title and reason is in the line as md_text made it: markup-free (see the tests above).
    for piece in (f"bad{SCRIPT}.json:3", f"{PHISH}.jsonl:1", f"Goat *mayor* {TRACKER}", rejected[0]):
        assert render.md_text(piece) in text


def test_ingest_result_lists_a_bounded_number_of_lines_and_counts_the_rest():
    many = [f"f{n}.txt: one submission adds at most 50 files; add it in another" for n in range(51, 131)]
    text = render.ingest_markdown(IngestReport(new=[f"a{n}" for n in range(25)]), {}, {}, many)
    lines = text.split("\n")
    assert lines[0].startswith("**25 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed, 80 rejected**")
    assert len(lines) == 1 + render.MAX_LISTED + 1 + render.MAX_LISTED + 1
    assert lines[render.MAX_LISTED + 1] == f"- \u2026 and {25 - render.MAX_LISTED} more new"
    assert shown_text(lines[render.MAX_LISTED + 2]).startswith(
        "- rejected: f51.txt: one submission adds at most 50"
    )
    assert lines[-1] == f"- \u2026 and {80 - render.MAX_LISTED} more rejected"
    nothing = render.ingest_markdown(None, {}, {}, many[:1])
    assert nothing.split("\n")[0] == "**Nothing to add.**" and "f51" in nothing
    assert render.ingest_markdown(None, {}, {}) == "**Nothing to add:** choose files or give a feed URL."


def test_citations_of_one_passage_share_a_card_with_each_sentence_numbered():
    c1 = cite(1, "The council voted 7 to 2 on Monday.")
    c2 = cite(2, "Then it rained.")
    other = cite(3, "Last paragraph.", passage_start=ARTICLE.index("Last"), article_id="a2")
    other = Citation(**{**other.to_dict(), "passage": "Last paragraph."})
    html = render.sources_html(answer_of(c1, c2, other))
    assert html.count('class="nr-card"') == 2
    assert '<span class="nr-n">[1] [2]</span>' in html
    assert '<mark>The council voted 7 to 2 on Monday.</mark><sup class="nr-n">[1]</sup>' in html
    assert '<mark>Then it rained.</mark><sup class="nr-n">[2]</sup>' in html
    assert '<span class="nr-n">[3]</span>' in html and "<mark>Last paragraph.</mark></div>" in html


def test_summary_bullets_become_a_list_and_table_rows_map_back_to_articles():
    html = render.marked_paragraphs("From 2 articles:\n- first <b> [1]\n- second [2]\nAfter.")
    assert (
        html == "<p>From 2 articles:</p><ul><li>first &lt;b&gt; [1]</li><li>second [2]</li></ul><p>After.</p>"
    )
    articles = [
        Article("1", "Same title", "t", "Gazette", None, "2026-02-01"),
        Article("2", "Same title", "t", "Times"),
    ]
    rows = render.article_rows(articles)
    assert rows == [["2026-02-01", "Gazette", "Same title"], ["undated", "Times", "Same title"]]
    assert render.article_of_row(articles, rows[1]).id == "2"
    assert render.article_of_row(articles, ["x", "y", "z"]) is None


def test_corpus_line_says_when_the_index_is_served_from_a_fallback():
    from newsrag.index.catalog import IndexStats

    stats = IndexStats(1, 2, {"Paper": 1}, None, None, "m", 384, 0, "now")
    assert "\u26a0" not in render.corpus_line(stats)
    warned = IndexStats(
        1, 2, {"Paper": 1}, None, None, "m", 384, 0, "now", warning="v-2/docstore.json: cut [x](y)"
    )
    line = render.corpus_line(warned)
    assert render.REFUSAL_MARK in line and "docstore" in line and "[x](y)" not in line
