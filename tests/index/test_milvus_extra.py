"""The milvus extra stays optional: only index/milvus_store.py needs it, and without it that import says what to install."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MILVUS_MODULES = ("pymilvus", "milvus_lite", "llama_index.vector_stores.milvus", "newsrag.index.milvus_store")
# The modules of the package that import nothing optional when loaded (ui/app.py and eval/ need gradio and the
# eval extra, so they are left to the static check below).
CORE_MODULES = [
    "newsrag",
    "newsrag.settings",
    "newsrag.errors",
    "newsrag.ui.cli",
    *(f"newsrag.index.{p.stem}" for p in sorted((ROOT / "index").glob("*.py")) if p.stem != "milvus_store"),
    *(f"newsrag.rag.{p.stem}" for p in sorted((ROOT / "rag").glob("*.py"))),
]

HIDE_MILVUS = """
import importlib.abc, sys
class HideMilvus(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pymilvus", "milvus_lite") or name.startswith("llama_index.vector_stores.milvus"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, HideMilvus())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)


def test_without_the_extra_importing_the_milvus_store_names_the_extra():
    code = HIDE_MILVUS + (
        "import newsrag.index.storage, newsrag.index.vector_store, newsrag.index.ingest\n"
        "try:\n"
        "    import newsrag.index.milvus_store\n"
        "except ImportError as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    done = run(code)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "pip install 'newsrag[milvus]'" in done.stdout
    assert "is missing" in done.stdout


def test_nothing_else_loads_milvus_when_imported():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({MILVUS_MODULES!r}))\n"
        "print(loaded); sys.exit(1 if loaded else 0)\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stdout + done.stderr


def _module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import that runs when the module is loaded: not in a function, not TYPE_CHECKING."""
    found: list[tuple[int, str]] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)] + [
                (node.lineno, f"{node.module}.{a.name}") for a in node.names
            ]
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.ClassDef | ast.For | ast.While):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            todo += node.body
    return found


def test_only_the_milvus_store_imports_milvus_at_module_level():
    wrong = []
    for folder in ("src", "index", "rag", "ui", "eval", "data"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "index" / "milvus_store.py":
                continue
            for line, module in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
                if module.startswith(MILVUS_MODULES) or module == "newsrag.index.milvus_store":
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "import the Milvus store inside the function that chooses it:\n" + "\n".join(wrong)


def test_choosing_milvus_without_the_extra_says_what_to_install(tmp_path):
    code = HIDE_MILVUS + textwrap.dedent(
        f"""
        from newsrag.errors import NewsRagError
        from newsrag.index.vector_backend import VectorBackend
        from newsrag.settings import Settings
        try:
            VectorBackend.from_settings(Settings(index_dir={str(tmp_path)!r}, vector_store="milvus"))
        except NewsRagError as exc:
            print(exc); sys.exit(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.startswith(
        "setting vector_store: 'milvus' cannot be used: the Milvus vector store needs"
    )
    assert "pip install 'newsrag[milvus]'" in done.stdout
