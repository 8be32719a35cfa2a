"""bandit, the security analyzer of the paper, read through its JSON report.

Severity mapping: bandit's issue_severity HIGH -> error, MEDIUM -> warning, LOW -> note;
issue_confidence HIGH/MEDIUM/LOW -> high/medium/low; issue_cwe.id -> "CWE-<id>".

Not run (``SKIPPED_TESTS``): B404 (``import subprocess``), B403 (``import pickle``), B603 (any
subprocess call without a shell) and B607 (a program found on PATH, such as "git"). They fire
on idiomatic code by themselves; the dangerous calls (shell=True, pickle.loads...) have their
own tests that stay on.

bandit cannot analyze a file that does not parse and says so only in its ``errors`` list; that
becomes a ``syntax-error`` finding (line from Python's own parser, which never runs the code) so
the security suite never calls broken code clean.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

from ..types import Finding
from .base import ToolFailure, check_exit
from .workers import WarmAnalyzer, run_tool_warm

SKIPPED_TESTS: tuple[str, ...] = ("B403", "B404", "B603", "B607")

SEVERITY = {"HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNDEFINED": "note"}
CONFIDENCE = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_SYNTAX_ERROR_REASON = "syntax error while parsing AST from file"


def syntax_error_finding(path: Path, tool: str) -> Finding:
    """The finding for a file that does not parse, positioned by Python's parser."""
    try:
        ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=path.name)
    except SyntaxError as exc:
        return Finding(
            tool, "syntax-error", "error", f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 0
        )
    return Finding(tool, "syntax-error", "error", "the file could not be parsed", 1)


def parse_bandit_json(stdout: str, path: Path) -> list[Finding]:
    report = json.loads(stdout)
    if not report.get("errors") and not any(name != "_totals" for name in report["metrics"]):
        raise ToolFailure("bandit scanned no file")  # e.g. excluded: an empty "results" is no verdict
    findings = []
    for error in report.get("errors", []):
        if error.get("reason") == _SYNTAX_ERROR_REASON:
            findings.append(syntax_error_finding(path, "bandit"))
        else:
            raise ToolFailure(f"bandit could not analyze the file: {error.get('reason')}")
    for item in report["results"]:
        cwe = (item.get("issue_cwe") or {}).get("id")
        end_offset = item.get("end_col_offset")  # on the node's last line, the last of line_range
        findings.append(
            Finding(
                tool="bandit",
                rule_id=item["test_id"],
                severity=SEVERITY.get(item["issue_severity"], "warning"),
                message=item["issue_text"],
                line=int(item["line_number"]),
                column=int(item.get("col_offset", -1)) + 1,
                confidence=CONFIDENCE.get(item.get("issue_confidence", ""), ""),
                cwe=f"CWE-{cwe}" if cwe else "",
                end_line=max(item.get("line_range") or [0]) if end_offset is not None else 0,
                end_column=int(end_offset) + 1 if end_offset is not None else 0,
            )
        )
    return findings


class BanditAnalyzer(WarmAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        argv = [
            self.executable,
            "--format",
            "json",
            "--quiet",
            "--skip",
            ",".join(SKIPPED_TESTS),
            "--",
            str(path),
        ]
        run = run_tool_warm("bandit", self.warm, argv, timeout, cwd=path.parent)
        # 0: no issues, 1: issues found; anything else is bandit failing.
        check_exit(run, "bandit", (0, 1), run.stderr)
        return parse_bandit_json(run.stdout, path)


def bandit_analyzer() -> BanditAnalyzer:
    return BanditAnalyzer("bandit", ("python",), tool="bandit", executable="bandit", distribution="bandit")


@cache
def bandit_test_names() -> dict[str, str]:
    """bandit's test names ("assert_used", "eval", "hashlib"...) -> test ids ("B101", "B307", "B324").

    Read from bandit's own plug-in registry, so skip lists may use names; {} if bandit is not
    importable. Only called when a skip entry is not a rule id.
    """
    try:
        from bandit.core import extension_loader
    except Exception:  # noqa: BLE001 - no bandit, no names; ids still work
        return {}
    manager = extension_loader.MANAGER
    names: dict[str, str] = {}
    for test_id, plugin in manager.plugins_by_id.items():
        if plugin.name != "blacklist":
            names[plugin.name] = test_id
    for test_id, entry in manager.blacklist_by_id.items():
        names[entry["name"]] = test_id
    return names
