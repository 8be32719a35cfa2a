"""Turn findings and code into the patch request sent back to the model.

Wording follows the paper: "Total warnings: N. Warnings: <message> [<rule>] at solution.py:<line>".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .languages import display_name, solution_file
from .prompts import load_template
from .types import Finding, Message, severity_at_least


def render_feedback(
    code: str,
    findings: Sequence[Finding],
    *,
    threshold: str = "note",
    language: str = "python",
    filename: str | None = None,
    prompts_dir: str | Path | None = None,
) -> str:
    """The patch request; only findings at or above ``threshold`` reach the model. ``filename``:
    the one findings are placed in (default: ``solution.<the language's suffix>``)."""
    filename = filename or solution_file(language)
    shown = [f for f in findings if severity_at_least(f.severity, threshold)]
    item = load_template("feedback_item.txt", prompts_dir).rstrip("\n")
    warnings = "\n".join(item.format(**_item_fields(f, filename)) for f in shown)
    return (
        load_template("feedback.txt", prompts_dir)
        .format(
            count=len(shown), warnings=warnings, code=code.rstrip("\n"), language=language, filename=filename
        )
        .rstrip("\n")
    )


def _item_fields(finding: Finding, filename: str) -> dict[str, object]:
    """What the template of one finding's item (feedback_item.txt, repair_item.txt) may name."""
    return {
        "message": finding.message,
        "rule": finding.rule_id,
        "tool": finding.tool,
        "severity": finding.severity,
        "cwe": finding.cwe,
        "filename": filename,
        "line": finding.line,
        "column": finding.column,
    }


def first_messages(
    prompt: str, *, language: str = "python", prompts_dir: str | Path | None = None
) -> list[Message]:
    system = load_template("system.txt", prompts_dir).format(
        language=language, language_name=display_name(language)
    )
    system = system.strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def patch_messages(history: Sequence[Message], response: str, feedback: str) -> list[Message]:
    """The conversation for the next iteration: everything so far, the model's answer, the patch request."""
    return [*history, {"role": "assistant", "content": response}, {"role": "user", "content": feedback}]


# -- the fresh repair request ---------------------------------------------------------------------
#
# Small models copy faulty code that is fed back to them inside a growing chat (CYCLE), and handle
# line numbers badly (aider). The repair request is therefore a new conversation that holds the
# task, the current code and, for every finding, the offending line's text marked inside a few
# lines of its function, the CWE and a concrete fix hint.

FEEDBACK_STYLES = ("fresh", "chat")


def code_frame(code: str, line: int, context: int = 2) -> str:
    """The lines around ``line`` (1-based), kept inside the function that holds it, the flagged
    line marked with ``>``, ruff-style: ``  > 12 |     os.system(cmd)``."""
    lines = code.splitlines()
    if not lines:
        return ""
    line = min(max(line, 1), len(lines))
    low, high = max(1, line - context), min(len(lines), line + context)
    scope = _enclosing_scope(code, line)
    if scope is not None:
        low, high = max(low, scope[0]), min(high, scope[1])
    width = len(str(high))
    return "\n".join(
        f"  {'>' if n == line else ' '} {n:>{width}} | {lines[n - 1]}".rstrip() for n in range(low, high + 1)
    )


def _enclosing_scope(code: str, line: int) -> tuple[int, int] | None:
    """First and last line of the innermost function or class that spans ``line``."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            last = node.end_lineno or node.lineno
            if first <= line <= last and (best is None or first >= best[0]):
                best = (first, last)
    return best


def render_repair(
    task: str,
    code: str,
    findings: Sequence[Finding],
    *,
    threshold: str = "note",
    language: str = "python",
    filename: str | None = None,
    prompts_dir: str | Path | None = None,
) -> str:
    """The fresh repair request: task, code, and each finding framed with a hint."""
    from .hints import hint_for, load_hints

    filename = filename or solution_file(language)
    shown = [f for f in findings if severity_at_least(f.severity, threshold)]
    hints = load_hints(language, prompts_dir)
    item = load_template("repair_item.txt", prompts_dir).rstrip("\n")
    warnings = "\n\n".join(
        item.format(
            number=n,
            **_item_fields(f, filename),
            cwe_suffix=f", {f.cwe}" if f.cwe else "",
            frame=code_frame(code, f.line),
            hint=hint_for(f, hints) or "change the code so this warning no longer applies.",
        )
        for n, f in enumerate(shown, 1)
    )
    return (
        load_template("repair.txt", prompts_dir)
        .format(
            task=task.strip(),
            count=len(shown),
            warnings=warnings,
            code=code.rstrip("\n"),
            language=language,
            filename=filename,
        )
        .rstrip("\n")
    )


def repair_messages(
    task: str,
    code: str,
    findings: Sequence[Finding],
    *,
    threshold: str = "note",
    language: str = "python",
    prompts_dir: str | Path | None = None,
) -> list[Message]:
    """The conversation for a fresh repair request: the system prompt and one user turn."""
    text = render_repair(
        task, code, findings, threshold=threshold, language=language, prompts_dir=prompts_dir
    )
    return first_messages(text, language=language, prompts_dir=prompts_dir)


def rewrite_messages(
    task: str,
    findings: Sequence[Finding],
    *,
    threshold: str = "note",
    language: str = "python",
    prompts_dir: str | Path | None = None,
    limit: int = 8,
) -> list[Message]:
    """A request to solve the task anew, naming the problems of the earlier answer without showing
    its code: a small model shown code copies it (CYCLE), so these requests give candidates that
    differ where repair requests only echo. At most ``limit`` problems, one per message."""
    from .hints import hint_for, load_hints

    hints = load_hints(language, prompts_dir)
    lines: list[str] = []
    for f in findings:
        if not severity_at_least(f.severity, threshold):
            continue
        hint = hint_for(f, hints)
        line = f"- {f.message} [{f.rule_id}]" + (f" Fix: {hint}" if hint else "")
        if line not in lines:
            lines.append(line)
    text = (
        load_template("rewrite.txt", prompts_dir)
        .format(task=task.strip(), warnings="\n".join(lines[:limit]), language=language)
        .rstrip("\n")
    )
    return first_messages(text, language=language, prompts_dir=prompts_dir)
