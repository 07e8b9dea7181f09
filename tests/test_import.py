"""The core works without the UI: importing index/ and rag/ pulls in neither Gradio nor ui/ or eval/."""

import subprocess
import sys


def test_core_imports_without_ui_or_eval():
    code = (
        "import sys, newsrag, newsrag.index.ingest, newsrag.index.catalog, newsrag.rag.engine, newsrag.rag.support; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'gradio' or m.split('.')[:2] in "
        "(['newsrag', 'ui'], ['newsrag', 'eval'])]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_surface_loads_lazily():
    code = (
        "import sys, newsrag; assert 'newsrag.rag.engine' not in sys.modules; "
        "from newsrag import NewsRAG, Answer, Summary, Filters, Settings, Answerer, register_answerer; "
        "assert NewsRAG.__module__ == 'newsrag.rag.engine'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# Which of the package's layers each folder may import: index <- rag <- eval, ui.
ALLOWED = {
    "index": {"index"},
    "rag": {"index", "rag"},
    "eval": {"index", "rag", "eval", "data"},
    "ui": {"index", "rag", "ui", "eval", "data"},
}


def test_layering_is_one_way():
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    wrong = []
    for folder, allowed in ALLOWED.items():
        for path in (repo / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                for name in names:
                    parts = name.split(".")
                    layer = parts[1] if parts[0] == "newsrag" and len(parts) > 1 else None
                    if layer in ALLOWED and layer not in allowed:
                        wrong.append(f"{path.relative_to(repo)}:{node.lineno} imports {name}")
    assert not wrong, "imports against the layering index <- rag <- eval, ui:\n" + "\n".join(wrong)
