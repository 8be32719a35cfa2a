"""semgrep with patchloop's C# rules (assets/semgrep/csharp/), the security role for C#: the Mono
compiler (the ``mcs`` analyzer) finds defects and no vulnerability. The rules cover what
CyberSecEval's detector reports in C#: SQL, command and XPath injection, ``System.Random``, MD5 and
SHA-1, DES/3DES/RC2 and ECB, XXE-prone XML settings, BinaryFormatter-style deserialization, open
redirects, ``[ValidateInput(false)]``, POST actions without ``[ValidateAntiForgeryToken]`` (CSRF)
and disabled certificate validation.

The run is ``semgrep.run_semgrep`` (fail closed: a missing engine, a timeout, rule errors and an
unscanned file are errors). When semgrep can parse the file only in part, mcs decides: code mcs
compiles is an error (semgrep gave no verdict on all of it); code it cannot compile keeps the
matches from the part semgrep read, plus mcs's compile errors, so broken C# never passes the
security suite (in ``all`` those merge with the ``mcs`` analyzer's own, same tool, rule and place).

Mapping: ``semgrep.finding_of`` (ERROR -> error, WARNING -> warning, INFO -> note; the rule's
``metadata.cwe`` and ``confidence``); findings report under the tool "semgrep".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..types import AnalyzerResult, Finding
from .base import ToolFailure, find_tool, guarded
from .mcs import McsAnalyzer
from .semgrep import finding_of, run_semgrep, semgrep_core_path, shipped_rule_files


def compile_errors(path: Path, timeout: float) -> list[Finding]:
    """mcs's errors on the file ([] when it compiles); a ToolFailure when mcs cannot say."""
    result = McsAnalyzer().analyze(path, "csharp", timeout)
    if result.error:
        raise ToolFailure(f"semgrep could not parse the file, and mcs could not check it: {result.error}")
    return [f for f in result.findings if f.severity == "error"]


@dataclass(frozen=True)
class SemgrepCsharpAnalyzer:
    name: str = "semgrep-csharp"
    languages: tuple[str, ...] = ("csharp",)
    tool: str = "semgrep"
    executable: str = "semgrep"
    distribution: str = "semgrep"
    install: str = "pip install semgrep"

    def analyze(self, path: Path, language: str, timeout: float) -> AnalyzerResult:
        def work() -> list[Finding]:
            if semgrep_core_path() is None and find_tool("semgrep") is None:
                raise ToolFailure(f"semgrep is not installed; install it with: {self.install}")
            rules = shipped_rule_files("csharp")
            if not rules:
                raise ToolFailure("no semgrep rules for csharp (assets/semgrep/csharp/ is empty)")
            scan = run_semgrep(rules, [path], language="csharp", timeout=timeout)
            findings = [finding_of(match) for match in scan.matches]
            if scan.unparsed:
                errors = compile_errors(path, timeout)
                if not errors:
                    raise ToolFailure("semgrep could not parse the file (mcs can): no verdict on all of it")
                findings += errors
            return findings

        return guarded(self.name, work)
