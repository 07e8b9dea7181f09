"""Pure metric functions for retrieval, answers, citations, refusals, summaries and MultiHop-RAG; no models."""

from __future__ import annotations

import math
import re
import string
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

# ---------------------------------------------------------------------------
# Retrieval at article level (single gold article per query)
# ---------------------------------------------------------------------------


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Keep each article's first occurrence, so several chunks of one article count as one rank."""
    seen: set[str] = set()
    out: list[str] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def gold_rank(ranked: Sequence[str], gold: str) -> int | None:
    """1-based rank of the gold article after de-duplication, None when it was not retrieved."""
    deduped = dedupe(ranked)
    return deduped.index(gold) + 1 if gold in deduped else None


def recall_at_k(ranked: Sequence[str], gold: str, k: int) -> float:
    """1 if the single gold article is in the top k, so the mean over queries is recall@k."""
    rank = gold_rank(ranked, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def mrr_at_k(ranked: Sequence[str], gold: str, k: int) -> float:
    """Reciprocal rank of the gold article, 0 beyond k, so the mean over queries is MRR@k."""
    rank = gold_rank(ranked, gold)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at_k(ranked: Sequence[str], gold: str, k: int) -> float:
    """Binary-relevance nDCG with one gold article: ideal DCG is 1, so it is 1/log2(rank+1)."""
    rank = gold_rank(ranked, gold)
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


def retrieval_report(
    ranked: list[list[str]], gold: list[str], ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float]:
    """Mean recall@k for every k plus MRR and nDCG at the largest k, the numbers the eval report shows."""
    if len(ranked) != len(gold):
        raise ValueError(f"{len(ranked)} rankings but {len(gold)} gold articles: pass one ranking per query")
    if not gold:
        raise ValueError("no queries to score")
    if not ks:
        raise ValueError("ks is empty: pass cut-offs such as (1, 5, 10)")
    n = len(gold)
    top = max(ks)
    report = {
        f"recall@{k}": sum(recall_at_k(r, g, k) for r, g in zip(ranked, gold, strict=True)) / n for k in ks
    }
    report[f"mrr@{top}"] = sum(mrr_at_k(r, g, top) for r, g in zip(ranked, gold, strict=True)) / n
    report[f"ndcg@{top}"] = sum(ndcg_at_k(r, g, top) for r, g in zip(ranked, gold, strict=True)) / n
    return report


# ---------------------------------------------------------------------------
# Answer text normalisation
# ---------------------------------------------------------------------------

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_DECIMAL_MARK = "\x00"


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch)[0] in "PS"


def normalize_answer(text: str) -> str:
    """Make '£2,000', 'the 2000' and "2000 " compare equal, so answer matching ignores surface form."""
    s = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    s = _THOUSANDS.sub("", s)
    s = _DECIMAL.sub(_DECIMAL_MARK, s)  # keep 1.2 distinct from 12
    s = s.replace("'", "")  # don't -> dont, locke's -> lockes
    s = "".join(" " if _is_punct(ch) else ch for ch in s)
    s = s.replace(_DECIMAL_MARK, ".")
    s = _DIGIT_LETTER.sub(" ", s)  # 330million -> 330 million, 20lb -> 20 lb
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def answer_contains(reply: str, answers: Sequence[str]) -> bool:
    """True when any accepted answer occurs in the reply as whole tokens (so '30' does not match '1930')."""
    haystack = f" {normalize_answer(reply)} "
    for answer in answers:
        needle = normalize_answer(answer)
        if needle and f" {needle} " in haystack:
            return True
    return False


# ---------------------------------------------------------------------------
# Citations and refusals
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationScore:
    """How well one reply's citations support an accepted answer."""

    precision: float  # fraction of cited passages containing an accepted answer; 0 with no citations
    recall: float  # 1 if any cited passage contains an accepted answer, else 0
    cited: int
    supporting: int


def citation_scores(cited_texts: Sequence[str], answers: Sequence[str]) -> CitationScore:
    """Score one reply's cited passages against the accepted answers, since a cited claim must be backed."""
    supporting = sum(1 for text in cited_texts if answer_contains(text, answers))
    cited = len(cited_texts)
    return CitationScore(
        precision=supporting / cited if cited else 0.0,
        recall=1.0 if supporting else 0.0,
        cited=cited,
        supporting=supporting,
    )


@dataclass(frozen=True)
class RefusalScore:
    """Whether the system refuses exactly the questions the corpus cannot answer."""

    precision: float  # correct refusals / refusals; 0 when nothing was refused
    recall: float  # correct refusals / unanswerable questions; 0 when none were unanswerable
    f1: float
    refused: int
    unanswerable: int
    correct: int


def refusal_scores(outcomes: Sequence[tuple[bool, bool]]) -> RefusalScore:
    """Precision/recall of refusals from (refused, unanswerable) pairs, one per question."""
    refused = sum(1 for r, _ in outcomes if r)
    unanswerable = sum(1 for _, u in outcomes if u)
    correct = sum(1 for r, u in outcomes if r and u)
    precision = correct / refused if refused else 0.0
    recall = correct / unanswerable if unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RefusalScore(precision, recall, f1, refused, unanswerable, correct)


# ---------------------------------------------------------------------------
# Summaries: ROUGE, PTB detokenisation, correlation, claim-support baseline
# ---------------------------------------------------------------------------

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")


def rouge_scores(predictions: list[list[str]], references: list[list[str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/Lsum F1 x100 with stemming; sentences joined by newlines, as rougeLsum needs."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no summaries to score")
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:  # optional eval dependency
        raise ImportError("rouge-score is not installed: pip install 'newsrag[eval]'") from exc
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score("\n".join(ref), "\n".join(pred))  # score(target, prediction)
        for key in ROUGE_TYPES:
            totals[key] += scores[key].fmeasure
    return {key: 100.0 * total / len(predictions) for key, total in totals.items()}


_PTB_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_PTB_BRACKET_RE = re.compile("|".join(map(re.escape, _PTB_BRACKETS)), re.IGNORECASE)
_PTB_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"``\s*"), '"'),
    (re.compile(r"\s*''"), '"'),
    (re.compile(r"(\w) n't\b", re.IGNORECASE), r"\1n't"),
    (re.compile(r" '(s|re|ve|ll|d|m)\b", re.IGNORECASE), r"'\1"),
    (re.compile(r"([(\[{$#]) "), r"\1"),
    (re.compile(r" ([)\]}.,;:?!%])"), r"\1"),
]


def detokenize_ptb(s: str) -> str:
    """Undo CNN/DM's PTB tokenisation ("locke 's" -> "locke's"), so ROUGE and matching see normal text."""
    s = _PTB_BRACKET_RE.sub(lambda m: _PTB_BRACKETS[m.group(0).lower()], s)
    for pattern, repl in _PTB_RULES:
        s = pattern.sub(repl, s)
    return " ".join(s.split())


def _paired(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"lists differ in length: {len(x)} vs {len(y)}")
    if len(x) < 2:
        raise ValueError("correlation needs at least two pairs")


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson r of paired scores; nan when either list is constant."""
    _paired(x, y)
    from scipy.stats import pearsonr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pearsonr(x, y).statistic)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rho of paired scores, robust to a metric's non-linear scale; nan when either is constant."""
    _paired(x, y)
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(x, y).statistic)


_WORD = re.compile(r"[^\W_]+")


def _word_tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower())


def unigram_precision(summary: str, article: str) -> float:
    """Share of summary words found in the article: the trivial claim-support baseline to beat."""
    tokens = _word_tokens(summary)
    if not tokens:
        return 0.0
    vocab = set(_word_tokens(article))
    return sum(1 for t in tokens if t in vocab) / len(tokens)


# ---------------------------------------------------------------------------
# MultiHop-RAG retrieval metrics
# ---------------------------------------------------------------------------
# Reproduces calculate_metrics() in retrieval_evaluate.py of github.com/yixuantt/MultiHop-RAG (commit 3dd4d4e):
# gold facts and retrieved chunk texts have every " " and "\n" removed; a chunk is relevant when any gold fact
# is a substring of it; only ranks 1..10 count. Hits@k = share of queries with a relevant chunk in the top k;
# MRR@10 = mean of 1/rank of the first relevant chunk (0 if none in the top 10); MAP@10 = mean over queries
# of sum(newly matched facts at rank r / r) / min(#facts, 10). Every query passed in is averaged; the
# official script drops question_type == "null_query" before calling it (see MultiHopQuery.is_null).


def _squash(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


def multihop_relevant(chunk_text: str, facts: Sequence[str]) -> bool:
    """MultiHop-RAG relevance: a gold fact is a substring of the chunk once spaces and newlines are removed."""
    chunk = _squash(chunk_text)
    return any(_squash(fact) in chunk for fact in facts)


def multihop_metrics(retrieved: list[list[str]], facts: list[list[str]]) -> dict[str, float]:
    """Hits@4, Hits@10, MAP@10 and MRR@10 exactly as MultiHop-RAG's retrieval_evaluate.py computes them."""
    if len(retrieved) != len(facts):
        raise ValueError(f"{len(retrieved)} retrieval lists but {len(facts)} fact lists")
    if not facts:
        raise ValueError("no queries to score")
    hits4 = hits10 = 0
    ap_sum = rr_sum = 0.0
    for i, (chunks, gold_raw) in enumerate(zip(retrieved, facts, strict=True)):
        if not gold_raw:
            raise ValueError(
                f"query {i} has no gold facts (a null_query?): drop null queries first, as retrieval_evaluate.py does"
            )
        gold = [_squash(f) for f in gold_raw]
        first: int | None = None
        found: list[str] = []
        ap = 0.0
        for rank, chunk in enumerate(chunks[:10], start=1):
            text = _squash(chunk)
            if not any(g in text for g in gold):
                continue
            if first is None:
                first = rank
            count = 0
            for g in gold:  # each distinct fact is credited once, at the first chunk that holds it
                if g in text and g not in found:
                    count += 1
                    found.append(g)
            ap += count / rank
        hits10 += first is not None
        hits4 += first is not None and first <= 4
        rr_sum += 1.0 / first if first else 0.0
        ap_sum += ap / min(len(gold), 10)
    n = len(facts)
    return {"hits@4": hits4 / n, "hits@10": hits10 / n, "map@10": ap_sum / n, "mrr@10": rr_sum / n}
