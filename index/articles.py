"""The article: what every input format is turned into, and how its id and content hash are derived."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
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
        return f"{self.input}: {self.reason}"


def normalize_text(text: str) -> str:
    """Fold case, unicode forms and whitespace so a re-scraped copy of a story hashes the same."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\u2018\u2019\u201c\u201d\"'`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()


def normalize_url(url: str) -> str:
    """Drop the scheme, 'www.', fragment, tracking parameters and trailing slash."""
    parts = urlsplit(url.strip())
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
        return "url-" + hashlib.sha1(normalize_url(url).encode()).hexdigest()[:16]
    return "sha-" + content_hash(text)[:16]


def parse_date(value: Any) -> str | None:
    """ISO 8601 from whatever the input offers; None when absent or unreadable (never invented)."""
    if value is None or value == "":
        return None
    if isinstance(value, tuple | list) and len(value) >= 6:  # feedparser's struct_time
        return (
            f"{value[0]:04d}-{value[1]:02d}-{value[2]:02d}T{value[3]:02d}:{value[4]:02d}:{value[5]:02d}+00:00"
        )
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    return parsed.isoformat()


def split_authors(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [a.strip() for a in re.split(r";|,| and ", str(value)) if a.strip()]
