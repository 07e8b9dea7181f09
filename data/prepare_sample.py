"""Copy the shared CNN/DailyMail data into the repository in the formats a user would have.

Run once from the repository root: ``python data/prepare_sample.py ../shared/data``.
The articles become a plain JSONL news export (id, title, source, url, published_at,
text); the journalist highlights, peer summaries and factuality judgements become
eval sets under ``data/eval/cnndm/``.  Titles come from the URL slug; a date is set
only where the URL carries one (CNN's /YYYY/MM/DD/ paths), never invented.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

SOURCES = {"cnn": "CNN", "dailymail": "Daily Mail"}


def title_from_url(url: str) -> str:
    """Turn the URL's slug into a readable headline."""
    path = re.sub(r"^https?://web\.archive\.org/web/\d+id_/", "", url)
    parts = [p for p in path.split("/") if p and p not in {"index.html"}]
    slug = parts[-1]
    slug = re.sub(r"\.html?$", "", slug)
    words = slug.replace("_", "-").split("-")
    words = [w for w in words if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def date_from_url(url: str) -> str | None:
    match = re.search(r"/(20\d\d)/(\d\d)/(\d\d)/", re.sub(r"^.*?id_/", "", url))
    return "-".join(match.groups()) if match else None


def main(shared: Path, repo: Path) -> None:
    cnndm = shared / "cnndm"
    out_articles = repo / "data/sample/cnndm/articles.jsonl"
    out_high = repo / "data/eval/cnndm/highlights.jsonl"
    with (cnndm / "articles.jsonl").open() as src, out_articles.open("w") as art, out_high.open("w") as high:
        for line in src:
            row = json.loads(line)
            article = {
                "id": row["id"],
                "title": title_from_url(row["url"]),
                "source": SOURCES[row["source"]],
                "url": row["url"],
                "published_at": date_from_url(row["url"]),
                "text": row["text"],
            }
            if article["published_at"] is None:
                del article["published_at"]
            art.write(json.dumps(article, ensure_ascii=False) + "\n")
            high.write(
                json.dumps({"id": row["id"], "highlights": row["highlights"]}, ensure_ascii=False) + "\n"
            )
    for name in ("peer_summaries.jsonl", "factuality.jsonl"):
        shutil.copyfile(cnndm / name, repo / "data/eval/cnndm" / name)
    shutil.copyfile(
        shared / "seed/border-czar-minneapolis.txt", repo / "data/sample/seed/border-czar-minneapolis.txt"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"), Path(__file__).resolve().parent.parent)
