"""Answerers by name: what turns retrieved passages into a cited Answer.

The extractive answerer is built in. Another package adds one, without touching the engine, the
CLI or the UI, by an entry point in the `newsrag.answerers` group whose object is a factory
`factory(engine) -> Answerer` (as simonw/llm's plugins register models):

    [project.entry-points."newsrag.answerers"]
    my-llm = "my_package.answerer:build"

or, in code, `register_answerer("my-llm", build)`. Choosing one is the `answerer` setting,
`newsrag ask --answerer NAME` or the mode control in the chat.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from llama_index.core.schema import NodeWithScore

from newsrag.errors import UnknownAnswererError
from newsrag.rag.followup import condense
from newsrag.rag.types import Answer

if TYPE_CHECKING:
    from newsrag.rag.engine import Corpus, NewsRAG

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "newsrag.answerers"
DEFAULT_ANSWERER = "extractive"


@dataclass(frozen=True)
class AnswerRequest:
    """One question with the passages retrieved for it, from one snapshot of the corpus."""

    question: str  # as the user asked it
    retrieval_query: str  # the question condensed with earlier turns (what was retrieved with)
    passages: list[NodeWithScore]  # best first
    corpus: Corpus  # the snapshot the passages come from: article texts, term weights
    history: list[str] = field(default_factory=list)  # earlier user questions, oldest first
    query_embedding: list[float] | None = None  # of retrieval_query


class Answerer(ABC):
    """Writes the cited answer to a question from its retrieved passages.

    Built once per engine by its factory and called from several threads at once, so it keeps
    no per-request state. `answer` must cite only `request.passages` and set `Answer.mode`.
    """

    name: str = ""

    def condense(self, question: str, history: list[str]) -> str:
        """The retrieval query for a question in its conversation; an LLM answerer may rewrite it."""
        return condense(question, history)

    @abstractmethod
    def answer(self, request: AnswerRequest) -> Answer: ...

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        """Text as it is written, then the final Answer last; answerers that do not stream yield only that."""
        yield self.answer(request)


AnswererFactory = Callable[["NewsRAG"], Answerer]

# Built-in answerers, by import path so that naming them imports nothing.
BUILT_IN = {
    DEFAULT_ANSWERER: "newsrag.rag.answer:ExtractiveAnswerer.from_engine",
    "llm": "newsrag.rag.llm_answer:LLMAnswerer.from_engine",  # needs the `llm` setting
}
_registered: dict[str, AnswererFactory] = {}
_lock = threading.Lock()


def register_answerer(name: str, factory: AnswererFactory) -> None:
    """Make `factory(engine)` available as answerer `name` (replacing one of that name)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"answerer name {name!r}: use letters, digits, '-' and '_'")
    with _lock:
        _registered[name] = factory


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def answerer_names() -> list[str]:
    """Every answerer that can be chosen: built in, registered in code, or installed by entry point."""
    with _lock:
        registered = list(_registered)
    return list(dict.fromkeys([*BUILT_IN, *registered, *_plugins()]))


def _load(path: str) -> AnswererFactory:
    module, _, attribute = path.partition(":")
    target: object = import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target  # type: ignore[return-value]


def create_answerer(name: str, engine: NewsRAG) -> Answerer:
    """A new answerer `name` for this engine; UnknownAnswererError lists the known names."""
    with _lock:
        factory = _registered.get(name)
    if factory is None:
        path = BUILT_IN.get(name) or _plugins().get(name)
        if path is None:
            raise UnknownAnswererError(
                f"'{name}' is not a known answerer (known: {', '.join(answerer_names())})"
            )
        factory = _load(path)
    answerer = factory(engine)
    if not isinstance(answerer, Answerer):
        raise UnknownAnswererError(
            f"answerer '{name}': its factory returned {type(answerer).__name__}, not an Answerer"
        )
    answerer.name = name
    log.info("answerer %s ready (%s)", name, type(answerer).__name__)
    return answerer
