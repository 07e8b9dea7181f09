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
