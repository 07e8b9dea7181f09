"""Settings: defaults < newsrag.toml < NEWSRAG_* environment < explicit overrides."""

from pathlib import Path

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
