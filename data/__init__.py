"""The bundled sample corpus and eval sets, shipped inside the package and found through importlib.resources."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled(*parts: str) -> Path:
    """A file or folder of the bundled data, as a path on disk (pip installs packages unzipped)."""
    found = files(__name__).joinpath(*parts)
    if not isinstance(found, Path):
        raise RuntimeError(
            f"newsrag's bundled data must be installed as files, not in a {type(found).__name__}"
        )
    return found


SAMPLE_CORPUS = bundled("sample")
EVAL_DIR = bundled("eval")
