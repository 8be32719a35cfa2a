"""Human-readable terminal output for the CLI (rich), kept apart from the commands themselves."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from patchloop.core.log import RunSummary
from patchloop.core.types import Finding, Iteration, Run

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def findings_table(findings: Sequence[Finding], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for column in ("line", "severity", "tool", "rule", "cwe", "message"):
        table.add_column(column, overflow="fold", justify="right" if column == "line" else "left")
    for f in findings:
        rule = f.rule_id + (f" (+{', '.join(f.also)})" if f.also else "")
        table.add_row(
            str(f.line), f"[{SEVERITY_STYLE.get(f.severity, '')}]{f.severity}[/]", f.tool, rule, f.cwe, f.message
        )
    return table


def iteration_summary(it: Iteration, threshold: str) -> str:
    head = f"v{it.index} ({it.origin_label})"
    if it.error:
        return f"{head}: {it.error}"
    if it.code is None:
        return f"{head}: no code block in the answer"
    flagged = len(it.flagged(threshold))
    parts = [f"{head}: {flagged} finding(s) at or above {threshold}"]
    if it.origin == "autofix":
        parts.append(f"{len(it.fixes)} rewrite(s), no model call")
        if it.tests_passed is not None:
            parts.append("tests pass" if it.tests_passed else "tests FAIL")
        parts.append(f"analysis {it.analysis_seconds:.1f}s")
        return " · ".join(parts)
    if it.candidates:
        sampled = [c for c in it.candidates if c.k > 0]
        parts.append(f"best of {len(it.candidates)} answers ({len(sampled)} sampled)")
    if it.analyzer_errors:
        parts.append(f"analyzer errors: {'; '.join(it.analyzer_errors)}")
    if it.tests_passed is not None:
        parts.append("tests pass" if it.tests_passed else "tests FAIL")
    tokens_per_s = it.completion_tokens / it.gen_seconds if it.gen_seconds else 0.0
    parts.append(f"{it.completion_tokens} tokens in {it.gen_seconds:.1f}s ({tokens_per_s:.1f} tok/s)")
    parts.append(f"analysis {it.analysis_seconds:.1f}s")
    return " · ".join(parts)


def code_diff(before: str | None, after: str | None, *, old: str = "before", new: str = "after") -> str:
    """A unified diff of two versions of the code ("" when they are the same)."""
    return "".join(difflib.unified_diff((before or "").splitlines(keepends=True),
                                        (after or "").splitlines(keepends=True), old, new))


def print_run(console: Console, run: Run) -> None:
    console.print(f"[bold]run {run.id if run.id is not None else '-'}[/] · {run.model} · analyzers {run.analyzers}"
                  f" · threshold {run.threshold} · stop: [bold]{run.stop_reason}[/]")
    console.print(f"[dim]prompt:[/] {run.prompt}")
    previous: Iteration | None = None
    for it in run.iterations:
        console.rule(f"v{it.index} · {it.origin_label}" + ("  ★ best" if it.index == run.best_index else ""))
        console.print(iteration_summary(it, run.threshold))
        for fix in it.fixes:
            console.print(f"  fixed line {fix['line']}: {fix['rule']}: {fix['description']}", markup=False)
        for c in it.candidates:
            mark = "→" if c.chosen else " "
            console.print(f"  {mark} candidate {c.k} ({c.request}, t={c.temperature:g}): "
                          + ("no code" if c.code is None else f"{len(c.flagged(run.threshold))} finding(s)")
                          + ("" if c.tests_passed is None else (", tests pass" if c.tests_passed else ", tests FAIL"))
                          + f", closeness {c.closeness:.2f}", markup=False)
        if previous is not None and previous.code and it.code:
            diff = code_diff(previous.code, it.code, old=f"v{previous.index}", new=f"v{it.index}")
            console.print(diff or "(same code as the previous iteration)", markup=False, highlight=False)
        elif it.code:
            console.print(it.code, markup=False, highlight=False)
        if it.findings:
            console.print(findings_table(it.findings))
        if it.code is not None:
            previous = it


def runs_table(rows: Sequence[RunSummary], width: int = 120) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True, justify="right", min_width=2)
    table.add_column("created", no_wrap=True, min_width=16)
    table.add_column("model", overflow="ellipsis", no_wrap=True, max_width=20)
    table.add_column("stop", no_wrap=True, min_width=9)
    table.add_column("iters", no_wrap=True, justify="right", min_width=5)
    table.add_column("findings", no_wrap=True, min_width=8)  # v0 -> last iteration
    # rich squeezes fixed columns to nothing when one cell is long, so the prompt gets what is left.
    table.add_column("prompt", overflow="ellipsis", no_wrap=True, max_width=max(8, width - 78))
    for r in rows:
        findings = "-" if r.first_findings is None else f"{r.first_findings}→{r.last_findings}"
        table.add_row(str(r.id), r.created[:16].replace("T", " "), r.model,
                      r.stop_reason or ("unfinished" if r.unfinished else "(running)"),
                      str(r.n_iterations), findings, r.prompt.replace("\n", " "))
    return table
