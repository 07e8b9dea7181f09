"""The bundled QA sets: the held-out test set's composition, and every gold answer checked against the corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.formats import ARTICLE_ALIASES, QA_SET, QA_TEST_SET, load_qa, read_jsonl
from newsrag.eval.metrics import answer_contains

ASKS = {"person", "organisation", "place", "number", "date", "quote", "reason", "thing"}
SEED = SAMPLE_CORPUS / "seed" / "border-czar-minneapolis.txt"


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    """Every bundled article's text by the id QA items name it by (the seed by its alias)."""
    texts = {r["id"]: r["text"] for r in read_jsonl(SAMPLE_CORPUS / "cnndm" / "articles.jsonl")}
    texts[next(iter(ARTICLE_ALIASES))] = SEED.read_text()
    return texts


@pytest.fixture(scope="module")
def dev():
    return load_qa(QA_SET)


@pytest.fixture(scope="module")
def test():
    return load_qa(QA_TEST_SET)


def test_the_test_set_has_the_composition_it_promises(test):
    kinds = Counter(i.kind for i in test)
    assert len(test) >= 120
    assert kinds["unanswerable"] >= 30
    assert kinds["followup"] >= 25
    assert set(kinds) <= {"factoid", "unanswerable", "followup"}
    assert all(i.asks in ASKS for i in test), {i.id: i.asks for i in test if i.asks not in ASKS}
    asks = Counter(i.asks for i in test if i.answerable)
    for kind in ("person", "organisation", "place", "number", "date", "quote"):
        assert asks[kind] >= 5, (kind, asks)
    assert all(i.history for i in test if i.kind == "followup")
    assert all(not i.answerable for i in test if i.kind == "unanswerable")
    assert all(i.answerable for i in test if i.kind != "unanswerable")


def test_the_test_set_spreads_over_many_articles_mostly_not_the_dev_sets(dev, test):
    gold = {i.article for i in test if i.answerable}
    assert len(gold) >= 60
    assert len(gold & {i.article for i in dev if i.answerable}) < len(gold) / 3


def test_some_followups_go_back_past_a_turn_about_another_article(test):
    assert sum(len(i.history) >= 2 for i in test if i.kind == "followup") >= 3


def test_every_answerable_test_item_names_a_bundled_article_that_contains_each_answer(test, corpus):
    for item in test:
        if item.answerable:
            assert item.article in corpus, (item.id, item.article)
            assert item.answers, item.id
            for answer in item.answers:
                assert answer_contains(corpus[item.article], [answer]), (item.id, answer)


def test_every_answerable_dev_item_names_a_bundled_article_that_contains_an_answer(dev, corpus):
    # Looser than the test set's rule: q013 also accepts "CRS", an abbreviation its article never uses.
    for item in dev:
        if item.answerable:
            assert item.article in corpus, (item.id, item.article)
            assert answer_contains(corpus[item.article], item.answers), item.id


@pytest.mark.parametrize("which", ["dev", "test"])
def test_ids_are_unique(which, request):
    ids = [i.id for i in request.getfixturevalue(which)]
    assert len(ids) == len(set(ids))


def test_the_test_set_shares_no_question_with_the_dev_set(dev, test):
    def norm(q: str) -> str:
        return " ".join(q.lower().split())

    shared = {norm(i.question) for i in dev} & {norm(i.question) for i in test}
    assert not shared, shared
    assert not {i.id for i in dev} & {i.id for i in test}
