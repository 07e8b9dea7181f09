"""The eval suites: each measures rag/ and index/ on a data set and returns plain figures.

newsrag.eval.registry names them; the run_* functions at the end are its entries.
"""

from __future__ import annotations

import functools
import logging
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from newsrag.eval.baselines import LlamaIndexBaseline, lead
from newsrag.eval.formats import HighlightQuery, QAItem, resolve_gold
from newsrag.eval.metrics import (
    answer_contains,
    citation_scores,
    detokenize_ptb,
    multihop_metrics,
    pearson,
    refusal_scores,
    retrieval_report,
    rouge_scores,
    spearman,
    unigram_precision,
)
from newsrag.eval.multihop import MultiHopQuery
from newsrag.eval.run_data import EvalData
from newsrag.index.articles import Article
from newsrag.rag.claims import ClaimChecker, with_likelihood
from newsrag.rag.engine import NewsRAG
from newsrag.rag.extractive_summary import select_summary
from newsrag.rag.lexical import TermWeights
from newsrag.rag.likelihood import LikelihoodCache, SourceLikelihood
from newsrag.rag.llms import LLMUnavailableError
from newsrag.rag.retrieve import article_ranking
from newsrag.rag.sentences import split_sentences
from newsrag.rag.support import SupportChecker

KS = (1, 2, 3, 4, 5, 10)

log = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    """Figures per system (rows) and anything a plot needs."""

    name: str
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class SuiteInputs:
    """What a run hands every suite: the engine over its index, its data, the indexed articles, the baselines."""

    engine: NewsRAG
    data: EvalData
    articles: dict[str, Article]
    baselines: list[LlamaIndexBaseline] = field(default_factory=list)
    cache_dir: Path | None = None  # where scores kept between runs go (the embedding cache's folder)


def timed(fn: Callable[..., SuiteResult]) -> Callable[..., SuiteResult]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> SuiteResult:
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        result.seconds = time.perf_counter() - started
        return result

    return wrapper


@timed
def retrieval_suite(
    engine: NewsRAG, queries: list[HighlightQuery], baselines: Sequence[LlamaIndexBaseline] = ()
) -> SuiteResult:
    """Known-item search: each highlight's gold is its article; rankings are cut at article level."""
    result = SuiteResult("retrieval")
    gold = [q.article_id for q in queries]
    vectors = engine.embedder.encode([q.query for q in queries]).tolist()
    systems = {
        "newsrag hybrid": dict(mode="hybrid"),
        "hybrid (RRF fusion)": dict(mode="hybrid", fusion="rrf", dense_weight=0.5),
        "BM25 only": dict(mode="bm25"),
        "dense only": dict(mode="dense"),
    }
    for name, options in systems.items():
        retriever = engine.retriever.with_options(**options)
        ranked = [
            article_ranking(retriever.ranked(q.query, v)) for q, v in zip(queries, vectors, strict=True)
        ]
        result.rows[name] = retrieval_report(ranked, gold, KS)
    for baseline in baselines:
        ranked = [article_ranking(baseline.retrieve(q.query, top_k=10)) for q in queries]
        result.rows[baseline.name] = retrieval_report(ranked, gold, KS)
    result.notes.append(f"{len(queries)} highlight queries over {len(set(gold))} articles")
    return result


@timed
def multihop_suite(engine: NewsRAG, queries: list[MultiHopQuery]) -> SuiteResult:
    """MultiHop-RAG's Hits@4/@10 and MRR@10 over retrieved chunk texts, its own relevance rule."""
    result = SuiteResult("multihop")
    for name, options in {
        "newsrag hybrid": {},
        "BM25 only": {"mode": "bm25"},
        "dense only": {"mode": "dense"},
    }.items():
        retriever = engine.retriever.with_options(top_k=10, per_article=10, **options)
        retrieved = [[h.node.get_content() for h in retriever.ranked(q.query)[:10]] for q in queries]
        result.rows[name] = multihop_metrics(retrieved, [q.facts for q in queries])
    result.notes.append(f"{len(queries)} queries with evidence (null queries skipped, as the benchmark does)")
    return result


# How the report names the two bundled QA sets: only the test set's figures are unbiased.
QA_SET_LABELS = {
    "dev": "dev (data/eval/qa.jsonl: used to tune weights and thresholds)",
    "test": "test (data/eval/qa_test.jsonl: held out, written before tuning)",
}


@timed
def qa_suite(
    engine: NewsRAG,
    items: list[QAItem],
    baselines: Sequence[LlamaIndexBaseline] = (),
    test_items: list[QAItem] | None = None,
) -> SuiteResult:
    """Answer accuracy, citation precision/recall, refusals; follow-ups get their history.

    With `test_items` (even empty) each non-empty set is measured and its rows are suffixed " · dev"
    or " · test" (the dev set tuned the answerer, so its figures overstate); without, rows keep plain names.
    """
    result = SuiteResult("qa")
    titles = {a.title: a.id for a in engine.catalog.articles()}
    sets = {"": items} if test_items is None else {"dev": items, "test": test_items}
    sets = {label: chosen for label, chosen in sets.items() if chosen}
    system = f"newsrag {engine.settings.answerer}"
    all_records: list[dict[str, Any]] = []
    for label, qa_items in sets.items():
        suffix = f" · {label}" if label else ""
        answerable = sum(i.answerable for i in qa_items)
        records = _qa_records(engine, qa_items, titles)
        for record in records:
            record["set"] = label or "qa"
        result.rows[system + suffix] = _qa_row(records, answerable)
        all_records += records
        if engine.settings.llm != "none":  # the same questions answered by the LLM, every sentence checked
            llm_records = _qa_records(engine, qa_items, titles, answerer="llm")
            result.rows[f"newsrag llm ({engine.settings.llm}){suffix}"] = {
                **_qa_row(llm_records, answerable),
                **_llm_figures(llm_records, answerable),
            }
        for baseline in baselines:
            result.rows[baseline.name + suffix] = _qa_row(
                _baseline_records(baseline, qa_items, titles), answerable
            )
        kinds = sorted({i.kind for i in qa_items})
        counts = ", ".join(f"{sum(i.kind == k for i in qa_items)} {k}" for k in kinds)
        result.notes.append(
            f"{QA_SET_LABELS[label] + ': ' if label else ''}{len(qa_items)} questions: {counts}"
        )
        if label == "test":
            result.notes.append(
                f"test answer accuracy by what it asks ({system}): " + _by_asks(qa_items, records)
            )
    result.extra["records"] = all_records
    return result


def _qa_records(
    engine: NewsRAG, items: list[QAItem], titles: dict[str, str], answerer: str | None = None
) -> list[dict[str, Any]]:
    records = []
    for item in items:
        # A follow-up is asked as the chat asks it: after its earlier turns, of the same engine.
        for k, turn in enumerate(item.history):
            engine.ask(turn, item.history[:k], answerer=answerer)
        answer = engine.ask(item.question, item.history, answerer=answerer)
        reply = " ".join(s.text for s in answer.sentences)
        gold = resolve_gold(item.article, titles)
        cites = (
            citation_scores([c.passage for c in answer.citations], item.answers) if item.answerable else None
        )
        records.append(
            {
                "id": item.id,
                "kind": item.kind,
                "asks": item.asks,
                "correct": bool(
                    item.answerable and not answer.refused and answer_contains(reply, item.answers)
                ),
                "refused": answer.refused,
                "unanswerable": not item.answerable,
                "cited_gold": any(c.article_id == gold for c in answer.citations),
                "citation_precision": cites.precision if cites and answer.citations else None,
                "citation_recall": cites.recall if cites else None,
                "answer": answer.text,
                "mode": answer.mode,
                "flagged": sum(s.supported is False for s in answer.sentences),
                "attributed": sum(s.attributed for s in answer.sentences),
                "sentences": len(answer.sentences),
                "correct_after_drop": bool(
                    item.answerable
                    and not answer.refused
                    and answer_contains(
                        " ".join(s.text for s in answer.sentences if s.supported), item.answers
                    )
                ),
            }
        )
    return records


def _llm_figures(records: list[dict[str, Any]], answerable: int) -> dict[str, float]:
    """What the claim check did to the LLM's answers: flagged sentences, sentences the LLM left uncited
    that the check gave the passage supporting them, accuracy without the flagged ones, fallbacks."""
    written = [r for r in records if r["mode"] == "llm"]
    sentences = sum(r["sentences"] for r in written)
    return {
        "sentences flagged": sum(r["flagged"] for r in written) / max(sentences, 1),
        "cited by the check": sum(r["attributed"] for r in written) / max(sentences, 1),
        "accuracy, flagged dropped": sum(r["correct_after_drop"] for r in records) / max(answerable, 1),
        "fell back to quotes": sum(r["mode"] != "llm" and not r["refused"] for r in records)
        / max(len(records), 1),
    }


def _baseline_records(
    baseline: LlamaIndexBaseline, items: list[QAItem], titles: dict[str, str]
) -> list[dict[str, Any]]:
    records = []
    for item in items:
        reply = baseline.answer(
            item.question if not item.history else f"{' '.join(item.history)} {item.question}"
        )
        cites = (
            citation_scores(reply.cited_passages, item.answers) if item.answerable and reply.text else None
        )
        records.append(
            {
                "kind": item.kind,
                "correct": bool(item.answerable and answer_contains(reply.text, item.answers)),
                "refused": False,
                "unanswerable": not item.answerable,
                "cited_gold": resolve_gold(item.article, titles) in reply.cited_articles,
                "citation_precision": cites.precision if cites else None,
                "citation_recall": cites.recall if cites else None,
            }
        )
    return records


def _by_asks(items: list[QAItem], records: list[dict[str, Any]]) -> str:
    """'person 80% (30), number 60% (25), ...' over the answerable items, unanswerable ones as refusals."""
    parts = []
    for asks in sorted({i.asks or "?" for i in items if i.answerable}):
        mine = [r for i, r in zip(items, records, strict=True) if i.answerable and (i.asks or "?") == asks]
        parts.append(f"{asks} {100 * sum(r['correct'] for r in mine) / len(mine):.0f}% ({len(mine)})")
    unanswerable = [r for r in records if r["unanswerable"]]
    if unanswerable:
        refused = sum(r["refused"] for r in unanswerable)
        parts.append(f"unanswerable refused {100 * refused / len(unanswerable):.0f}% ({len(unanswerable)})")
    return ", ".join(parts)


def _qa_row(records: list[dict[str, Any]], answerable: int) -> dict[str, float]:
    refusals = refusal_scores([(r["refused"], r["unanswerable"]) for r in records])
    precisions = [r["citation_precision"] for r in records if r["citation_precision"] is not None]
    recalls = [r["citation_recall"] for r in records if r["citation_recall"] is not None]
    followups = [r for r in records if r["kind"] == "followup"]
    return {
        "answer accuracy": sum(r["correct"] for r in records) / max(answerable, 1),
        "follow-up accuracy": sum(r["correct"] for r in followups) / max(len(followups), 1),
        "gold article cited": sum(r["cited_gold"] for r in records if not r["unanswerable"])
        / max(answerable, 1),
        "citation precision": statistics.fmean(precisions) if precisions else 0.0,
        "citation recall": statistics.fmean(recalls) if recalls else 0.0,
        "refusal precision": refusals.precision,
        "refusal recall": refusals.recall,
    }


@timed
def summary_suite(
    engine: NewsRAG,
    articles: dict[str, Any],
    highlights: dict[str, list[str]],
    peers: dict[str, dict[str, str]],
    ids: list[str] | None = None,
    label: str = "",
) -> SuiteResult:
    """ROUGE against the journalists' highlights for both our selections, Lead-3 and the published systems,
    on `ids` (bundled: the held-out half) or every article with highlights."""
    result = SuiteResult("summaries")
    ids = [i for i in (ids or highlights) if i in articles and i in highlights]
    refs = [highlights[i] for i in ids]
    default = engine.settings.summary_method
    for method in ("lead", "centrality"):
        picks = [
            [
                s.text
                for s in select_summary(
                    articles[i].text, articles[i].title, engine.embedder.encode, 3, method
                )
            ]
            for i in ids
        ]
        mark = " (default)" if method == default else ""
        result.rows[f"newsrag {method}{mark}"] = rouge_scores(picks, refs)
    lead3 = [[s.text for s in lead(articles[i].text)] for i in ids]
    result.rows["Lead-3"] = rouge_scores(lead3, refs)
    names = {
        "bart": "BART",
        "bert_sum": "BertSum",
        "bus": "BottomUp",
        "pgn": "Pointer-Generator",
        "s2s": "Seq2Seq",
    }
    for key, label_ in names.items():
        have = [i for i in ids if i in peers and key in peers[i]]
        if have:
            preds = [[detokenize_ptb(s) for s in _peer_sentences(peers[i][key])] for i in have]
            result.rows[f"{label_} (published)"] = rouge_scores(preds, [highlights[i] for i in have])
    result.notes.append(
        f"{len(ids)} articles{' (' + label + ')' if label else ''}; ROUGE F1 x100, stemmed, "
        "rougeLsum with one sentence per line"
    )
    return result


def _peer_sentences(text: str) -> list[str]:
    """Peer summaries are tokenised: sentences end with ' .'."""
    return [s.strip() for s in re.split(r"(?<=\s[.!?])\s+", text) if s.strip()]


@timed
def faithfulness_suite(
    engine: NewsRAG,
    articles: dict[str, Any],
    peers: dict[str, dict[str, str]],
    judgements: list[dict[str, Any]],
    likelihood: tuple[SourceLikelihood, LikelihoodCache] | None = None,
) -> SuiteResult:
    """Claim-support scores of peer summaries against their articles vs FRANK's human factuality.

    With `likelihood` (a language model and its score cache) a second row adds how expected each
    sentence is to the model after the article (rag/likelihood.py).
    """
    result = SuiteResult("faithfulness")
    checker = SupportChecker(engine.embedder.encode)
    # Word pairs weigh by IDF across the articles, as in the tuning script that fitted the weights.
    claims = ClaimChecker(
        engine.embedder.encode, checker, TermWeights.of_texts(a.text for a in articles.values()).idf
    )
    test = [
        j for j in judgements if j.get("split", "test") == "test" and j["id"] in articles and j["id"] in peers
    ]
    human = [float(j["factuality"]) for j in test]
    ours, baseline = [], []
    by_article: dict[str, list[dict[str, Any]]] = {}
    for j in test:
        by_article.setdefault(j["id"], []).append(j)
    scores: dict[tuple[str, str], float] = {}
    with_model: dict[tuple[str, str], float] = {}
    support_only: dict[tuple[str, str], float] = {}
    for article_id, rows in by_article.items():
        text = articles[article_id].text
        source = [s.text for s in split_sentences(text)] or [text]
        vectors = engine.embedder.encode(source)
        for j in rows:
            sentences = [detokenize_ptb(s) for s in _peer_sentences(peers[article_id][j["system"]])]
            key = (article_id, j["system"])
            checks = [checker.check(s, text, vectors) for s in sentences]
            support_only[key] = float(np.mean([c.score for c in checks])) if checks else 0.0
            faithful = [claims.faithfulness(s, text, source, vectors) for s in sentences]
            scores[key] = float(np.mean(faithful)) if faithful else 0.0
            if likelihood is not None:
                expected = likelihood[1].read(likelihood[0], text, sentences)
                both = [with_likelihood(f, lp) for f, lp in zip(faithful, expected, strict=True)]
                with_model[key] = float(np.mean(both)) if both else 0.0
    support_row = [support_only[(j["id"], j["system"])] for j in test]
    for j in test:
        ours.append(scores[(j["id"], j["system"])])
        baseline.append(
            unigram_precision(detokenize_ptb(peers[j["id"]][j["system"]]), articles[j["id"]].text)
        )
    result.rows["newsrag claim check"] = {"pearson": pearson(ours, human), "spearman": spearman(ours, human)}
    if likelihood is not None:
        model_row = [with_model[(j["id"], j["system"])] for j in test]
        result.rows[f"newsrag claim check + likelihood ({likelihood[0].name})"] = {
            "pearson": pearson(model_row, human),
            "spearman": spearman(model_row, human),
        }
    result.rows["support score alone"] = {
        "pearson": pearson(support_row, human),
        "spearman": spearman(support_row, human),
    }
    result.rows["unigram precision (baseline)"] = {
        "pearson": pearson(baseline, human),
        "spearman": spearman(baseline, human),
    }
    result.notes.append(
        f"{len(test)} summaries (FRANK test split) scored against human factuality; the claim check's "
        "weights were fitted on the 375 validation judgements"
    )
    if likelihood is not None:
        cache = likelihood[1]
        result.notes.append(
            "likelihood: each sentence's mean token log-probability after its article, read by "
            f"{likelihood[0].name} through llama-cpp-python ({cache.hits} summaries from the cache, "
            f"{cache.misses} read)"
        )
    else:
        result.notes.append("the likelihood row needs the llama-cpp extra (pip install 'newsrag[llama-cpp]')")
    return result


@timed
def latency_suite(engine: NewsRAG, items: list[QAItem], repeats: int = 1) -> SuiteResult:
    """Warm p50/p95 of retrieval alone and of a full answer, in milliseconds."""
    result = SuiteResult("latency")
    engine.ask(items[0].question)  # warm the caches and the model
    retrieval, answers = [], []
    for _ in range(repeats):
        for item in items:
            started = time.perf_counter()
            engine.retrieve(item.question)
            retrieval.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            engine.ask(item.question, item.history)
            answers.append((time.perf_counter() - started) * 1000)
    for name, samples in (("retrieval", retrieval), ("full answer", answers)):
        result.rows[name] = {
            "p50 ms": float(np.percentile(samples, 50)),
            "p95 ms": float(np.percentile(samples, 95)),
            "mean ms": float(np.mean(samples)),
        }
    result.extra = {"retrieval_ms": retrieval, "answer_ms": answers}
    result.notes.append(f"{len(answers)} questions, warm, one process")
    return result


# --- The registry's entries: each picks its suite's inputs from the run ---------------------


def run_retrieval(run: SuiteInputs) -> SuiteResult:
    queries = [HighlightQuery(h, i) for i, hs in run.data.highlights.items() if i in run.articles for h in hs]
    return retrieval_suite(run.engine, queries, run.baselines)


def run_multihop(run: SuiteInputs) -> SuiteResult:
    assert run.data.multihop is not None
    return multihop_suite(run.engine, run.data.multihop.retrieval_queries())


def run_qa(run: SuiteInputs) -> SuiteResult:
    data = run.data
    if not data.qa_test:
        return qa_suite(run.engine, data.qa, run.baselines)
    dev = data.qa if "dev" in data.qa_sets else []
    return qa_suite(run.engine, dev, run.baselines, data.qa_test if "test" in data.qa_sets else [])


def run_summaries(run: SuiteInputs) -> SuiteResult:
    data = run.data
    return summary_suite(
        run.engine, run.articles, data.highlights, data.peers, data.summary_ids, data.summary_label
    )


def run_faithfulness(run: SuiteInputs) -> SuiteResult:
    likelihood = None
    try:
        scorer = SourceLikelihood()
    except LLMUnavailableError as exc:  # the optional llama-cpp extra, or its bundled model, is missing
        log.info("faithfulness without the likelihood row: %s", exc)
    else:
        cache_dir = run.cache_dir or run.engine.settings.index_dir.parent
        likelihood = (scorer, LikelihoodCache(cache_dir / f"{scorer.name}-likelihood.json"))
    try:
        return faithfulness_suite(run.engine, run.articles, run.data.peers, run.data.judgements, likelihood)
    finally:
        if likelihood is not None:
            likelihood[1].save()


def run_latency(run: SuiteInputs) -> SuiteResult:
    # A fresh engine on the same index: the run's engine holds the vectors of every sentence the qa
    # suite quoted, and would answer those questions again from them (37 ms p50 instead of 162).
    return latency_suite(NewsRAG(run.engine.settings, run.engine.embedder), run.data.qa)
