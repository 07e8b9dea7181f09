"""The closing block of an article: a feed's "appeared first on" trailer, credit and author-bio lines."""

from __future__ import annotations

import re
from typing import Any

# "The post <TITLE> appeared first on <PUBLISHER>." as WordPress-style feeds append it.
TRAILER = re.compile(r"^\s*The post (?P<title>.+?) appeared first on (?P<publisher>.+?)\.?\s*$", re.MULTILINE)
CREDIT = re.compile(
    r"^[A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){0,3}(?:,? and [A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){0,3})? contributed (?:reporting|research)\b.*$"
)
BIO = re.compile(
    r"^(?P<name>[A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){1,3}) (?:covers|writes|reports|is (?:a|an|the)) .{0,200}\bfor (?:The |the )?[A-Z][\w ]+\.$"
)


def split_trailer(text: str) -> tuple[str, dict[str, Any]]:
    """Remove the feed trailer, reporting credits and the author bio from the body; return them as metadata.

    Only the closing block is scanned (from the end up to the first body line), so a body
    paragraph that happens to look like a bio ("Ana Ruiz is a spokeswoman for ...") stays.
    """
    meta: dict[str, Any] = {}
    lines = text.strip().splitlines()
    end = len(lines)
    closing: list[str] = []
    while end > 0:
        stripped = lines[end - 1].strip()
        if not stripped:
            end -= 1
        elif match := TRAILER.match(stripped):
            meta["title"], meta["publisher"] = match["title"].strip(), match["publisher"].strip()
            end -= 1
        elif CREDIT.match(stripped):
            closing.insert(0, stripped)
            end -= 1
        elif match := BIO.match(stripped):
            meta["authors"] = [match["name"], *meta.get("authors", [])]
            closing.insert(0, stripped)
            end -= 1
        else:
            break
    if closing:
        meta["credits"] = closing
    body = "\n".join(line.rstrip() for line in lines[:end]).strip()
    return re.sub(r"\n{3,}", "\n\n", body), meta


def credits_of(meta: dict[str, Any]) -> dict[str, Any]:
    """Credit and bio lines kept out of the answerable text, but kept."""
    return {"credits": meta["credits"]} if "credits" in meta else {}
