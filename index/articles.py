"""The article: what every input format is turned into, and how its id and content hash are derived."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dateutil import parser as date_parser


@dataclass
class Article:
    """One news article with its full text; `metadata` keeps the input's other fields."""

    id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    authors: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


@dataclass(frozen=True)
class InputError:
    """An input (file, line, feed entry) that could not become an article, and why."""

    input: str
    reason: str

    def __str__(self) -> str:
        # A file name or feed can hold escape sequences or bidi overrides: shown as escapes, never obeyed.
        return UNPRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04x}", f"{self.input}: {self.reason}")


UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# What the content hash ignores besides case, quotes and spacing: control and format characters
# (zero-width, joiners, direction marks, soft hyphen), which change no word a reader sees.
IGNORED_IN_HASH = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001\U000e0020-\U000e007f]"
)


def normalize_text(text: str) -> str:
    """Fold case, unicode forms and whitespace so a re-scraped copy of a story hashes the same."""
    text = IGNORED_IN_HASH.sub("", unicodedata.normalize("NFKC", text)).lower()
    text = re.sub(r"[\u2018\u2019\u201c\u201d\"'`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()


def normalize_url(url: str) -> str:
    """Drop the scheme, 'www.', fragment, tracking parameters and trailing slash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. "http://[oops": still a stable key, though not a URL
        return url.strip().lower()
    host = parts.netloc.lower().removeprefix("www.")
    query = "&".join(
        p for p in parts.query.split("&") if p and not p.lower().startswith(("utm_", "fbclid", "gclid"))
    )
    return urlunsplit(("", host, parts.path.rstrip("/"), query, ""))


def article_id(given: str | None, url: str | None, text: str) -> str:
    """A stable id: the input's own id, else one from the URL, else one from the content."""
    if given:
        return str(given).strip()
    if url:
        return "url-" + hashlib.sha1(normalize_url(str(url)).encode(errors="replace")).hexdigest()[:16]
    return "sha-" + content_hash(text)[:16]


# A date string names its year; dateutil alone reads "5" as the 5th of this month.
YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)|\d{8}")
MAX_DATE_CHARS = 100


def parse_date(value: Any) -> str | None:
    """ISO 8601 from a date string or feedparser's struct_time; None when absent or unreadable (never invented)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):  # feedparser's struct_time
        if len(value) < 6 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[:6]):
            return None
        return (
            f"{value[0]:04d}-{value[1]:02d}-{value[2]:02d}T{value[3]:02d}:{value[4]:02d}:{value[5]:02d}+00:00"
        )
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_DATE_CHARS or not YEAR.search(text):
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text).isoformat()
        # Parts the string leaves out are January and the 1st, never today's month or day.
        return date_parser.parse(text, default=datetime(2000, 1, 1)).isoformat()
    except (ValueError, OverflowError, TypeError):
        return None


def split_authors(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [a.strip() for a in re.split(r";|,| and ", str(value)) if a.strip()]
