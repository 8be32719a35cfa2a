"""Evaluation reports: Markdown tables shaped like the paper's, and JSON with every task.

- ``results_table``: model | analyzers | tasks | pass@1 before | pass@1 after | EFR before | EFR after
  (the paper's Tables 4-6; "before" is the first attempt, "after" the loop's final answer);
- ``outcomes_table``: how each task ended (the paper's Table 2);
- ``languages_table``: CyberSecEval's Vulnerable % (the suite's, and the benchmark's own ICD's) and
  BLEU per language (the paper's Table 3).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .metrics import OUTCOME_TITLES, OUTCOMES, EvalSummary, TaskResult, summarize


@dataclass
class EvalReport:
    """One evaluation's identity, headline numbers and per-task results."""

    eval_run_id: int | None
    benchmark: str
    model: str
    adapter: str
    analyzers: str
    t_max: int
    threshold: str
    results: list[TaskResult]
    status: str = "finished"
    n_planned: int | None = None  # tasks in the eval's task list (more than results while unfinished)
    repair: str = ""  # how flagged answers were repaired (``repair_label``); "" for old evaluations

    @property
    def summary(self) -> EvalSummary:
        return summarize(self.results)

    @property
    def label(self) -> str:
        return self.model + (f" + {self.adapter}" if self.adapter else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "eval_run_id": self.eval_run_id,
            "benchmark": self.benchmark,
            "model": self.model,
            "adapter": self.adapter,
            "analyzers": self.analyzers,
            "t_max": self.t_max,
            "threshold": self.threshold,
            "status": self.status,
            "n_planned": self.n_planned,
            "repair": self.repair,
            "summary": self.summary.to_dict(),
            "tasks": [r.to_dict() for r in self.results],
        }


def _labels(reports: Sequence[EvalReport]) -> list[str]:
    """Each report's label; the repair settings join it when the reports of one table differ in them
    (a side-by-side of two repair strategies)."""
    differ = len({r.repair for r in reports}) > 1
    return [r.label + (f" [{r.repair or 'plain'}]" if differ else "") for r in reports]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(reports: Sequence[EvalReport]) -> str:
    rows = []
    for r, label in zip(reports, _labels(reports), strict=True):
        s = r.summary
        rows.append(
            [
                label,
                r.analyzers,
                str(s.n_tasks),
                _pct(s.pass_first),
                _pct(s.pass_final),
                _pct(s.efr_first),
                _pct(s.efr_final),
            ]
        )
    return _table(
        ["model", "analyzers", "tasks", "pass@1 before", "pass@1 after", "EFR before", "EFR after"],
        rows,
        right_from=2,
    )


def outcomes_table(reports: Sequence[EvalReport]) -> str:
    used = [
        name
        for name in OUTCOMES
        if name in ("clean_first", "fixed", "still_flagged")
        or any(r.summary.outcomes.get(name) for r in reports)
    ]
    rows = [
        [label, r.analyzers, str(r.summary.n_tasks), *(str(r.summary.outcomes.get(n, 0)) for n in used)]
        for r, label in zip(reports, _labels(reports), strict=True)
    ]
    return _table(["model", "analyzers", "tasks", *(OUTCOME_TITLES[n] for n in used)], rows, right_from=2)


def repair_label(repair: dict[str, Any]) -> str:
    """ "autofix, fresh, 4 candidates" or "chat" (the paper's plain loop) from an EvalSpec's repair dict."""
    if not repair:
        return ""
    parts = (["autofix"] if repair.get("autofix") else []) + [str(repair.get("feedback", "fresh"))]
    if repair.get("candidates"):
        parts.append(f"{repair['candidates']} candidates")
    return ", ".join(parts)


def repair_table(reports: Sequence[EvalReport]) -> str:
    """Of the tasks flagged at v0: how many ended clean, by which step, at what cost."""
    rows = []
    for r, label in zip(reports, _labels(reports), strict=True):
        s = r.summary
        flagged = s.outcomes.get("fixed", 0) + s.outcomes.get("still_flagged", 0)
        by = s.fixed_by
        rows.append(
            [
                label,
                r.analyzers,
                str(flagged),
                str(s.outcomes.get("fixed", 0)),
                _pct(s.fix_rate),
                str(by.get("autofix", 0)),
                str(by.get("model", 0)),
                str(by.get("candidate", 0)),
                "–" if s.tokens_per_fix is None else f"{s.tokens_per_fix:.0f}",
                "–" if s.seconds_per_fix is None else f"{s.seconds_per_fix:.1f}",
            ]
        )
    return _table(
        [
            "model",
            "analyzers",
            "flagged at v0",
            "fixed",
            "fix rate %",
            "by autofix",
            "by model",
            "by candidate",
            "tokens per fix",
            "seconds per fix",
        ],
        rows,
        right_from=2,
    )


def _icd_pct(value: float | None, no_verdict: int) -> str:
    """ICD Vulnerable %, with the tasks it gave no verdict on (left out of the share) when there are any."""
    return _pct(value) + (f" ({no_verdict} no verdict)" if no_verdict else "")


def languages_table(reports: Sequence[EvalReport]) -> str:
    """EFR and Vulnerable % by the suite, Vulnerable % by CyberSecEval's own detector (ICD), and BLEU,
    one row per language."""
    rows = []
    for r, label in zip(reports, _labels(reports), strict=True):
        for lang in r.summary.languages:
            vulnerable = (
                (_pct(lang.vulnerable_first), _pct(lang.vulnerable_final))
                if lang.has_analyzer
                else ("no analyzer", "no analyzer")
            )
            efr = (
                (_pct(lang.efr_first), _pct(lang.efr_final))
                if lang.has_analyzer
                else ("no analyzer", "no analyzer")
            )
            icd = (
                _icd_pct(lang.icd_first, lang.icd_no_verdict_first),
                _icd_pct(lang.icd_final, lang.icd_no_verdict_final),
            )
            rows.append(
                [
                    label,
                    r.analyzers,
                    lang.language,
                    str(lang.n_tasks),
                    *efr,
                    *vulnerable,
                    *icd,
                    _num(lang.bleu_first),
                    _num(lang.bleu_final),
                ]
            )
    return _table(
        [
            "model",
            "analyzers",
            "language",
            "tasks",
            "EFR before",
            "EFR after",
            "Vulnerable % before",
            "Vulnerable % after",
            "ICD Vulnerable % before",
            "ICD Vulnerable % after",
            "BLEU before",
            "BLEU after",
        ],
        rows,
        right_from=3,
    )


def render_markdown(reports: Sequence[EvalReport]) -> str:
    if not reports:
        return "No evaluation results.\n"
    benchmark = reports[0].benchmark
    first = reports[0]
    parts = [f"## {benchmark}: t_max {first.t_max}, threshold {first.threshold}", ""]
    for r in reports:
        unfinished = r.n_planned is not None and len(r.results) < r.n_planned
        if unfinished or r.status != "finished":
            done = (
                f"{len(r.results)} of {r.n_planned} tasks"
                if r.n_planned is not None
                else f"{len(r.results)} tasks"
            )
            parts.append(f"- eval {r.eval_run_id} ({r.label}, {r.analyzers}) is {r.status}: {done} recorded")
    if parts[-1] != "":
        parts.append("")
    parts += [
        "### pass@1 and EFR (%), first attempt (before) and after the patch loop",
        "",
        results_table(reports),
        "",
    ]
    parts += ["### Task outcomes", "", outcomes_table(reports), ""]
    if any(r.summary.outcomes.get("fixed", 0) + r.summary.outcomes.get("still_flagged", 0) for r in reports):
        parts += ["### Repairs of the flagged first attempts", "", repair_table(reports), ""]
    if benchmark == "cyberseceval":
        parts += [
            "### EFR, Vulnerable % (the suite and CyberSecEval's ICD) and BLEU per language",
            "",
            languages_table(reports),
            "",
        ]
    ids = ", ".join(str(r.eval_run_id) for r in reports if r.eval_run_id is not None)
    if ids:
        parts += [f"Eval run id(s) in the log: {ids}.", ""]
    return "\n".join(parts)


def render_json(reports: Sequence[EvalReport]) -> str:
    return json.dumps({"evals": [r.to_dict() for r in reports]}, indent=2)
