"""Typed results: what an answer or summary is made of, and its stable JSON form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from newsrag.index.articles import Article

Embed = Callable[[list[str]], np.ndarray]
"""Texts in, one L2-normalised embedding row per text out (SentenceTransformerEmbedding.encode)."""


@dataclass(frozen=True)
class Source:
    """An article as a reader needs to find it."""

    article_id: str
    title: str
    source: str | None
    published_at: str | None
    url: str | None


@dataclass(frozen=True)
class Citation:
    """Numbered [n] in an answer: the passage and the exact span of the cited sentence in its article."""

    n: int
    article_id: str
    title: str
    source: str | None
    published_at: str | None
    url: str | None
    passage: str
    start: int  # cited sentence, character offsets into the article text
    end: int
    chunk_id: str = ""
    passage_start: int = 0  # the passage's own offsets into the article text
    sentence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(
        cls, n: int, article: Article, sentence: tuple[int, int], passage: tuple[int, int], chunk_id: str = ""
    ) -> Citation:
        """A citation of article.text[sentence] read within article.text[passage] (both offset pairs)."""
        return cls(
            n=n,
            article_id=article.id,
            title=article.title,
            source=article.source,
            published_at=article.published_at,
            url=article.url,
            passage=article.text[passage[0] : passage[1]],
            start=sentence[0],
            end=sentence[1],
            chunk_id=chunk_id,
            passage_start=passage[0],
            sentence=article.text[sentence[0] : sentence[1]],
        )


@dataclass
class AnswerSentence:
    text: str
    citations: list[int]
    supported: bool | None = None  # extractive quotes: True; generated: the claim check's verdict
    problems: list[str] = field(default_factory=list)  # why the claim check did not support it
    # The LLM cited nothing here and the claim check found the one retrieved passage that supports it.
    attributed: bool = False


@dataclass
class Answer:
    """A reply: sentences each carrying [n], the citations they resolve to, or a plain refusal."""

    question: str
    text: str
    refused: bool
    sentences: list[AnswerSentence]
    citations: list[Citation]
    mode: str = "extractive"
    retrieval_query: str = ""
    closest: list[Source] = field(default_factory=list)
    confidence: float = 0.0
    # Why it answered or refused: what the question asks for and the scores the refusal rules read.
    evidence: dict[str, Any] = field(default_factory=dict)
    notice: str | None = None  # what the reader should know: e.g. the LLM failed and these are quotes

    def to_dict(self) -> dict[str, Any]:
        """The documented `newsrag ask --json` object; extend it, never rename its keys."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "sentences": [asdict(s) for s in self.sentences],
            "citations": [
                {k: v for k, v in c.to_dict().items() if k not in {"passage_start"}} for c in self.citations
            ],
            "mode": self.mode,
            "retrieval_query": self.retrieval_query,
            "closest": [asdict(s) for s in self.closest],
            "confidence": round(self.confidence, 4),
            "evidence": self.evidence,
            "notice": self.notice,
        }


@dataclass
class Summary:
    """A cited summary of one article or of a topic across articles."""

    text: str
    sentences: list[AnswerSentence]
    citations: list[Citation]
    articles: list[Source]
    topic: str | None = None
    first_date: str | None = None
    last_date: str | None = None
    mode: str = "extractive"  # or "llm": written by an LLM, every sentence checked
    notice: str | None = None  # e.g. the LLM failed and this is the extractive summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "notice": self.notice,
            "topic": self.topic,
            "summary": self.text,
            "sentences": [asdict(s) for s in self.sentences],
            "citations": [c.to_dict() for c in self.citations],
            "articles": [asdict(a) for a in self.articles],
            "first_date": self.first_date,
            "last_date": self.last_date,
        }
