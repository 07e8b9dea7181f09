"""What a question asks for, and which sentences offer it: the rules the extractive answerer ranks and refuses by."""

from __future__ import annotations

import pytest

from newsrag.rag.answer_types import (
    WITHHELD,
    Asked,
    asked_for,
    asked_words,
    bare_word,
    named_in,
    offered_items,
)


@pytest.mark.parametrize(
    ("question", "kind", "unit", "head"),
    [
        ("Who did Gary Locke replace as Kilmarnock manager?", "person", None, None),
        ("Which Arsenal defender tipped Jurgen Klopp to succeed?", "person", None, None),
        ("What was the name of the security guard killed outside the Census Bureau?", "person", None, None),
        ("Which online auction house does Princess Eugenie work for?", "organisation", None, "auction house"),
        ("At which resort did the Delaware family get sick?", "place", None, "resort"),
        ("In which Polish city is the shelter?", "place", None, None),
        ("At which Warrington venue did Ben Elton appear?", "place", None, None),
        ("Where did his wife flee to with the baby?", "place", None, None),
        ("How much does Greece have to pay back to the IMF?", "number", "money", None),
        ("How old was Stan Freberg when he died?", "number", "age", None),
        ("How long is his contract?", "number", "duration", None),
        ("By what score did Warrington beat Leeds?", "number", "score", None),
        ("How many officers are leaving Minneapolis?", "number", None, None),
        ("How big was Louis Jordan's sailboat?", "number", None, None),  # a size, a sum or a share
        ("When will the remaining officers leave Minnesota?", "date", None, None),
        ("In which year did he last play at Augusta?", "date", None, None),
        ("What did David Cameron call the change?", "quote", None, None),
        ("What did Peter O'Toole whisper to Nicole Kidman?", "quote", None, None),
        ("Why did Marc Leishman withdraw from the Masters?", "reason", None, None),
        # "official" names a person elsewhere ("Which Lords official"), not before "reason"
        ("What was the official reason given for Mary Pat Christie quitting?", "reason", None, None),
        ("What is the name of the horse Mike Tindall co-owns?", "thing", None, "horse"),
        ("What was the Met Police investigation into tabloid journalists called?", "thing", None, None),
        ("What was the Warburg prison camp escape codenamed?", "thing", None, None),
        ("What name did David Cameron give to the day the tax cuts came in?", "thing", None, None),
    ],
)
def test_what_a_question_asks_for(question, kind, unit, head):
    assert asked_for(question) == Asked(kind, unit, head)


def test_open_questions_ask_for_no_kind():
    assert asked_for("What happened in the Nepal earthquake?") is None
    assert asked_for("Tell me about the cat that works as a nurse") is None


def test_names_skip_openers_captions_contractions_and_adjectives():
    common = frozenset({"injured", "video", "wanted"})  # the corpus writes these in lower case too
    assert named_in("Injured: Video by a passerby shows Copeland on the ground", common=common) == [
        "Copeland"
    ]
    assert named_in("Wanted: Police in Maryland seek Alexander Soumbadze", common=common) == [
        "Maryland",
        "Alexander Soumbadze",
    ]
    assert named_in("‘I’d be over the moon,’ said Locke.") == ["Locke"]
    assert named_in("Syrian rebels met on Wednesday.") == []
    assert named_in("The 2015 final in Berlin", with_years=True) == ["Berlin", "2015"]


def test_a_person_is_offered_only_when_the_question_does_not_name_them():
    sentence = "Gary Locke replaced Allan Johnston, said chairman Michael Johnston."
    offered = offered_items(Asked("person"), sentence, {"gary", "locke", "replace", "kilmarnock"})
    assert "Allan Johnston" in offered and "Gary Locke" not in offered


@pytest.mark.parametrize(
    ("asked", "sentence", "offers"),
    [
        (Asked("number", "money"), "Greece must repay £330million to the IMF.", True),
        (Asked("number", "money"), "Greece must repay the IMF in 2015 after 12 months.", False),
        (Asked("number", "age"), "He was 88.", True),
        (Asked("number", "age"), "Leon Yeaman, 55, died in hospital.", True),
        (Asked("number", "age"), "He died in 2015 after 12 operations.", False),
        (Asked("number", "duration"), "He signed a three-year contract.", True),
        (Asked("number", "score"), "Warrington beat Leeds 29-10.", True),
        (Asked("number"), "Ian Guffick asked 30 pupils to change their answers.", True),
        # an age does not answer "how many pupils", nor "how many cheetahs"
        (Asked("number"), "The 31-year-old altered the pupils' answers.", False),
        (Asked("number"), "The two-year-old fell into the cheetah exhibit.", False),
        (Asked("number", "age"), "The 31-year-old altered the pupils' answers.", True),
        (Asked("date"), "The change takes effect on Friday.", True),
        (Asked("date"), "The change takes effect soon.", False),
        (Asked("quote"), "He said: “I would be over the moon to get it.”", True),
        (Asked("quote"), "He said he would be happy.", False),
        (Asked("place"), "The boys fell ill during a trip to the U.S. Virgin Islands.", True),
    ],
)
def test_sentences_offer_the_asked_for_kind(asked, sentence, offers):
    assert bool(offered_items(asked, sentence, set())) is offers


def test_a_name_the_question_gives_in_the_possessive_is_not_offered_as_the_answer():
    question = "Who is Kristina Karo's lawyer in her lawsuit against Mila Kunis?"
    sentence = "Wannabe singer Kristina Karo is suing Mila Kunis for $5,000."
    assert {"karo", "kristina"} <= asked_words(question)
    assert offered_items(Asked("person"), sentence, asked_words(question)) == []


@pytest.mark.parametrize(
    ("word", "bare"),
    [("Jones", "jones"), ("Jones's?", "jones"), ("“Karo’s", "karo"), ("States?)", "states"), ("us", "us")],
)
def test_a_bare_word_keeps_a_leading_or_trailing_s_and_drops_punctuation_and_possessives(word, bare):
    # The answerer's "focus" words are the question's words that are not its names, compared bare:
    # stripping every "s" made "Jones" "jone", which no name matched.
    assert bare_word(word) == bare


@pytest.mark.parametrize(
    ("sentence", "withheld"),
    [
        ("Christie's sold the manuscript for $1.2 million to an unnamed buyer.", True),
        ("One major donor, who declined to be named, told the newspaper.", True),
        ("The victim has not yet been identified by police.", True),
        ("It is not clear what caused the crash.", True),
        ("Christie's sold the manuscript to a collector, Jim Irsay.", False),
        ("The donor named the newspaper in his letter.", False),
    ],
)
def test_a_sentence_saying_the_item_is_not_given_is_told_apart(sentence, withheld):
    assert bool(WITHHELD.search(sentence)) is withheld
