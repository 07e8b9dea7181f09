"""The claim check on the seed article's passages, with the real embedder: the errors a small LLM makes fail."""

from __future__ import annotations

import pytest
from sample_data import SEED

from newsrag.rag.claims import ClaimChecker

LINES = SEED.read_text().splitlines()
OFFICERS = LINES[1]  # "... About 2,000 officers and agents would be left in the state, Mr. Homan said."
MAYOR = LINES[6]  # Mayor Jacob Frey: the reduction was "a step in the right direction" ...
HOMAN_QUOTE = LINES[10]  # "If you are in the country illegally, you are not off the table," Mr. Homan said.


@pytest.fixture(scope="module")
def checker(embedder):
    return ClaimChecker(embedder.encode)


def test_a_faithful_sentence_is_supported(checker):
    verdict = checker.check(
        "About 2,000 officers and agents would be left in Minnesota, Homan said [1].", [OFFICERS]
    )
    assert verdict.supported, verdict.problems


def test_a_changed_number_fails(checker):
    verdict = checker.check(
        "Only 2 officers and agents would be left in Minnesota, Homan said [1].", [OFFICERS]
    )
    assert not verdict.supported
    assert "the number 2 is not in the cited passage" in verdict.problems


def test_a_misattributed_quote_fails(checker):
    claim = "Mayor Jacob Frey said: “If you are in the country illegally, you are not off the table.” [1]"
    verdict = checker.check(claim, [HOMAN_QUOTE])
    assert not verdict.supported
    assert any("does not give these words to" in p for p in verdict.problems), verdict.problems
    right = checker.check(
        "“If you are in the country illegally, you are not off the table,” Homan said [1].", [HOMAN_QUOTE]
    )
    assert right.supported, right.problems


def test_words_the_passage_never_quotes_fail(checker):
    verdict = checker.check("Frey called the reduction “a total victory for the city” [1].", [MAYOR])
    assert not verdict.supported and any("quoted words" in p for p in verdict.problems)


def test_a_name_the_passage_never_gives_fails(checker):
    verdict = checker.check(
        "Governor Tim Walz said the reduction was a step in the right direction [1].", [MAYOR]
    )
    assert not verdict.supported and any("Walz" in p for p in verdict.problems)


def test_a_sentence_citing_nothing_is_unsupported(checker):
    verdict = checker.check("About 2,000 officers would be left in the state.", [])
    assert not verdict.supported and verdict.problems == ["the sentence cites no source"]
