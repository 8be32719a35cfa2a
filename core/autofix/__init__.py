"""Deterministic fixes: rewrite flagged code without asking the model.

Small models rarely repair code from feedback (they copy it back), while many findings have one
mechanical fix (LlmFix: +9.5 % pass@1 from rewrites alone). ``autofix`` answers the findings it
can in two passes:

1. patchloop's own rewrite rules (``python_rules``): ``yaml.load`` -> ``yaml.safe_load``,
   ``shell=True`` -> an argument list, formatted SQL -> a parameterized query, star imports -> the
   names used, unreachable code removed, ... Each rule answers one flagged line of one parse.
2. ruff's own fixes, for the flagged rules whose fix cannot change what generated code does
   (unused imports, f-strings without placeholders, ``is`` with a literal, mutable defaults,
   unused locals: ``RUFF_FIXES``).

Only flagged findings are answered, so clean code comes back byte-identical. A result that no
longer parses is dropped; the loop also drops one that makes passing tests fail.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import tempdirs
from ..analyzers.base import ToolFailure, run_tool
from ..types import Analysis, Finding
from .base import Edit, Fix, FixContext, RuleSet, apply_edits
from .python_rules import PYTHON_RULES

__all__ = [
    "RUFF_FIXES",
    "Applied",
    "Edit",
    "Fix",
    "FixContext",
    "FixOutcome",
    "FixResult",
    "RuleSet",
    "autofix",
    "fix_until_stable",
]

# ruff rule -> the finding keys (of every tool) it answers. Each fix keeps behaviour for code that
# was flagged for it: an unused import or local is unused; F632 turns `is 1` into the intended `==`;
# B006's fix moves the mutable default into the body, as the rule's documentation shows.
RUFF_FIXES: dict[str, tuple[str, ...]] = {
    "F401": ("ruff:F401", "pylint:W0611"),
    "F541": ("ruff:F541", "pylint:W1309"),
    "F632": ("ruff:F632", "pylint:R0123"),
    "B006": ("ruff:B006", "pylint:W0102"),
    "PLW0120": ("ruff:PLW0120", "pylint:W0120"),
    "F841": ("ruff:F841", "pylint:W0612", "pyright:reportUnusedVariable"),
}
_RUFF_OF_KEY = {key: code for code, keys in RUFF_FIXES.items() for key in keys}


@dataclass(frozen=True)
class Applied:
    """One fix that made it into the result."""

    rule: str  # rewrite id ("yaml-safe-load") or "ruff:F401"
    line: int  # the flagged line (for ruff's fixes: in the code after patchloop's own rewrites)
    description: str

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "line": self.line, "description": self.description}


@dataclass
class FixResult:
    code: str
    applied: list[Applied] = field(default_factory=list)
    error: str | None = None  # why a pass was dropped (it broke the code, ruff failed...)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def autofix(
    code: str,
    findings: Sequence[Finding],
    *,
    task: str = "",
    language: str = "python",
    rules: RuleSet | None = None,
    timeout: float = 30.0,
) -> FixResult:
    """Answer what can be answered of ``findings`` in ``code``; see the module docstring."""
    result = FixResult(code)
    if language != "python" or not findings:
        return result
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return result  # nothing mechanical to do for code that does not parse
    rules = rules if rules is not None else PYTHON_RULES
    context = FixContext(code, tree, task)
    proposed: list[Fix] = []
    for finding in sorted(findings, key=lambda f: (f.line, f.column)):
        rule = rules.rule_for(finding)
        if rule is None:
            continue
        try:
            fix = rule(context, finding)
        except Exception as exc:  # noqa: BLE001 - a rule's bug must not cost the loop its answer
            result.error = (
                f"rewrite for {finding.key} at line {finding.line} failed: {type(exc).__name__}: {exc}"
            )
            continue
        if fix is not None:
            proposed.append(fix)
    if proposed:
        fixed, taken = apply_edits(code, proposed)
        if _parses(fixed):
            result.code = fixed
            result.applied += [Applied(fix.rule, fix.line, fix.description) for fix in taken]
        else:
            result.error = "the rewrites produced code that does not parse; dropped them"
    codes = sorted({_RUFF_OF_KEY[k] for f in findings for k in (f.key, *f.also) if k in _RUFF_OF_KEY})
    if codes:
        _ruff_pass(result, codes, findings, timeout)
    return result


def _ruff_pass(result: FixResult, codes: list[str], findings: Sequence[Finding], timeout: float) -> None:
    try:
        before = ruff_findings(result.code, codes, timeout=timeout)
        fixed = ruff_fix(result.code, codes, timeout=timeout)
    except ToolFailure as exc:
        result.error = f"ruff --fix failed: {exc}"
        return
    if not result.code.startswith("\n"):
        fixed = fixed.lstrip("\n")  # a removed first import leaves its blank line behind
    if fixed == result.code:
        return
    if not _parses(fixed):
        result.error = "ruff's fixes produced code that does not parse; dropped them"
        return
    try:
        after = ruff_findings(fixed, codes, timeout=timeout)
    except ToolFailure as exc:
        result.error = f"ruff failed on its own fixes: {exc}"
        return
    # Claim only what ruff really fixed: an import a rewrite now uses is kept, and is not "fixed".
    remaining = [(item["code"], item["message"]) for item in after]
    result.code = fixed
    for item in before:
        key = (item["code"], item["message"])
        if key in remaining:
            remaining.remove(key)
            continue
        result.applied.append(Applied(f"ruff:{item['code']}", item["location"]["row"], item["message"]))


def _run_ruff(code: str, options: Sequence[str], select: Sequence[str], timeout: float) -> tuple[str, str]:
    """Run ``ruff check`` with ``options`` on ``code`` in a private temp dir; return its stdout and
    the file as ruff left it. Raises ``ToolFailure`` when ruff fails."""
    with tempdirs.temporary_dir("fix") as folder:
        path = Path(folder) / "solution.py"
        path.write_text(code, encoding="utf-8")
        run = run_tool(
            [
                "ruff",
                "check",
                "--isolated",
                "--no-cache",
                "--exit-zero",
                "--target-version",
                "py311",
                *options,
                "--select",
                ",".join(select),
                "--",
                str(path),
            ],
            timeout,
            cwd=path.parent,
        )
        if run.returncode != 0:
            raise ToolFailure(f"ruff exited with {run.returncode}: {run.stderr.strip()[:300]}")
        return run.stdout, path.read_text(encoding="utf-8")


def ruff_findings(code: str, select: Sequence[str], *, timeout: float = 30.0) -> list[dict]:
    """ruff's JSON findings for the ``select``ed rules (to tell what its fixes removed)."""
    import json

    stdout, _ = _run_ruff(code, ["--output-format", "json"], select, timeout)
    try:
        return list(json.loads(stdout))
    except ValueError as exc:
        raise ToolFailure(f"unreadable ruff output: {exc}") from exc


def ruff_fix(code: str, select: Sequence[str], *, timeout: float = 30.0) -> str:
    """``code`` after ruff's fixes for the ``select``ed rules (its "unsafe" ones included: see
    ``RUFF_FIXES`` for why each is safe here). Raises ``ToolFailure`` when ruff fails."""
    return _run_ruff(code, ["--fix-only", "--unsafe-fixes"], select, timeout)[1]


def _parses(code: str) -> bool:
    try:
        compile(code, "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


@dataclass
class FixOutcome:
    """Where ``fix_until_stable`` ended: the code, every fix kept, and the code's analysis."""

    code: str
    applied: list[Applied]
    analysis: Analysis
    passes: int  # rewrite passes that were kept


def fix_until_stable(
    code: str,
    analysis: Analysis,
    analyze: Callable[[str], Analysis],
    *,
    task: str = "",
    language: str = "python",
    threshold: str = "note",
    max_passes: int = 3,
) -> FixOutcome:
    """Rewrite, re-analyze and rewrite again while that helps: a fix can expose another (a
    rewritten call leaves its import unused). A pass is kept only when the analyzers still give
    a verdict and flag no more than before."""
    outcome = FixOutcome(code, [], analysis, 0)
    for _ in range(max_passes):
        flagged = outcome.analysis.flagged(threshold)
        if not flagged or outcome.analysis.errors:
            break
        result = autofix(outcome.code, flagged, task=task, language=language)
        if not result.changed or result.code == outcome.code:
            break
        after = analyze(result.code)
        if after.errors or len(after.flagged(threshold)) > len(flagged):
            break
        outcome = FixOutcome(result.code, outcome.applied + result.applied, after, outcome.passes + 1)
    return outcome
