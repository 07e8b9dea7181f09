"""The default answerer: picks the sentences of the retrieved passages that answer the question.

It never writes a word of its own: every answer sentence is a quote of an article sentence with
its exact offsets, so it cannot misquote or invent, and it needs no LLM.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.schema import NodeWithScore

from newsrag.index.articles import Article
from newsrag.rag.answer_types import Asked, asked_for, named_in, offered_items
from newsrag.rag.answerers import Answerer, AnswerRequest
from newsrag.rag.followup import carried_terms, needs_context
from newsrag.rag.lexical import TermWeights
from newsrag.rag.sentences import SentenceSpan, SentenceSplitCache, SentenceVectors, split_sentences
from newsrag.rag.types import Answer, AnswerSentence, Citation, Embed, Source

if TYPE_CHECKING:
    from newsrag.rag.engine import NewsRAG


# Kinds whose absence from every good sentence means the articles do not say. Quoted words and reasons
# are often reported without quotation marks or a causal word, so their absence proves less.
TYPED_REFUSALS = frozenset({"person", "organisation", "place", "number", "date", "thing"})


@dataclass(frozen=True)
class Weights:
    """How sentence scores are mixed, and when to refuse; fitted on the dev set (data/eval/qa.jsonl) only.

    Refusal takes three kinds of evidence, each enough on its own:
    - the best sentence scores under `refuse_below` (a weak match overall);
    - the question asks for a kind of item (a person, a sum of money, a date...: answer_types) and no
      sentence offering one scores `refuse_typed_below` (the articles are on topic, the fact absent);
    - the sentence quoted first holds under `refuse_focus_below` of the question's words other than its
      names (it is about the people asked about, not about what was asked of them).
    `answer_type` and `typed_ratio` were chosen from a 3x3 grid (0.1-0.5, 0.55-0.85) by dev answer
    accuracy with refusals off (110 of 115 at 0.4/0.85); the thresholds by dev accuracy plus refusal F1,
    with `python -m newsrag.eval.scripts.calibrate` (dev: 87.0% answered right, refusals 73%/62% P/R).
    """

    similarity: float = 0.45
    coverage: float = 0.40
    rank: float = 0.10
    answer_type: float = 0.40
    same_article: float = 0.10  # a follow-up's sentence from the article the previous answer quoted
    redundancy: float = 0.80  # cosine above which a second sentence repeats the first
    keep_ratio: float = 0.85  # a further sentence must score this share of the best
    typed_ratio: float = (
        0.85  # the best sentence offering the asked-for kind goes first if it scores this share
    )
    refuse_below: float = 0.50  # best score under which the articles are taken not to say
    refuse_typed_below: float = 0.90  # best score of a sentence offering the asked-for kind
    refuse_focus_below: float = 0.30  # share of the question's words besides its names the first quote holds
    embed_at_most: int = 24  # sentences embedded per question, the lexically most promising
    typed_at_most: int = 6  # sentences offering the asked-for kind embedded beyond those
    expand_articles: int = 2  # best articles whose sentences outside the retrieved chunks are candidates too


@dataclass
class Candidate:
    article: Article
    span: SentenceSpan
    chunk: NodeWithScore
    rank: int
    previous: str = ""  # the sentence before, which often names who or what "he" or "it" is
    items: list[str] = field(default_factory=list)  # what it offers of the asked-for kind (answer_types)
    passage: tuple[int, int] | None = None  # cited context when the sentence lies outside the retrieved chunk
    offers: bool = True  # it holds an item of the asked-for kind, or the question asks for none
    score: float = 0.0
    focus: float = (
        0.0  # share of the question's words other than its names that it (or its predecessor) holds
    )


def asked_words(question: str) -> set[str]:
    return {w.lower().strip(".,?!'\u2019\"") for w in re.findall(r"[\w'\u2019,.-]+", question)}


class RecentAnswers:
    """The last answers by question and its last turns: a follow-up reads the entities its previous turn
    answered with (the chat asked that turn of this engine moments before)."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._answers: OrderedDict[tuple[str, tuple[str, ...]], Answer] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(question: str, history: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        return question.strip(), tuple(h.strip() for h in history[-2:])

    def put(self, question: str, history: Sequence[str], answer: Answer) -> None:
        with self._lock:
            self._answers[self.key(question, history)] = answer
            while len(self._answers) > self.maxsize:
                self._answers.popitem(last=False)

    def previous(self, history: Sequence[str]) -> Answer | None:
        """The answer given to the last turn of `history`, when this engine gave it."""
        if not history:
            return None
        with self._lock:
            return self._answers.get(self.key(history[-1], history[:-1]))


@dataclass(frozen=True)
class Context:
    """What a follow-up carries from earlier turns: their key terms, the previous answer's names and articles."""

    terms: list[str] = field(default_factory=list)
    articles: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()  # said before: an item named there is not the new answer


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
        self.recent = RecentAnswers()
        # Answers an earlier turn (question, its history) when RecentAnswers does not hold it.
        self.recall: Callable[[str, list[str]], Answer] | None = None

    @classmethod
    def from_engine(cls, engine: NewsRAG) -> ExtractiveAnswerer:
        answerer = cls(engine.embedder.encode, engine.splits, engine.settings.answer_sentences)
        answerer.recall = lambda question, history: engine.ask(question, history, answerer=cls.name)
        return answerer

    def context(self, question: str, history: list[str]) -> Context:
        """Earlier turns' key terms and, when this engine answered the last one, the names it answered with."""
        terms = carried_terms(question, history)
        if not history or (not terms and not needs_context(question)):
            return Context()
        previous = self.recent.previous(history)
        if previous is None and self.recall is not None:
            # Not answered by this engine yet (another process, an API call with its history): answer
            # it now, so a follow-up's answer depends on its conversation only, never on what was asked before.
            previous = self.recall(history[-1], history[:-1])
        if previous is None or previous.refused:
            return Context(terms, words=frozenset(asked_words(" ".join(history))))
        said = asked_words(" ".join(history))
        answered = previous.evidence.get("items") or [
            n for s in previous.sentences[:1] for n in named_in(s.text)
        ]
        names = [n for n in answered if n.lower() not in said]
        words = frozenset(said | asked_words(" ".join(names)))
        articles = frozenset(c.article_id for c in previous.citations[:1])
        return Context(list(dict.fromkeys(terms + names[:3])), articles, words)

    def condense(self, question: str, history: list[str]) -> str:
        """The question, plus the earlier turns' key terms and the previous answer's names when it leans on them."""
        return f"{question} {' '.join(self.context(question, history).terms)}".strip()

    def answer(self, request: AnswerRequest) -> Answer:
        corpus = request.corpus
        found = self.quote(
            request.question,
            request.retrieval_query,
            request.passages,
            corpus.terms,
            corpus.article,
            self.context(request.question, request.history),
            request.query_embedding,
        )
        self.recent.put(request.question, request.history, found)
        return found

    def candidates(
        self, nodes: Sequence[NodeWithScore], article: Callable[[str], Article]
    ) -> list[Candidate]:
        """Whole sentences inside each retrieved chunk, with article offsets; each sentence once. The rest
        of the `expand_articles` best articles follow at the lowest rank: the fact asked for is often a few
        sentences from the passage that matched the question's words."""
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
        best_hits = list({h.node.ref_doc_id: h for h in reversed(nodes)}.values())[::-1]
        for hit in best_hits[: self.weights.expand_articles]:
            art = article(hit.node.ref_doc_id or "")
            spans = self.sentences.get(art)
            for k, span in enumerate(spans):
                if (art.id, span.start) not in seen:
                    seen.add((art.id, span.start))
                    previous = spans[k - 1].text if k else ""
                    found.append(
                        Candidate(art, span, hit, len(nodes), previous, passage=neighbourhood(spans, k))
                    )
        return found

    def score(
        self,
        question: str,
        candidates: list[Candidate],
        query_vector: np.ndarray,
        terms: TermWeights,
        context: Context | None = None,
    ) -> tuple[list[Candidate], np.ndarray]:
        """Coverage of the question's key terms, retrieval rank and answer type first; similarity to the
        (condensed) question for the lexically most promising sentences, which alone are embedded."""
        w = self.weights
        context = context or Context()
        asked, words = asked_for(question), asked_words(question)
        own = terms.stems(question)
        names = {w.lower() for n in named_in(question, common=terms.common_words) for w in n.split()}
        focus = terms.stems(" ".join(w for w in question.split() if w.lower().strip("?,.'’s") not in names))
        carried = [s for s in terms.stems(" ".join(context.terms)) if s not in own]
        for c in candidates:
            c.focus = terms.coverage(focus, c.previous + " " + c.span.text) if focus else 1.0
            # A sentence may answer about a subject its predecessor names ("He was 88."): count those
            # terms at a discount.
            coverage = max(
                terms.coverage(own, c.span.text),
                0.8 * terms.coverage(own, c.previous + " " + c.span.text),
            )
            if carried:
                coverage = 0.8 * coverage + 0.2 * terms.coverage(carried, c.span.text + " " + c.article.title)
            said = words | context.words
            c.items = offered_items(asked, c.span.text, said, terms.common_words) if asked else []
            if asked and asked.head and asked.head not in (c.previous + " " + c.span.text).lower():
                c.items = []  # "which resort": a place in a sentence that never says resort is another place
            c.offers = asked is None or bool(c.items)
            c.score = (
                w.coverage * coverage
                + w.rank / (1 + c.rank)
                + w.answer_type * (asked is not None and c.offers)
                + w.same_article * (c.article.id in context.articles)
            )
        ranked = sorted(candidates, key=lambda c: -c.score)
        shortlist = ranked[: w.embed_at_most]
        if asked is not None:  # the best few offering the asked-for kind are weighed too, wherever they rank
            offering = [c for c in ranked[w.embed_at_most :] if c.offers][: w.typed_at_most]
            shortlist += offering
        vectors = self.vectors.get([c.span.text for c in shortlist])
        for c, sim in zip(shortlist, vectors @ query_vector, strict=True):
            c.score += w.similarity * float(sim)
        return shortlist, vectors

    def select(self, candidates: list[Candidate], vectors: np.ndarray, typed_question: bool) -> list[int]:
        """Best sentence first, then others close to it in score that do not repeat what is chosen.

        When the question asks for a kind of thing (a number, a time, a name), the first sentence
        is the best one that offers it, if that one scores within `typed_ratio` of the best overall.
        """
        order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        if typed_question and order:
            typed = [i for i in order if candidates[i].offers]
            if typed and candidates[typed[0]].score >= self.weights.typed_ratio * candidates[order[0]].score:
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

    def evidence(
        self, question: str, asked: Asked | None, candidates: list[Candidate], chosen: list[int]
    ) -> dict[str, Any]:
        """The figures the refusal rules read (see Weights), rounded for the `--json` answer."""
        best = candidates[chosen[0]]
        found: dict[str, Any] = {"asked": asked.kind if asked else None, "best": round(best.score, 4)}
        if asked is not None and asked.kind in TYPED_REFUSALS:
            found["unit"] = asked.unit
            typed = [c.score for c in candidates if c.offers]
            chosen_offers = any(candidates[i].offers for i in chosen)
            found["typed"] = round(max(typed), 4) if typed and chosen_offers else 0.0
            found["items"] = best.items[:3]
        found["focus"] = round(best.focus, 4)
        return found

    def refuses(self, evidence: dict[str, Any]) -> bool:
        """Whether the evidence says the articles do not hold the answer (see Weights)."""
        w = self.weights
        return (
            evidence["best"] < w.refuse_below
            or evidence.get("typed", 1.0) < w.refuse_typed_below
            or evidence["focus"] < w.refuse_focus_below
        )

    def quote(
        self,
        question: str,
        retrieval_query: str,
        nodes: Sequence[NodeWithScore],
        terms: TermWeights,
        article: Callable[[str], Article],
        context: Context | None = None,
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
        asked = asked_for(question)
        candidates, vectors = self.score(question, candidates, query_vector, terms, context)
        chosen = self.select(candidates, vectors, asked is not None)
        best = candidates[chosen[0]].score
        evidence = self.evidence(question, asked, candidates, chosen)
        if self.refuses(evidence):
            return refusal(question, retrieval_query, candidates, best, self.name, evidence)
        citations: list[Citation] = []
        sentences: list[AnswerSentence] = []
        for n, i in enumerate(chosen, 1):
            c = candidates[i]
            citations.append(citation(n, c))
            sentences.append(AnswerSentence(text=c.span.text, citations=[n], supported=True))  # a quote
        text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
        return Answer(
            question,
            text,
            False,
            sentences,
            citations,
            self.name,
            retrieval_query,
            confidence=best,
            evidence=evidence,
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
    if c.passage is not None:  # outside the retrieved chunk: cite the sentence with its neighbours
        return Citation.of(n, c.article, (c.span.start, c.span.end), c.passage)
    return Citation.of(
        n, c.article, (c.span.start, c.span.end), chunk_bounds(c.chunk, c.article), c.chunk.node.node_id
    )


def neighbourhood(spans: Sequence[SentenceSpan], k: int) -> tuple[int, int]:
    """Offsets of sentence k with the sentences either side."""
    return spans[max(k - 1, 0)].start, spans[min(k + 1, len(spans) - 1)].end


def source_of(article: Article) -> Source:
    return Source(article.id, article.title, article.source, article.published_at, article.url)


def refusal(
    question: str,
    retrieval_query: str,
    candidates: list[Candidate],
    confidence: float,
    mode: str = "extractive",
    evidence: dict[str, Any] | None = None,
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
    return Answer(question, text, True, [], [], mode, retrieval_query, listed, confidence, evidence or {})
