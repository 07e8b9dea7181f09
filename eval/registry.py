"""Every eval suite by name: the one list the runner runs, the CLI offers and the report titles.

Importing this module loads no model, index or eval code (the CLI reads SUITE_NAMES to build
`--suite`); a suite's code is imported when it runs, from its `entry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.eval.run_data import EvalData
    from newsrag.eval.suites import SuiteInputs, SuiteResult


@dataclass(frozen=True)
class Suite:
    """One suite: what it measures, which of the run's data it needs, and where its code is."""

    name: str
    description: str  # the report's heading for it
    needs: tuple[str, ...]  # EvalData fields that must be non-empty, else the run skips the suite
    headline: tuple[str, ...]  # the figures the terminal summary shows
    entry: str  # "module:function" taking SuiteInputs, imported only when the suite runs
    percent: bool = False  # its figures are fractions, shown as percentages

    def applies_to(self, data: EvalData) -> bool:
        """Whether the run's data has every set this suite measures on."""
        return all(getattr(data, name) for name in self.needs)

    def run(self, inputs: SuiteInputs) -> SuiteResult:
        module, _, function = self.entry.partition(":")
        suite: Callable[[SuiteInputs], SuiteResult] = getattr(import_module(module), function)
        return suite(inputs)


# In report order.
SUITES = (
    Suite(
        "retrieval",
        "Retrieval: known-item search with the journalists' highlights (article level, %)",
        needs=("highlights",),
        headline=("recall@1", "recall@5", "mrr@10"),
        entry="newsrag.eval.suites:run_retrieval",
        percent=True,
    ),
    Suite(
        "multihop",
        "MultiHop-RAG retrieval (chunk level, %)",
        needs=("multihop",),
        headline=("hits@4", "hits@10", "mrr@10"),
        entry="newsrag.eval.suites:run_multihop",
        percent=True,
    ),
    Suite(
        "qa",
        "Questions: answers, citations and refusals (%); dev set (tuned on) and held-out test set",
        needs=("qa",),
        headline=("answer accuracy", "citation precision", "refusal precision", "refusal recall"),
        entry="newsrag.eval.suites:run_qa",
        percent=True,
    ),
    Suite(
        "summaries",
        "Summaries: ROUGE F1 x100 against the highlights (the note says which articles: tuned on or held out)",
        needs=("highlights",),
        headline=("rouge1", "rouge2", "rougeLsum"),
        entry="newsrag.eval.suites:run_summaries",
    ),
    Suite(
        "faithfulness",
        "Faithfulness: claim-support check vs human factuality judgements (correlation)",
        needs=("judgements", "peers"),
        headline=("pearson", "spearman"),
        entry="newsrag.eval.suites:run_faithfulness",
    ),
    Suite(
        "latency",
        "Latency, warm (milliseconds)",
        needs=("qa",),
        headline=("p50 ms", "p95 ms"),
        entry="newsrag.eval.suites:run_latency",
    ),
)
SUITE_NAMES = tuple(suite.name for suite in SUITES)
SUITE_BY_NAME = {suite.name: suite for suite in SUITES}

# The baselines by name (built by `newsrag.eval.baselines.BASELINES`, which loads LlamaIndex).
BASELINE_NAMES = ("llamaindex-default", "llamaindex-tuned")
