"""NewsRAG: cited answers and summaries over a corpus of news articles.

The public surface is these few names; everything else is reached through them. They load on
first use, so `import newsrag` (and `newsrag --help`) pulls in no model, index or UI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsrag.errors import NewsRagError
    from newsrag.rag.answerers import Answerer, register_answerer
    from newsrag.rag.engine import NewsRAG
    from newsrag.rag.filters import Filters
    from newsrag.rag.types import Answer, Citation, Summary
    from newsrag.settings import Settings

__all__ = [
    "Answer",
    "Answerer",
    "Citation",
    "Filters",
    "NewsRAG",
    "NewsRagError",
    "Settings",
    "Summary",
    "register_answerer",
]

_HOMES = {
    "Answer": "newsrag.rag.types",
    "Answerer": "newsrag.rag.answerers",
    "Citation": "newsrag.rag.types",
    "Filters": "newsrag.rag.filters",
    "NewsRAG": "newsrag.rag.engine",
    "NewsRagError": "newsrag.errors",
    "Settings": "newsrag.settings",
    "Summary": "newsrag.rag.types",
    "register_answerer": "newsrag.rag.answerers",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'newsrag' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
