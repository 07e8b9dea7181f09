"""The extractive summarizer with the real MiniLM embedder: exact spans, order, n (ROUGE: test_quality_full)."""

from __future__ import annotations

import pytest
from sample_data import cnndm_rows

from newsrag.index.articles import Article
from newsrag.rag.extractive_summary import lead_summary, select_summary, summarize_text, summary_worthy
from newsrag.rag.sentences import SentenceSpan
from newsrag.rag.types import Embed


@pytest.fixture(scope="module")
def embed(embedder) -> Embed:
    return embedder.encode


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return [Article(r["id"], r["title"], r["text"]) for r in cnndm_rows(30)]


def test_summary_sentences_are_exact_ordered_and_counted(embed: Embed, articles) -> None:
    for article in articles[:5]:
        for n in (1, 3, 5):
            summary = summarize_text(article.text, article.title, embed, n=n)
            assert len(summary) == n
            starts = [s.start for s in summary]
            assert starts == sorted(starts) and len(set(starts)) == n
            for span in summary:
                assert article.text[span.start : span.end] == span.text


def test_short_texts_come_back_whole(embed: Embed) -> None:
    text = "Only one sentence here. And a second."
    assert [s.text for s in summarize_text(text, "title", embed, n=3)] == [
        "Only one sentence here.",
        "And a second.",
    ]
    assert summarize_text("", "title", embed) == []


def test_skips_fragments_and_page_furniture(embed: Embed) -> None:
    text = (
        "Ferrari, who are Ferrari? Lewis Hamilton sauntered to pole position for the Malaysian Grand Prix. "
        "Photo credit: Getty Images. The Mercedes driver was four-hundredths of a second ahead of his team-mate. "
        "Sebastian Vettel qualified third for Ferrari in his second race for the team. "
        "The race starts at 3pm local time on Sunday in Sepang."
    )
    summary = [s.text for s in summarize_text(text, "Lewis Hamilton takes pole Malaysian Grand Prix", embed)]
    assert len(summary) == 3
    assert "Ferrari, who are Ferrari?" not in summary
    assert not any("Photo credit" in s for s in summary)


def test_the_default_lead_summary_is_the_first_summary_worthy_sentences() -> None:
    text = (
        "Ferrari, who are Ferrari? Lewis Hamilton sauntered to pole position for the Malaysian Grand Prix. "
        "Photo credit: Getty Images. The Mercedes driver was four-hundredths of a second ahead of his team-mate. "
        "Sebastian Vettel qualified third for Ferrari in his second race for the team. "
        "The race starts at 3pm local time on Sunday in Sepang."
    )
    summary = [s.text for s in lead_summary(text, 3)]
    assert summary == [
        "Lewis Hamilton sauntered to pole position for the Malaysian Grand Prix.",
        "The Mercedes driver was four-hundredths of a second ahead of his team-mate.",
        "Sebastian Vettel qualified third for Ferrari in his second race for the team.",
    ]
    assert [s.text for s in lead_summary("Short one. Another.", 3)] == ["Short one.", "Another."]


def test_an_unknown_summary_method_is_named(embed: Embed) -> None:
    with pytest.raises(ValueError, match="'topical'"):
        select_summary("Some text here.", "title", embed, 3, "topical")


def test_table_rows_and_bylines_are_not_summary_worthy():

    def span(text):
        return SentenceSpan(text, 0, len(text))

    assert not summary_worthy(span("Kimi Raikkonen (Finland) Ferrari 1:37.232 7."))
    assert not summary_worthy(span("By Daily Mail Reporter and Associated Press Staff Writers Today"))
    assert summary_worthy(span("Hamilton took pole for the Chinese Grand Prix on Saturday."))
