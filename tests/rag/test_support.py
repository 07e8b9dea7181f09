"""The claim-support check on hand cases: a changed number or name must not pass."""

import pytest

from newsrag.rag.support import SupportChecker

PASSAGE = (
    "Tom Homan, the White House border czar, said on Wednesday that the federal government would "
    "immediately withdraw 700 law enforcement officers from Minneapolis. About 2,000 officers and agents "
    "would be left in the state, Mr. Homan said."
)


@pytest.fixture(scope="module")
def checker(embedder):
    return SupportChecker(embedder.encode)


def test_quote_is_supported(checker):
    assert checker.check(
        "About 2,000 officers and agents would be left in the state, Mr. Homan said.", PASSAGE
    ).supported


def test_paraphrase_scores_above_contradiction(checker):
    paraphrase = checker.check(
        "The government will pull 700 officers out of Minneapolis, Homan said.", PASSAGE
    )
    wrong_person = checker.check(
        "Mayor Jacob Frey said the government would send 700 more officers to Texas.", PASSAGE
    )
    assert paraphrase.score > wrong_person.score
    assert not wrong_person.supported


def test_invented_number_fails(checker):
    result = checker.check("The federal government would withdraw 900 officers from Minneapolis.", PASSAGE)
    assert result.missing_numbers == ["900"]
    assert not result.supported


def test_unrelated_claim_fails(checker):
    assert not checker.check(
        "Lewis Hamilton took pole position for the Chinese Grand Prix.", PASSAGE
    ).supported


SENTENCES = [
    "Bournemouth will be promoted to the Premier League if they win on Saturday.",
    "Steve McClaren's Derby face Reading at home.",
]


def test_words_recombined_into_a_relation_the_source_never_states_break_pairs(checker):
    stated = checker.paired("Bournemouth will be promoted if they win.", SENTENCES)
    recombined = checker.paired("Steve McClaren will be promoted if they win.", SENTENCES)
    assert stated == 1.0
    assert 0.0 < recombined < stated


def test_pairs_of_rare_words_weigh_more_with_idf(checker):
    claim = "Steve McClaren will be promoted if they win."
    rare = {"mcclaren": 5.0}
    weighted = checker.paired(claim, SENTENCES, idf=lambda stem: rare.get(stem, 1.0))
    # pairs (steve mcclaren promot win, span 3): 2 of 5 stated; weighted, 6 + 2 of 6 + 2 + 6 + 6 + 2
    assert checker.paired(claim, SENTENCES) == pytest.approx(2 / 5)
    assert weighted == pytest.approx(8 / 22)
