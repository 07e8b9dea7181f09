"""The LlamaIndex baselines: the literal quick-start, and the configuration a competent user would choose."""

from __future__ import annotations

import pytest
from sample_data import SEED_QUESTION

from newsrag.eval.baselines import BASELINES, llamaindex_default, llamaindex_tuned
from newsrag.eval.registry import BASELINE_NAMES
from newsrag.rag.engine import NewsRAG


@pytest.fixture(scope="module")
def articles(small_index, embedder):
    return NewsRAG(small_index, embedder).catalog.articles()


@pytest.fixture(scope="module")
def tuned(articles, embedder):
    return llamaindex_tuned(articles, embedder)


def test_the_registry_names_every_baseline():
    assert BASELINE_NAMES == tuple(BASELINES)


def test_the_tuned_baseline_chunks_fit_what_the_embedder_reads(tuned, embedder):
    nodes = list(tuned.index.docstore.docs.values())
    longest = max(len(embedder.count_tokens(n.get_content())) for n in nodes)
    assert longest <= embedder.max_tokens


def test_the_literal_default_chunks_exceed_what_the_embedder_reads(articles, embedder):
    # The quick-start's 1024-token chunks: the embedder reads the first 254 word pieces of each.
    default = llamaindex_default(articles, embedder)
    nodes = list(default.index.docstore.docs.values())
    assert max(len(embedder.count_tokens(n.get_content())) for n in nodes) > embedder.max_tokens


def test_the_tuned_answer_quotes_its_top_k_passages(tuned):
    retrieved = tuned.retrieve(SEED_QUESTION)
    assert len(retrieved) == tuned.top_k == 6
    reply = tuned.answer(SEED_QUESTION)
    passages = [n.node.get_content() for n in retrieved]
    assert reply.cited_passages and all(p in passages for p in reply.cited_passages)
    assert "700" in reply.text  # the seed says 700 officers are withdrawn
    # The postprocessor shortens copies: the index keeps whole passages for the next question.
    assert [n.node.get_content() for n in tuned.retrieve(SEED_QUESTION)] == passages
