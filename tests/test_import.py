"""The core works without the UI: importing index/ and rag/ pulls in neither Gradio nor eval/."""

import subprocess
import sys


def test_core_imports_without_ui_or_eval():
    code = (
        "import sys, index.ingest, index.catalog, rag.engine, rag.support; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('gradio', 'ui', 'eval')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
