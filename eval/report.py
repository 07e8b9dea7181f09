"""A run's report: report.md for people, results.json for scripts, PNG plots, and a short terminal table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from newsrag.eval.registry import SUITE_BY_NAME
from newsrag.eval.suites import KS, SuiteResult


def table(result: SuiteResult, columns: list[str] | None = None) -> str:
    """A markdown table: systems as rows, figures as columns (fractions shown as percentages)."""
    if not result.rows:
        return "_no rows_"
    columns = columns or list(dict.fromkeys(c for figures in result.rows.values() for c in figures))
    scale = 100 if SUITE_BY_NAME[result.name].percent else 1
    lines = ["| system | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for system, figures in result.rows.items():
        cells = [_fmt(figures.get(c), scale) for c in columns]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None, scale: int) -> str:
    if value is None:
        return "-"
    return f"{value * scale:.1f}" if scale != 1 else (f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}")


def write_report(out: Path, header: dict[str, Any], results: list[SuiteResult]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "settings": header,
        "suites": {r.name: {k: v for k, v in asdict(r).items() if k != "extra"} for r in results},
    }
    for r in results:
        if r.name == "qa" and "records" in r.extra:
            payload["suites"]["qa"]["records"] = r.extra["records"]
    (out / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    plots = _plots(out, results)
    lines = ["# NewsRAG evaluation", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines.append("")
    for r in results:
        lines += [f"## {SUITE_BY_NAME[r.name].description}", "", table(r), ""]
        lines += [f"_{note}; {r.seconds:.0f} s._" for note in r.notes] + [""]
        if r.name in plots:
            lines += [f"![{r.name}]({plots[r.name]})", ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def _plots(out: Path, results: list[SuiteResult]) -> dict[str, str]:
    """Recall@k curves per system and the latency histogram; skipped when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    made: dict[str, str] = {}
    for r in results:
        if r.name == "retrieval" and r.rows:
            fig, ax = plt.subplots(figsize=(6, 4))
            for system, figures in r.rows.items():
                ks = [k for k in KS if f"recall@{k}" in figures]
                ax.plot(ks, [figures[f"recall@{k}"] * 100 for k in ks], marker="o", label=system)
            ax.set_xlabel("k (articles)")
            ax.set_ylabel("recall@k (%)")
            ax.set_title("Highlight queries: gold article in the top k")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(out / "recall_at_k.png", dpi=110)
            plt.close(fig)
            made[r.name] = "recall_at_k.png"
        if r.name == "latency" and r.extra:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.hist(r.extra["retrieval_ms"], bins=30, alpha=0.7, label="retrieval")
            ax.hist(r.extra["answer_ms"], bins=30, alpha=0.7, label="full answer")
            ax.set_xlabel("milliseconds")
            ax.set_ylabel("questions")
            ax.set_title("Warm latency per question")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / "latency.png", dpi=110)
            plt.close(fig)
            made[r.name] = "latency.png"
    return made


def terminal_summary(results: list[SuiteResult]) -> str:
    """The few figures that matter most, one short table per suite."""
    parts = []
    for r in results:
        parts.append(f"{r.name}\n{table(r, list(SUITE_BY_NAME[r.name].headline))}")
    return "\n\n".join(parts)
