from newsrag.rag.followup import condense, needs_context


def test_pronoun_question_carries_earlier_key_terms():
    query = condense("What did the mayor say about it?", ["How many officers are leaving Minneapolis?"])
    assert query.startswith("What did the mayor say about it?")
    assert "minneapolis" in query and "officers" in query


def test_self_contained_question_is_left_alone():
    question = "What happened in the Nepal earthquake?"
    assert not needs_context(question)
    assert condense(question, ["How many officers are leaving Minneapolis?"]) == question


def test_continuation_without_pronoun_still_needs_context():
    assert needs_context("And how many people were killed in India itself?")
    assert needs_context("What about the mayor?")


def test_no_history_no_change():
    assert condense("Who is he?", []) == "Who is he?"
