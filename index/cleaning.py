"""Untrusted text and metadata made safe to store, hash, embed and show, and typed field by field.

Every text field (title, publisher, authors, text) passes through `clean_text`: NFC, one kind
of line break, no terminal escape sequences, control characters (tabs and newlines stay),
zero-width or bidi-override characters. Labels are also put on one line and cut with an
ellipsis past their length. In article text a run of more than MAX_WORD_CHARS letters and
digits (a base64 blob, a hash) is broken with spaces: the embedder reads a word of over 100
characters as one unknown word piece, so such a chunk would hold text it never embeds.

A documented JSON field of the wrong type rejects its record with a reason naming the field
(numbers are read as their decimal text where a string is expected, except in `url`, `text`
and the date); null or "" is the same as absent. Other fields are kept as metadata if they are
JSON data, not nested too deep and not too large, since they are stored with every chunk.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from newsrag.index.articles import Article, InputError, parse_date, split_authors

MAX_WORD_CHARS = 60
MAX_ID_CHARS = 200
MAX_TITLE_CHARS = 200  # as chunking stores and embeds it
MAX_LABEL_CHARS = 200  # publisher, each author
MAX_AUTHORS = 20
MAX_URL_CHARS = 2048
MAX_METADATA_DEPTH = 8
MAX_METADATA_CHARS = 10_000  # the other fields as JSON: they are copied onto every chunk

# Terminal escape sequences, removed whole so that a title cannot recolour, move the cursor
# in or retitle the terminal that `newsrag list` prints it to. An unterminated string
# sequence loses only its first two characters, never the text after it.
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, terminated: window title, hyperlinks
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC strings, terminated
    r"|\x1b[ -/]*[0-~]"  # the other escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI in its 8-bit form
)
LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
SURROGATES = re.compile(r"[\ud800-\udfff]")  # unpaired, from JSON's "\ud800": not encodable
# Invisible characters that change no glyph but defeat duplicate detection or reorder what is
# shown: soft hyphen, Mongolian vowel separator, zero-width space, word joiner and the invisible
# operators, the byte-order mark, and the bidi embeddings, overrides and isolates. The joiners
# (ZWJ, ZWNJ) and the LRM/RLM marks stay: scripts and emoji need them; the hash ignores them.
INVISIBLE = "\u00ad\u180e\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])
REMOVED = dict.fromkeys(map(ord, INVISIBLE + CONTROLS))
# Letters and digits as the embedder's tokenizer sees a word: ASCII punctuation ends one.
LONG_WORD = re.compile(r"[^\s!-/:-@\[-`{-~]{" + str(MAX_WORD_CHARS + 1) + ",}")
HTTP_URL = re.compile(r"https?://[^\s/?#]", re.IGNORECASE)


class FieldError(ValueError):
    """A field of an input that cannot be kept; `reason` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_text(text: str) -> str:
    """NFC, newlines for every line break, no escape sequences, control or invisible characters."""
    text = SURROGATES.sub("\ufffd", text)
    text = ESCAPES.sub("", text)
    text = LINE_BREAKS.sub("\n", text)
    return unicodedata.normalize("NFC", text.translate(REMOVED))


def clean_body(text: str) -> str:
    """Article text as stored: clean, long runs of letters broken, trimmed."""
    return break_long_words(clean_text(text)).strip()


def clean_line(text: str, limit: int) -> str:
    """A label on one line, cut with an ellipsis past `limit` characters."""
    line = " ".join(clean_text(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def break_long_words(text: str) -> str:
    """Put a space every MAX_WORD_CHARS characters into runs the embedder could not read."""
    return LONG_WORD.sub(
        lambda m: " ".join(m[0][i : i + MAX_WORD_CHARS] for i in range(0, len(m[0]), MAX_WORD_CHARS)), text
    )


def kind_of(value: Any) -> str:
    """A value's JSON type, as a reason names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def as_string(value: Any, field: str, numbers: bool = True) -> str | None:
    """A string field as given, a number as its decimal text (if `numbers`); None when absent."""
    if value is None:
        return None
    if numbers and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    if not isinstance(value, str):
        raise FieldError(f"field '{field}' must be a string, got {kind_of(value)}")
    return value


def as_label(value: Any, field: str, limit: int = MAX_LABEL_CHARS) -> str | None:
    """A title, publisher or author: one clean line, None when absent or blank."""
    text = as_string(value, field)
    return (clean_line(text, limit) or None) if text is not None else None


def as_id(value: Any, field: str = "id") -> str | None:
    """An article id as given (trimmed, cleaned); one that chunk ids or the index cannot hold is refused."""
    text = as_string(value, field)
    if text is None:
        return None
    ident = " ".join(clean_text(text).split())
    if len(ident) > MAX_ID_CHARS:
        raise FieldError(f"field '{field}' is {len(ident)} characters, more than {MAX_ID_CHARS}")
    if "#" in ident:
        # Chunk ids are "<article id>#<n>": an article "a#1" would overwrite chunk 1 of article "a".
        raise FieldError(f"field '{field}' {ident!r} contains '#', which chunk ids use")
    return ident or None


def as_url(value: Any, field: str = "url") -> str | None:
    """An absolute http(s) URL, or None when absent; anything else is refused with the reason."""
    text = as_string(value, field, numbers=False)
    if text is None or not text.strip():
        return None
    url = clean_text(text).strip()
    if len(url) > MAX_URL_CHARS:
        raise FieldError(f"field '{field}' is {len(url)} characters, more than {MAX_URL_CHARS}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FieldError(f"field '{field}' is not a valid URL ({exc}): {url[:80]!r}") from exc
    if not HTTP_URL.match(url) or not parts.hostname or any(c.isspace() for c in url):
        raise FieldError(f"field '{field}' is not an http(s) URL: {url[:80]!r}")
    return url


def as_date(value: Any, field: str = "published_at") -> str | None:
    """ISO 8601 from a date string; None when absent or unreadable (never invented)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldError(
            f"field '{field}' must be a date string such as 2024-05-06T09:15:00Z, got {kind_of(value)}"
        )
    return parse_date(clean_text(value))


def as_authors(value: Any, field: str = "author") -> list[str]:
    """Names from "A and B", "A, B", or a list of names; at most MAX_AUTHORS."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list):
        odd = [v for v in value if not isinstance(v, str | int | float) or isinstance(v, bool)]
        if odd:
            raise FieldError(
                f"field '{field}' must be a string or a list of strings, got a list holding {kind_of(odd[0])}"
            )
        raw = [name for name in (as_string(item, field) for item in value) if name is not None]
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        raw = split_authors(as_string(value, field))
    else:
        raise FieldError(f"field '{field}' must be a string or a list of strings, got {kind_of(value)}")
    cleaned = [clean_line(name, MAX_LABEL_CHARS) for name in raw]
    return [name for name in cleaned if name][:MAX_AUTHORS]


def as_metadata(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields kept as metadata: JSON data with clean strings, bounded in depth and size."""
    kept = {clean_line(key, MAX_LABEL_CHARS): _json_data(value, key, 1) for key, value in fields.items()}
    sizes = {key: len(json.dumps(value)) for key, value in kept.items()}
    if sum(sizes.values()) > MAX_METADATA_CHARS:
        largest = max(sizes, key=lambda k: sizes[k])
        raise FieldError(
            f"the other fields take {sum(sizes.values()):,} characters as JSON ('{largest}': "
            f"{sizes[largest]:,}), more than {MAX_METADATA_CHARS:,}; they are stored with every chunk"
        )
    return kept


def _json_data(value: Any, field: str, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise FieldError(f"field '{field}' is nested more than {MAX_METADATA_DEPTH} levels deep")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN and Infinity are not JSON
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | tuple):
        return [_json_data(v, field, depth + 1) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _json_data(v, field, depth + 1) for k, v in value.items()}
    raise FieldError(f"field '{field}' is {kind_of(value)}, not JSON data")


def clean_article(article: Article, max_chars: int) -> Article | InputError:
    """The article with every field typed and clean, or why it cannot be stored; any parser's output passes here."""
    origin = str(article.metadata.get("origin") or article.id)
    try:
        text = clean_body(as_string(article.text, "text", numbers=False) or "")
        if not text:
            return InputError(origin, "no article text")
        if len(text) > max_chars:
            return InputError(
                origin,
                f"article text is {len(text):,} characters, more than max_article_chars ({max_chars:,}): "
                "split it into smaller articles or raise the setting",
            )
        ident = as_id(article.id)
        if ident is None:
            return InputError(origin, "no article id")
        try:
            url = as_url(article.url)
        except FieldError:
            url = None  # a page's or feed's own link that is no http(s) URL: not shown as one
        metadata = as_metadata({k: v for k, v in article.metadata.items() if k != "origin"})
        return Article(
            id=ident,
            title=as_label(article.title, "title", MAX_TITLE_CHARS) or clean_line(text[:200], 80),
            text=text,
            source=as_label(article.source, "source"),
            url=url,
            published_at=article.published_at if isinstance(article.published_at, str) else None,
            authors=as_authors(list(article.authors), "authors"),
            metadata={**metadata, "origin": origin},
        )
    except FieldError as exc:
        return InputError(origin, exc.reason)
