"""Escaping and highlighting of what the UI shows, on hand-made answers, summaries and articles."""

from __future__ import annotations

from newsrag.index.articles import Article, InputError
from newsrag.index.ingest import IngestReport
from newsrag.rag.filters import Filters
from newsrag.rag.types import Answer, AnswerSentence, Citation, Source, Summary
from newsrag.ui import render

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
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


def test_source_cards_escape_titles_passages_and_drop_script_urls():
    c = cite(1, "The council voted 7 to 2 on Monday.", title=f"Vote {SCRIPT}{IMG}", url="javascript:alert(1)")
    c2 = cite(2, "Then it rained.", passage_start=ARTICLE.index("The mayor"), source=f"Times {IMG}")
    html = render.sources_html(answer_of(c, c2))
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
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
    article = Article("a1", f"Title {SCRIPT}", ARTICLE.replace("Then it rained.", f"Then {IMG} rained."))
    c = cite(1, "The mayor said it was a good day.")
    html = render.article_html(article, [c])
    assert "<script" not in html and "<img" not in html
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
    report = IngestReport(new=["a1"], failed=[InputError("/tmp/x/001/bad.json:3", "invalid JSON: <b>")])
    text = render.ingest_markdown(
        report, {"/tmp/x/001/bad.json": f"bad{SCRIPT}.json"}, {"a1": "Goat *mayor*"}
    )
    assert text.startswith("**1 new, 0 updated, 0 unchanged, 0 duplicate, 1 failed**")
    assert "/tmp/x" not in text and "<script>" not in text and "<b>" not in text
    assert r"Goat \*mayor\*" in text and "invalid JSON: &lt;b&gt;" in text


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
