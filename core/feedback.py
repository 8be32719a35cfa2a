"""Turn findings and code into the patch request sent back to the model.

Wording follows the paper: "Total warnings: N. Warnings: <message> [<rule>] at solution.py:<line>".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .prompts import load_template
from .types import Finding, Message, severity_at_least


def render_feedback(
    code: str,
    findings: Sequence[Finding],
    *,
    threshold: str = "note",
    language: str = "python",
    filename: str = "solution.py",
    prompts_dir: str | Path | None = None,
) -> str:
    """The patch request; only findings at or above ``threshold`` reach the model."""
    shown = [f for f in findings if severity_at_least(f.severity, threshold)]
    item = load_template("feedback_item.txt", prompts_dir).rstrip("\n")
    warnings = "\n".join(
        item.format(
            message=f.message, rule=f.rule_id, tool=f.tool, severity=f.severity, cwe=f.cwe,
            filename=filename, line=f.line, column=f.column,
        )
        for f in shown
    )
    return load_template("feedback.txt", prompts_dir).format(
        count=len(shown), warnings=warnings, code=code.rstrip("\n"), language=language, filename=filename
    ).rstrip("\n")


def first_messages(prompt: str, *, language: str = "python", prompts_dir: str | Path | None = None) -> list[Message]:
    system = load_template("system.txt", prompts_dir).format(language=language).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def patch_messages(
    history: Sequence[Message], response: str, feedback: str
) -> list[Message]:
    """The conversation for the next iteration: everything so far, the model's answer, the patch request."""
    return [*history, {"role": "assistant", "content": response}, {"role": "user", "content": feedback}]
