"""The suite registry: cheap to import (the CLI builds `--suite` from it) and every entry resolves."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from importlib import import_module

import pytest

from newsrag.eval.registry import SUITE_NAMES, SUITES
from newsrag.eval.run_data import EvalData
from newsrag.eval.runner import run_eval


def test_importing_the_registry_loads_no_models_or_eval_code():
    code = (
        "import sys; from newsrag.eval.registry import SUITE_NAMES; "
        "heavy = ('numpy', 'torch', 'llama_index', 'newsrag.index', 'newsrag.rag', 'newsrag.eval.suites'); "
        "bad = [m for m in sys.modules if m.startswith(heavy)]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_suite_names_its_data_and_code():
    data_fields = {f.name for f in fields(EvalData)}
    assert len(set(SUITE_NAMES)) == len(SUITES)
    for suite in SUITES:
        assert set(suite.needs) <= data_fields, suite.name
        module, _, function = suite.entry.partition(":")
        assert callable(getattr(import_module(module), function)), suite.entry


def test_an_unknown_suite_is_a_clear_error_before_any_work(tmp_path, settings):
    with pytest.raises(ValueError, match="unknown suite.*retrieval, multihop, qa"):
        run_eval(settings, None, tmp_path / "report", suites=("retreival",))  # type: ignore[arg-type]
    assert not (tmp_path / "report").exists()
