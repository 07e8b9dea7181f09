"""Sentence spans must map back to the article exactly, or citations and highlights drift."""

from __future__ import annotations

import json

import pytest
from sample_data import CNNDM

from newsrag.rag.sentences import SentenceSpan, split_sentences


def _texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def _assert_exact(text: str, spans: list[SentenceSpan]) -> None:
    previous_end = 0
    for span in spans:
        assert span.text == text[span.start : span.end]
        assert span.text and span.text == span.text.strip()
        assert span.start >= previous_end
        previous_end = span.end


def test_offsets_map_back_on_real_articles() -> None:
    with CNNDM.open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh][:50]
    for text in texts:
        spans = split_sentences(text)
        assert len(spans) >= 3
        _assert_exact(text, spans)


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith met Dr. Jones in the U.S. on Jan. 5 at 3 p.m. They talked.",
        "Gov. Sam Brownback signed the bill in Topeka, Kan. on Tuesday. It takes effect in July.",
        "Sen. Ted Cruz and Lt. Col. Jane Doe spoke at St. Paul's. Nobody listened.",
    ],
)
def test_abbreviations_do_not_split(text: str) -> None:
    assert len(split_sentences(text)) == 2


def test_closing_quotes_stay_with_their_sentence() -> None:
    text = "He said: “It is over.” Then he left. ‘I’d be over the moon,’ said Locke. ‘Really.’ Fine."
    assert _texts(text) == [
        "He said: “It is over.”",
        "Then he left.",
        "‘I’d be over the moon,’ said Locke.",
        "‘Really.’",
        "Fine.",
    ]


def test_sentence_ending_words_still_split() -> None:
    assert _texts("He fell ill. Then he recovered. It was ok. Good.") == [
        "He fell ill.",
        "Then he recovered.",
        "It was ok.",
        "Good.",
    ]


def test_newlines_always_break_and_blank_text_gives_nothing() -> None:
    text = "  First line without a stop\n\nSecond paragraph. Third one.\n \n"
    spans = split_sentences(text)
    assert [s.text for s in spans] == ["First line without a stop", "Second paragraph.", "Third one."]
    _assert_exact(text, spans)
    assert split_sentences("") == []
    assert split_sentences(" \n . \n") == []


def test_daily_mail_and_cnn_furniture_is_skipped() -> None:
    text = (
        "By . Daily Mail Reporter . PUBLISHED: . 09:58 EST, 19 March 2013 . | . UPDATED: . "
        "10:01 EST, 19 March 2013 . The man, 45, was arrested on Monday. Scroll down for video "
        "Caught: police at the scene. He denies it."
    )
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "The man, 45, was arrested on Monday.",
        "Caught: police at the scene.",
        "He denies it.",
    ]
    _assert_exact(text, spans)
    cnn = "New Delhi, India (CNN)As the earth shook in Nepal, tremors were felt. India acted."
    assert _texts(cnn) == ["As the earth shook in Nepal, tremors were felt.", "India acted."]
