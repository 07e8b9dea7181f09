"""Follow-up questions without an LLM: carry the key terms of earlier turns into the retrieval query."""

from __future__ import annotations

from newsrag.rag.words import WORD, has_named_entity, key_terms

# Words that point back to something said before.
ANAPHORS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers herself this these those there".split()
)
CONTINUATIONS = ("and ", "but ", "also ", "what about ", "how about ", "what else")


def needs_context(question: str) -> bool:
    words = [w.lower() for w in WORD.findall(question)]
    if question.strip().lower().startswith(CONTINUATIONS):
        return True
    return any(w in ANAPHORS for w in words) or (
        not has_named_entity(question) and len(key_terms(question)) <= 2
    )


def carried_terms(question: str, history: list[str], turns: int = 2) -> list[str]:
    """Key terms of the last earlier turns that a question leaning on them does not repeat itself."""
    if not history or not needs_context(question):
        return []
    own = set(key_terms(question))
    return list(dict.fromkeys(t for turn in history[-turns:] for t in key_terms(turn) if t not in own))


def condense(question: str, history: list[str], turns: int = 2) -> str:
    """The question plus the key terms of the last earlier turns when it leans on them."""
    return f"{question} {' '.join(carried_terms(question, history, turns))}".strip()
