"""Settings: defaults < newsrag.toml < NEWSRAG_* environment < explicit overrides."""

from dataclasses import fields
from pathlib import Path

import pytest

from newsrag.errors import NewsRagError
from newsrag.index.settings import IndexSettings
from newsrag.settings import Settings


def test_precedence_of_file_environment_and_overrides(tmp_path):
    config = tmp_path / "newsrag.toml"
    config.write_text('[newsrag]\ntop_k = 9\nchunk_overlap = 16\nindex_dir = "from-file"\n')
    env = {"NEWSRAG_CHUNK_OVERLAP": "8", "NEWSRAG_LOCK_TIMEOUT": "2.5"}
    settings = Settings.load(config=config, env=env, index_dir=tmp_path / "flag")
    assert settings.top_k == 9  # file over default
    assert settings.chunk_overlap == 8  # environment over file, coerced to int
    assert settings.lock_timeout == 2.5
    assert settings.index_dir == tmp_path / "flag"  # flag over everything
    assert settings.candidates == Settings().candidates  # untouched default


def test_config_file_named_by_environment_and_unset_flags_ignored(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text('[newsrag]\nembed_model = "/models/bge-small"\n')
    settings = Settings.load(env={"NEWSRAG_CONFIG": str(config), "NEWSRAG_INDEX_DIR": "~/idx"}, top_k=None)
    assert settings.embed_model == "/models/bge-small"
    assert settings.index_dir == Path("~/idx").expanduser()
    assert settings.top_k == Settings().top_k


def test_a_misspelt_setting_in_the_file_is_named(tmp_path):
    config = tmp_path / "newsrag.toml"
    config.write_text("[newsrag]\ntop_kk = 9\n")
    with pytest.raises(NewsRagError, match="unknown setting.*top_kk"):
        Settings.load(config=config, env={})


def test_a_value_of_the_wrong_type_is_named(tmp_path):
    with pytest.raises(NewsRagError, match="top_k: 'many' is not a valid int"):
        Settings.load(env={"NEWSRAG_TOP_K": "many"})


def test_the_index_layer_reads_only_the_index_part():
    index_fields = {f.name for f in fields(IndexSettings)}
    assert {"index_dir", "embed_model", "chunk_size", "chunk_overlap"} <= index_fields
    assert not index_fields & {"top_k", "candidates", "answer_sentences", "answerer"}
    assert isinstance(Settings(), IndexSettings)
