"""Word-level helpers shared by every rag/ module: stopwords, word and number patterns, key terms."""

from __future__ import annotations

import re

from newsrag.index.terms import STOPWORDS, WORD, english_stemmer, key_terms

__all__ = ["STOPWORDS", "WORD", "english_stemmer", "key_terms"]  # defined where the index counts terms

# A token for n-gram matching: any run of letters or digits.
TOKEN = re.compile(r"[^\W_]+")
# A numeral ("2,000", "3.5").
DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# A quantity, in numerals or in words.
NUMBER = re.compile(
    r"\d[\d,.]*\d|\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half)\b",
    re.I,
)
TIME_WORDS = re.compile(
    r"\b(\d{4}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|yesterday|today|last (week|month|year)|ago)\b",
    re.I,
)
# A capitalised word that does not open a sentence: most often part of a name.
CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'\u2019-]+")


def has_named_entity(text: str) -> bool:
    """A capitalised word after the first one, or a number: the text names its own subject."""
    words = WORD.findall(text)
    return any(w[:1].isupper() for w in words[1:]) or any(w[:1].isdigit() for w in words)
