"""Human-readable terminal output for the CLI (rich), kept apart from the commands themselves."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from patchloop.core.log import RunSummary
from patchloop.core.types import Finding, Iteration, Run

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def fit_table(table: Table, width: int) -> Table:
    """``table`` at its natural width when that fits in ``width`` columns; otherwise stretched to
    exactly ``width``, so that the ratio columns (the long text) take what the others leave
    instead of every column being cut."""
    console = Console(width=width)
    unbounded = console.options.update_width(1_000_000)  # a measure at ``width`` is capped at it
    table.expand = Measurement.get(console, unbounded, table).maximum > width
    return table


def compact_table(title: str | None = None) -> Table:
    """A table without vertical rules: columns two spaces apart, a rule under the header."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
    )


def findings_table(findings: Sequence[Finding], title: str | None = None, width: int = 120) -> Table:
    """Findings as a table for a terminal ``width`` wide. Only the message wraps (at spaces);
    below 100 columns the tool and the CWE go under the rule id instead of columns of their own."""
    wide = width >= 100
    table = compact_table(title)
    table.add_column("line", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    if wide:
        table.add_column("tool", no_wrap=True)
    table.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=None if wide else 26)
    if wide:
        table.add_column("cwe", no_wrap=True)
    table.add_column("message", ratio=1, min_width=16)
    for f in findings:
        severity = Text(f.severity, style=SEVERITY_STYLE.get(f.severity, ""))
        message = Text(f.message)  # Text, not markup: messages quote code ("[i]")
        if f.also:
            message.append(f" (also {', '.join(f.also)})", style="dim")
        if wide:
            table.add_row(str(f.line), severity, f.tool, f.rule_id, f.cwe, message)
        else:
            rule = Text(f.rule_id)
            rule.append("\n" + " ".join(part for part in (f.tool, f.cwe) if part), style="dim")
            table.add_row(str(f.line), severity, rule, message)
    return fit_table(table, width)


def concise_line(path: str, f: Finding) -> str:
    """One finding on one line, as ruff's concise output: ``path:line:col: tool:rule message``
    (column 1 when the tool gives none)."""
    return f"{path}:{f.line}:{max(f.column, 1)}: {f.tool}:{f.rule_id} {_one_line(f.message)}"


# GitHub Actions workflow commands: ::error file=F,line=L,col=C,title=T::MESSAGE (notice for notes).
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def github_annotation(path: str, f: Finding) -> str:
    """One finding as a GitHub Actions annotation on its line of the file."""
    fields = {"file": path, "line": str(f.line)}
    if f.column >= 1:
        fields["col"] = str(f.column)
    if f.end_line >= f.line:
        fields["endLine"] = str(f.end_line)
        if f.column >= 1 and f.end_column >= 1:
            fields["endColumn"] = str(f.end_column)
    fields["title"] = f"{f.tool}:{f.rule_id}" + (f" ({f.cwe})" if f.cwe else "")
    return _github_command(_GITHUB_LEVEL.get(f.severity, "warning"), fields, f.message)


def github_error(path: str, text: str) -> str:
    """An analyzer failure as an error annotation on the file (no line)."""
    return _github_command("error", {"file": path, "title": "analyzer error"}, text)


def _github_command(level: str, fields: dict[str, str], message: str) -> str:
    # The escapes GitHub's runner reads back: %, CR and LF in the message, and also : and , in fields.
    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    return f"::{level} " + ",".join(f"{k}={prop(v)}" for k, v in fields.items()) + f"::{data(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
    return "".join(
        difflib.unified_diff(
            (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True), old, new
        )
    )


def print_run(console: Console, run: Run) -> None:
    console.print(
        f"[bold]run {run.id if run.id is not None else '-'}[/] · {run.model} · analyzers {run.analyzers}"
        f" · threshold {run.threshold} · stop: [bold]{run.stop_reason}[/]"
    )
    console.print(f"[dim]prompt:[/] {run.prompt}")
    previous: Iteration | None = None
    for it in run.iterations:
        console.rule(f"v{it.index} · {it.origin_label}" + ("  ★ best" if it.index == run.best_index else ""))
        console.print(iteration_summary(it, run.threshold))
        for fix in it.fixes:
            console.print(f"  fixed line {fix['line']}: {fix['rule']}: {fix['description']}", markup=False)
        for c in it.candidates:
            mark = "→" if c.chosen else " "
            console.print(
                f"  {mark} candidate {c.k} ({c.request}, t={c.temperature:g}): "
                + ("no code" if c.code is None else f"{len(c.flagged(run.threshold))} finding(s)")
                + ("" if c.tests_passed is None else (", tests pass" if c.tests_passed else ", tests FAIL"))
                + f", closeness {c.closeness:.2f}",
                markup=False,
            )
        if previous is not None and previous.code and it.code:
            diff = code_diff(previous.code, it.code, old=f"v{previous.index}", new=f"v{it.index}")
            console.print(diff or "(same code as the previous iteration)", markup=False, highlight=False)
        elif it.code:
            console.print(it.code, markup=False, highlight=False)
        if it.findings:
            console.print(findings_table(it.findings, width=console.width))
        if it.code is not None:
            previous = it


def print_rows(
    rows: Sequence, lines: Callable[[Sequence], list[str]], table: Callable[[Sequence, int], Table]
) -> None:
    """Rows on stdout: plain ``lines`` for a pipe, a ``table`` drawn to the terminal's width otherwise."""
    import click

    if not click.get_text_stream("stdout").isatty():
        for line in lines(rows):
            click.echo(line)
    else:
        console = Console()
        console.print(table(rows, console.width))


def runs_table(rows: Sequence[RunSummary], width: int = 120) -> Table:
    """Recent runs for a terminal ``width`` wide: the prompt takes the room the other columns
    leave; below 100 columns the model is left out and the date is shortened."""
    wide = width >= 100
    table = compact_table()
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("created", no_wrap=True)
    if wide:
        table.add_column("model", overflow="ellipsis", no_wrap=True, max_width=24)
    table.add_column("stop", no_wrap=True)
    table.add_column("iters", no_wrap=True, justify="right")
    table.add_column("findings", no_wrap=True)  # v0 -> last iteration
    table.add_column("prompt", overflow="ellipsis", no_wrap=True, ratio=1, min_width=12)
    for r in rows:
        created = r.created[:16].replace("T", " ")
        cells = [
            str(r.id),
            created if wide else created[5:],
            *([r.model] if wide else []),
            _stop(r),
            str(r.n_iterations),
            _findings(r),
            Text(" ".join(r.prompt.split())),
        ]
        table.add_row(*cells)
    return fit_table(table, width)


def runs_lines(rows: Sequence[RunSummary]) -> list[str]:
    """Recent runs as tab-separated lines for a pipe: id, created, model, stop, iterations,
    findings (first->last), prompt (on one line)."""
    return [
        "\t".join(
            (
                str(r.id),
                r.created[:19].replace("T", " "),
                r.model,
                _stop(r),
                str(r.n_iterations),
                _findings(r).replace("→", "->"),
                " ".join(r.prompt.split()),
            )
        )
        for r in rows
    ]


def _stop(r: RunSummary) -> str:
    return r.stop_reason or ("unfinished" if r.unfinished else "(running)")


def _findings(r: RunSummary) -> str:
    return "-" if r.first_findings is None else f"{r.first_findings}→{r.last_findings}"


def eval_table(rows: Sequence[dict], width: int = 120) -> Table:
    """Recent evaluations (rows of ``EvalStore.list``) for a terminal ``width`` wide: the model
    (with its adapter) takes the room the other columns leave; below 100 columns t_max is left
    out and the date is shortened."""
    wide = width >= 100
    table = compact_table()
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("created", no_wrap=True)
    table.add_column("benchmark", no_wrap=True)
    table.add_column("model", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8)
    table.add_column("suite", no_wrap=True)
    if wide:
        table.add_column("t_max", no_wrap=True, justify="right")
    table.add_column("done", no_wrap=True, justify="right")
    table.add_column("status", no_wrap=True)
    for r in rows:
        created = str(r["created"])[:16].replace("T", " ")
        table.add_row(
            str(r["id"]),
            created if wide else created[5:],
            r["benchmark"],
            Text(_model(r)),
            r["analyzers"],
            *([str(r["t_max"])] if wide else []),
            f"{r['n_done']}/{r['n_tasks']}",
            r["status"],
        )
    return fit_table(table, width)


def eval_lines(rows: Sequence[dict]) -> list[str]:
    """Recent evaluations as tab-separated lines for a pipe: id, created, benchmark, model,
    adapter, suite, t_max, done/tasks, status."""
    return [
        "\t".join(
            (
                str(r["id"]),
                str(r["created"])[:19].replace("T", " "),
                r["benchmark"],
                r["model"],
                r["adapter"] or "-",
                r["analyzers"],
                str(r["t_max"]),
                f"{r['n_done']}/{r['n_tasks']}",
                r["status"],
            )
        )
        for r in rows
    ]


def _model(r: dict) -> str:
    return r["model"] + (f" + {r['adapter']}" if r.get("adapter") else "")
