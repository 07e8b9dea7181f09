"""Follow-up questions without an LLM: carry the key terms of earlier turns into the retrieval query."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of
    off on once only or other our out over own said same say says she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours tell know did does happen happened
    many much name named call called old big long far think way get got take took find make made us""".split()
)
# Words that point back to something said before.
ANAPHORS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers herself this these those there".split()
)
CONTINUATIONS = ("and ", "but ", "also ", "what about ", "how about ", "what else")
WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*|\d[\d,.]*")


def key_terms(text: str) -> list[str]:
    """Content words and numbers, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in WORD.findall(text):
        low = word.lower().strip("'\u2019")
        if low not in STOPWORDS and len(low) > 1:
            seen.setdefault(low, None)
    return list(seen)


def has_named_entity(text: str) -> bool:
    """A capitalised word after the first one, or a number: the question names its own subject."""
    words = WORD.findall(text)
    return any(w[:1].isupper() for w in words[1:]) or any(w[:1].isdigit() for w in words)


def needs_context(question: str) -> bool:
    words = [w.lower() for w in WORD.findall(question)]
    if question.strip().lower().startswith(CONTINUATIONS):
        return True
    return any(w in ANAPHORS for w in words) or (
        not has_named_entity(question) and len(key_terms(question)) <= 2
    )


def condense(question: str, history: list[str], turns: int = 2) -> str:
    """The question plus the key terms of the last earlier turns when it leans on them."""
    if not history or not needs_context(question):
        return question
    own = set(key_terms(question))
    carried = [t for turn in history[-turns:] for t in key_terms(turn) if t not in own]
    carried = list(dict.fromkeys(carried))
    return f"{question} {' '.join(carried)}".strip()
