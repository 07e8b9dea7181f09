"""Shared fixtures: the real bundled embedder (loaded once), temp index dirs, a small corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sample_data import CNNDM, SAMPLE, SEED

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedder():
    from newsrag.index.embedder import SentenceTransformerEmbedding

    return SentenceTransformerEmbedding()


@pytest.fixture
def settings(tmp_path):
    from newsrag.settings import Settings

    return Settings(index_dir=tmp_path / "index", lock_timeout=2.0)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """The seed article and the first 30 CNN/DailyMail articles: small enough to index in seconds."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, folder / SEED.name)
    lines = CNNDM.read_text().splitlines()[:30]
    (folder / "cnndm.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, small_corpus, embedder):
    """Settings pointing at an index of the small corpus, built once per session; tests must not write to it."""
    from newsrag.index.ingest import ingest
    from newsrag.settings import Settings

    settings = Settings(index_dir=tmp_path_factory.mktemp("small-index") / "index")
    report = ingest(settings, [str(small_corpus)], embedder)
    assert not report.failed
    return settings


# Lines of the sample's articles.jsonl beyond the first 30 that the answer and retrieval tests ask
# about: two more Nepal earthquake stories (a topic across articles) and the Chinese Grand Prix.
RAG_EXTRA_LINES = (83, 92, 108)


@pytest.fixture(scope="session")
def rag_index(tmp_path_factory, small_index, embedder):
    """The small index plus RAG_EXTRA_LINES (34 articles), added to a copy without embedding the rest again."""
    from newsrag.index.ingest import ingest

    folder = tmp_path_factory.mktemp("rag-index")
    shutil.copytree(small_index.index_dir, folder / "index")
    lines = CNNDM.read_text().splitlines()
    (folder / "extra.jsonl").write_text("".join(lines[i] + "\n" for i in RAG_EXTRA_LINES))
    settings = small_index.replace(index_dir=folder / "index")
    report = ingest(settings, [str(folder / "extra.jsonl")], embedder)
    assert len(report.new) == len(RAG_EXTRA_LINES) and not report.failed
    return settings


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder):
    """Settings pointing at an index of the whole bundled sample corpus (251 articles), built once."""
    from newsrag.index.ingest import ingest
    from newsrag.settings import Settings

    settings = Settings(index_dir=tmp_path_factory.mktemp("sample-index") / "index")
    report = ingest(settings, [str(SAMPLE)], embedder)
    assert not report.failed
    return settings
