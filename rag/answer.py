"""The default answerer: picks the sentences of the retrieved passages that answer the question.

It never writes a word of its own: every answer sentence is a quote of an article sentence with
its exact offsets, so it cannot misquote or invent, and it needs no LLM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from llama_index.core.schema import NodeWithScore

from newsrag.index.articles import Article
from newsrag.rag.answerers import Answerer, AnswerRequest
from newsrag.rag.followup import carried_terms
from newsrag.rag.lexical import TermWeights
from newsrag.rag.sentences import SentenceSpan, SentenceSplitCache, SentenceVectors, split_sentences
from newsrag.rag.types import Answer, AnswerSentence, Citation, Embed, Source
from newsrag.rag.words import CAPITALISED, NUMBER, STOPWORDS, TIME_WORDS

if TYPE_CHECKING:
    from newsrag.rag.engine import NewsRAG

NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|old|long|far|tall|big|heavy|often)|what (percentage|age|number|year|amount))\b", re.I
)
NAME_QUESTION = re.compile(r"^\s*(who|whom|whose|which|what (is|was) the name)\b", re.I)
TIME_QUESTION = re.compile(r"^\s*(when|what (day|date|time|year|month))\b", re.I)


@dataclass(frozen=True)
class Weights:
    """How sentence scores are mixed, and when to refuse.

    `refuse_below` was set with `python -m newsrag.eval.scripts.calibrate` on data/eval/qa.jsonl
    (83 questions, 12 unanswerable): answer accuracy stays at 87.3% for thresholds up to 0.55,
    refusal precision/recall rise from 60/25% (no threshold) to 71/42% on the plateau 0.45-0.50
    (re-measured with QueryFusionRetriever fusion: at 0.55 precision now drops to 62.5%), and
    above 0.6 answerable questions start being refused. 0.5 is on the plateau.
    Questions whose form asks for a number, a time or a name are also refused when no chosen
    sentence offers one. Near-miss questions (the article is on topic but lacks the fact) are
    the ones this still answers with an on-topic quote.
    """

    similarity: float = 0.45
    coverage: float = 0.40
    rank: float = 0.10
    answer_type: float = 0.10
    redundancy: float = 0.80  # cosine above which a second sentence repeats the first
    keep_ratio: float = 0.85  # a further sentence must score this share of the best
    refuse_below: float = 0.50  # best score under which the articles are taken not to say
    embed_at_most: int = 24  # sentences embedded per question, the lexically most promising


@dataclass
class Candidate:
    article: Article
    span: SentenceSpan
    chunk: NodeWithScore
    rank: int
    previous: str = ""  # the sentence before, which often names who or what "he" or "it" is
    offers: bool = True  # holds the kind of thing the question asks for (see offers_answer_type)
    score: float = 0.0


def expected_answer_type(question: str) -> str | None:
    """What a question asks for, when its form says: a number, a time or a name."""
    if NUMBER_QUESTION.search(question):
        return "number"
    if TIME_QUESTION.search(question):
        return "time"
    if NAME_QUESTION.search(question):
        return "name"
    return None


def asked_words(question: str) -> set[str]:
    return {w.lower().strip(".,") for w in re.findall(r"[\w'\u2019,.-]+", question)}


def offers_answer_type(kind: str | None, asked: set[str], sentence: str) -> bool:
    """Whether the sentence holds something of the asked-for kind that the question (`asked`) does not say."""
    if kind is None:
        return True
    pattern = {"number": NUMBER, "time": TIME_WORDS, "name": CAPITALISED}[kind]
    for match in pattern.finditer(sentence):
        token = match.group(0).lower().strip(".,")
        if token not in asked and not (kind == "name" and token in STOPWORDS):
            return True
    return False


class ExtractiveAnswerer(Answerer):
    """Scores every sentence of the retrieved passages and quotes the best, each with its [n]."""

    name = "extractive"

    def __init__(
        self,
        embed: Embed,
        sentences: SentenceSplitCache | None = None,
        max_sentences: int = 3,
        weights: Weights | None = None,
    ) -> None:
        self.embed = embed
        self.sentences = sentences or SentenceSplitCache()
        self.vectors = SentenceVectors(embed)
        self.max_sentences = max_sentences
        self.weights = weights or Weights()

    @classmethod
    def from_engine(cls, engine: NewsRAG) -> ExtractiveAnswerer:
        return cls(engine.embedder.encode, engine.splits, engine.settings.answer_sentences)

    def answer(self, request: AnswerRequest) -> Answer:
        corpus = request.corpus
        return self.quote(
            request.question,
            request.retrieval_query,
            request.passages,
            corpus.terms,
            corpus.article,
            carried_terms(request.question, request.history),
            request.query_embedding,
        )

    def candidates(
        self, nodes: Sequence[NodeWithScore], article: Callable[[str], Article]
    ) -> list[Candidate]:
        """Whole sentences inside each retrieved chunk, with article offsets; each sentence once."""
        found: list[Candidate] = []
        seen: set[tuple[str, int]] = set()
        for rank, hit in enumerate(nodes):
            art = article(hit.node.ref_doc_id or "")
            lo, hi = chunk_bounds(hit, art)
            spans = self.sentences.get(art)
            for k, span in enumerate(spans):
                if span.start >= lo and span.end <= hi and (art.id, span.start) not in seen:
                    seen.add((art.id, span.start))
                    found.append(Candidate(art, span, hit, rank, spans[k - 1].text if k else ""))
        return found

    def score(
        self,
        question: str,
        candidates: list[Candidate],
        query_vector: np.ndarray,
        terms: TermWeights,
        context_terms: list[str] | None = None,
    ) -> tuple[list[Candidate], np.ndarray]:
        """Coverage of the question's key terms, retrieval rank and answer type first; similarity to the
        (condensed) question for the lexically most promising sentences, which alone are embedded."""
        w = self.weights
        kind, asked = expected_answer_type(question), asked_words(question)
        own = terms.stems(question)
        carried = [s for s in terms.stems(" ".join(context_terms or [])) if s not in own]
        for c in candidates:
            # A sentence may answer about a subject its predecessor names ("He was 88."): count those
            # terms at a discount.
            coverage = max(
                terms.coverage(own, c.span.text),
                0.8 * terms.coverage(own, c.previous + " " + c.span.text),
            )
            if carried:
                coverage = 0.8 * coverage + 0.2 * terms.coverage(carried, c.span.text + " " + c.article.title)
            c.offers = offers_answer_type(kind, asked, c.span.text)
            typed = kind is not None and c.offers
            c.score = w.coverage * coverage + w.rank / (1 + c.rank) + w.answer_type * typed
        shortlist = sorted(candidates, key=lambda c: -c.score)[: w.embed_at_most]
        vectors = self.vectors.get([c.span.text for c in shortlist])
        for c, sim in zip(shortlist, vectors @ query_vector, strict=True):
            c.score += w.similarity * float(sim)
        return shortlist, vectors

    def select(self, candidates: list[Candidate], vectors: np.ndarray, typed_question: bool) -> list[int]:
        """Best sentence first, then others close to it in score that do not repeat what is chosen.

        When the question asks for a kind of thing (a number, a time, a name), the first sentence
        is the best one that offers it, if that one scores within `keep_ratio` of the best overall.
        """
        order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        if typed_question and order:
            typed = [i for i in order if candidates[i].offers]
            if typed and candidates[typed[0]].score >= self.weights.keep_ratio * candidates[order[0]].score:
                order.remove(typed[0])
                order.insert(0, typed[0])
        chosen: list[int] = []
        for i in order:
            if len(chosen) == self.max_sentences:
                break
            if chosen and candidates[i].score < self.weights.keep_ratio * candidates[chosen[0]].score:
                break
            if any(float(vectors[i] @ vectors[j]) > self.weights.redundancy for j in chosen):
                continue
            chosen.append(i)
        return chosen

    def quote(
        self,
        question: str,
        retrieval_query: str,
        nodes: Sequence[NodeWithScore],
        terms: TermWeights,
        article: Callable[[str], Article],
        context_terms: list[str] | None = None,
        query_embedding: list[float] | None = None,
    ) -> Answer:
        """The answer from `nodes`: the best sentences quoted with their offsets, or a refusal."""
        candidates = self.candidates(nodes, article)
        if not candidates:
            return refusal(question, retrieval_query, [], 0.0, self.name)
        query_vector = np.asarray(
            query_embedding if query_embedding is not None else self.embed([retrieval_query])[0],
            dtype="float32",
        )
        candidates, vectors = self.score(question, candidates, query_vector, terms, context_terms)
        chosen = self.select(candidates, vectors, expected_answer_type(question) is not None)
        best = candidates[chosen[0]].score
        if best < self.weights.refuse_below or not any(candidates[i].offers for i in chosen):
            return refusal(question, retrieval_query, candidates, best, self.name)
        citations: list[Citation] = []
        sentences: list[AnswerSentence] = []
        for n, i in enumerate(chosen, 1):
            c = candidates[i]
            citations.append(citation(n, c))
            sentences.append(AnswerSentence(text=c.span.text, citations=[n], supported=None))
        text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
        return Answer(
            question, text, False, sentences, citations, self.name, retrieval_query, confidence=best
        )


def answer_from_reply(
    question: str,
    retrieval_query: str,
    reply: str,
    nodes: Sequence[NodeWithScore],
    article: Callable[[str], Article],
    mode: str,
) -> Answer:
    """Wrap a generated reply (an LLM answerer's): its [n] resolve to the retrieved passages in rank order.

    Those sentences are not quotes, so `supported` stays None until a claim check fills it in;
    a cited passage's start/end are the passage's own offsets.
    """
    citations = []
    for n, hit in enumerate(nodes, 1):
        art = article(hit.node.ref_doc_id or "")
        bounds = chunk_bounds(hit, art)
        citations.append(Citation.of(n, art, bounds, bounds, hit.node.node_id))
    sentences = []
    for span in split_sentences(reply):
        cited = [int(m) for m in re.findall(r"\[(\d+)\]", span.text) if 0 < int(m) <= len(citations)]
        sentences.append(AnswerSentence(span.text, cited, None))
    return Answer(question, reply.strip(), False, sentences, citations, mode, retrieval_query)


def chunk_bounds(hit: NodeWithScore, article: Article) -> tuple[int, int]:
    """A retrieved chunk's character offsets in its article."""
    node = hit.node
    return node.start_char_idx or 0, node.end_char_idx or len(article.text)  # type: ignore[attr-defined]


def citation(n: int, c: Candidate) -> Citation:
    return Citation.of(
        n, c.article, (c.span.start, c.span.end), chunk_bounds(c.chunk, c.article), c.chunk.node.node_id
    )


def source_of(article: Article) -> Source:
    return Source(article.id, article.title, article.source, article.published_at, article.url)


def refusal(
    question: str,
    retrieval_query: str,
    candidates: list[Candidate],
    confidence: float,
    mode: str = "extractive",
) -> Answer:
    """Say plainly that the articles don't answer, and name the closest ones instead of guessing."""
    closest: dict[str, Source] = {}
    for c in sorted(candidates, key=lambda c: -c.score):
        closest.setdefault(c.article.id, source_of(c.article))
    listed = list(closest.values())[:3]
    text = "The articles don't say. " + (
        "The closest articles are: "
        + "; ".join(f"“{s.title}” ({s.source or 'unknown source'})" for s in listed)
        + "."
        if listed
        else "No article in the index is close to this question."
    )
    return Answer(question, text, True, [], [], mode, retrieval_query, listed, confidence)
