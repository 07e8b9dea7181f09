"""A newsroom archive of any size, synthesised from the bundled sample's sentences, deterministically.

Article `i` of a seed is always the same article (its own random generator is seeded by seed and
i), so the first n articles of a larger archive are the archive of n, and the articles just past
n are new to it. Each article is a run of consecutive sentences of one sample article (its lead,
so it reads as one story) followed by sentences drawn from the whole pool, 90 to 300 words in all:
one or two chunks of the bundled embedder. Publishers are a handful of invented names and dates
are spread evenly over four years, so source and date filters have something to select.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from newsrag.data import SAMPLE_CORPUS
from newsrag.eval.formats import read_jsonl
from newsrag.index.articles import Article

VERSION = 1  # bump when the articles this module makes change: cached bench indexes are keyed by it
PUBLISHERS = ("Harbour Herald", "Northern Courier", "Valley Times", "Metro Daily", "Coastal Post")
FIRST_DAY = datetime(2021, 1, 1, tzinfo=UTC)
DAYS = 4 * 365
WORDS = (90, 300)
LEAD_SENTENCES = (2, 4)
SENTENCE_WORDS = (8, 50)  # shorter pieces are captions and bylines, longer ones run-ons
# A sentence ends at . ! ? (and a closing quote); the next starts with a capital or an opening quote.
SENTENCE_END = re.compile(r"(?<=[.!?\u2019\u201d'\"])\s+(?=[A-Z\u2018\u201c\"'])")


@dataclass(frozen=True)
class SyntheticArchive:
    """Articles synthesised from the sample corpus's sentences; `articles(start, stop)` is deterministic."""

    seed: int = 12

    @cached_property
    def stories(self) -> list[list[str]]:
        """Each sample article's usable sentences, in order (articles with too few are left out)."""
        found = []
        for row in read_jsonl(SAMPLE_CORPUS / "cnndm" / "articles.jsonl"):
            sentences = [
                s.strip()
                for s in SENTENCE_END.split(row["text"])
                if SENTENCE_WORDS[0] <= len(s.split()) <= SENTENCE_WORDS[1]
            ]
            if len(sentences) >= LEAD_SENTENCES[1]:
                found.append(sentences)
        return found

    @cached_property
    def pool(self) -> list[str]:
        return [s for story in self.stories for s in story]

    def article(self, i: int) -> Article:
        rng = random.Random(f"{self.seed}:{i}")
        story = rng.choice(self.stories)
        lead = rng.randint(*LEAD_SENTENCES)
        start = rng.randrange(len(story) - lead + 1)
        sentences = story[start : start + lead]
        target = rng.randint(*WORDS)
        words = sum(len(s.split()) for s in sentences)
        while words < target:
            more = rng.choice(self.pool)
            if words + len(more.split()) > WORDS[1]:
                break
            sentences.append(more)
            words += len(more.split())
        publisher = rng.choice(PUBLISHERS)
        published = FIRST_DAY + timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(24 * 60))
        title = " ".join(re.sub(r"[^\w\s'-]", "", sentences[0]).split()[:9])
        slug = publisher.lower().replace(" ", "-")
        return Article(
            id=f"synth-{self.seed}-{i:06d}",
            title=title,
            # The article number in a dateline: two draws of the same sentences stay two stories.
            text=f"({publisher}, no. {i}) " + " ".join(sentences),
            source=publisher,
            url=f"https://{slug}.example/{published:%Y/%m/%d}/{i}",
            published_at=published.isoformat(timespec="seconds"),
        )

    def articles(self, start: int, stop: int) -> list[Article]:
        return [self.article(i) for i in range(start, stop)]

    def batches(self, start: int, stop: int, size: int) -> Iterator[list[Article]]:
        """Articles start..stop in lists of `size`, made as they are asked for (memory stays bounded)."""
        for low in range(start, stop, size):
            yield self.articles(low, min(low + size, stop))

    def describe(self) -> str:
        """How the corpus is made, for the report's header."""
        return (
            f"synthetic v{VERSION} (seed {self.seed}): per article a run of {LEAD_SENTENCES[0]}-"
            f"{LEAD_SENTENCES[1]} consecutive sentences of one bundled sample article, then sentences drawn "
            f"from all {len(self.pool)} sample sentences of {SENTENCE_WORDS[0]}-{SENTENCE_WORDS[1]} words, "
            f"{WORDS[0]}-{WORDS[1]} words in all (1-2 chunks); publisher one of {len(PUBLISHERS)} invented "
            f"names, published uniformly over {FIRST_DAY:%Y}-{(FIRST_DAY + timedelta(days=DAYS)):%Y}; "
            "indexed through the real ingest and embedder, in batches"
        )
