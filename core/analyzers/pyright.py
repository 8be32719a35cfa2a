"""basedpyright (pyright with extra checks; it brings its own node) for flow-sensitive defects.

Each run gets a generated ``pyrightconfig.json`` in a private temp dir: type checking mode "off"
plus the ``report*`` switches in ``RULES``, so only defects are reported (None dereference,
possibly unbound names, always-true/false comparisons, unreachable code, wrong call arity...),
never missing annotations or ``Any`` noise (nor reportArgumentType, whose inferred list and
dict element types flag correct unannotated code such as appending a float to ``[1, 3]``, nor
reportUnusedVariable, which adds only comprehension and loop targets to what ruff F841 and
pylint W0612 already report), and a config file near the user's code cannot change
the verdict. Unresolved imports are not reported: generated code may use any package.

Severity mapping: the level set for each rule in ``RULES`` (pyright's "error"/"warning"/
"information" -> error/warning/note). Diagnostics without a rule are pyright's parse and
compile errors ("Expected ':'", "'return' outside function"); they become ``syntax-error``.
basedpyright has no CWE ids; the merge step adds them per problem class.

pyright reports 0-based lines and characters; findings carry 1-based ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import ToolFailure, check_exit, run_tool
from .lsp import PyrightServer, lsp_to_cli
from .workers import WarmAnalyzer, interpreter_tool, shared

RULES: dict[str, str] = {
    "reportUndefinedVariable": "error",
    "reportUnboundVariable": "error",
    "reportPossiblyUnboundVariable": "warning",
    "reportOptionalMemberAccess": "error",
    "reportOptionalSubscript": "error",
    "reportOptionalIterable": "error",
    "reportOptionalCall": "error",
    "reportOptionalOperand": "error",
    "reportOptionalContextManager": "error",
    "reportAttributeAccessIssue": "error",
    "reportCallIssue": "error",
    "reportIndexIssue": "error",
    "reportOperatorIssue": "error",
    "reportUnhashable": "error",
    "reportAbstractUsage": "error",
    "reportUnusedCoroutine": "error",
    "reportSelfClsParameterName": "error",
    "reportUnnecessaryComparison": "warning",
    "reportUnnecessaryContains": "warning",
    "reportAssertAlwaysTrue": "warning",
    "reportUnreachable": "warning",
    "reportUnusedExpression": "warning",
    "reportRedeclaration": "warning",
}

SEVERITY = {"error": "error", "warning": "warning", "information": "note"}

# What each rule in RULES reports, for SARIF rule descriptions (rule_docs.py).
RULE_SUMMARIES: dict[str, str] = {
    "reportUndefinedVariable": "A name is used that is not defined.",
    "reportUnboundVariable": "A variable is used before any assignment to it has run.",
    "reportPossiblyUnboundVariable": "A variable may be used before it is assigned on some path.",
    "reportOptionalMemberAccess": "An attribute is read from a value that may be None.",
    "reportOptionalSubscript": "A value that may be None is indexed.",
    "reportOptionalIterable": "A value that may be None is iterated over.",
    "reportOptionalCall": "A value that may be None is called.",
    "reportOptionalOperand": "A value that may be None is the left operand of an operator.",
    "reportOptionalContextManager": "A value that may be None is used in a with statement.",
    "reportAttributeAccessIssue": "An attribute is used that the object's type does not have.",
    "reportCallIssue": "A call does not match the parameters of the function it calls.",
    "reportIndexIssue": "A value is indexed in a way its type does not support.",
    "reportOperatorIssue": "An operator is applied to operands that do not support it.",
    "reportUnhashable": "An unhashable value is used as a dict key or set member.",
    "reportAbstractUsage": "An abstract class is instantiated or an abstract method is called.",
    "reportUnusedCoroutine": "A coroutine is called but never awaited.",
    "reportSelfClsParameterName": "A method's first parameter is not named self (or cls).",
    "reportUnnecessaryComparison": "A comparison is always true or always false for the types involved.",
    "reportUnnecessaryContains": "An 'in' test is always true or always false for the types involved.",
    "reportAssertAlwaysTrue": "An assert that always passes (asserting a non-empty tuple).",
    "reportUnreachable": "Code that can never run.",
    "reportUnusedExpression": "An expression statement whose value is never used.",
    "reportRedeclaration": "A name is declared again, hiding the earlier declaration.",
    "syntax-error": "The code does not parse.",
}


def pyright_config() -> dict:
    return {
        "typeCheckingMode": "off",
        "pythonVersion": f"{sys.version_info.major}.{sys.version_info.minor}",
        "enableReachabilityAnalysis": True,
        "reportMissingImports": "none",
        "reportMissingModuleSource": "none",
        **RULES,
    }


def parse_pyright_json(stdout: str) -> list[Finding]:
    report = json.loads(stdout)
    if report["summary"]["filesAnalyzed"] < 1:  # e.g. the file was excluded: no verdict, not clean
        raise ToolFailure("basedpyright analyzed no file")
    return pyright_findings(report["generalDiagnostics"])


def pyright_findings(diagnostics: list[dict]) -> list[Finding]:
    """Findings from diagnostics in the command line's shape (the language server's are converted
    to it by ``lsp.lsp_to_cli``)."""
    findings = []
    for item in diagnostics:
        if item["severity"] not in SEVERITY:
            continue  # "hint"/"unreachable"/"unused" tags are editor decorations, not diagnostics
        start, end = item["range"]["start"], item["range"]["end"]
        findings.append(
            Finding(
                tool="pyright",
                rule_id=item.get("rule") or "syntax-error",
                severity=SEVERITY[item["severity"]],
                message=" ".join(item["message"].split()),
                line=int(start["line"]) + 1,
                column=int(start["character"]) + 1,
                end_line=int(end["line"]) + 1,
                end_column=int(end["character"]) + 1,
            )
        )
    return findings


class PyrightAnalyzer(WarmAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        if self.warm and interpreter_tool(self.executable):
            return pyright_findings(
                [lsp_to_cli(item) for item in pyright_server().diagnostics(path, timeout)]
            )
        with tempdirs.temporary_dir("pyright") as config_dir:
            config = Path(config_dir) / "pyrightconfig.json"
            config.write_text(json.dumps(pyright_config()), encoding="utf-8")
            # --pythonpath: resolve imports against this interpreter's packages, not
            # whichever "python" is first on PATH.
            argv = [
                self.executable,
                "--outputjson",
                "--project",
                str(config),
                "--pythonpath",
                sys.executable,
                str(path),
            ]
            run = run_tool(argv, timeout, cwd=path.parent)
        # 0: no errors, 1: errors reported; 2 fatal, 3 config error, 4 bad arguments.
        check_exit(run, "basedpyright", (0, 1), run.stderr or run.stdout)
        return parse_pyright_json(run.stdout)


def pyright_analyzer() -> PyrightAnalyzer:
    return PyrightAnalyzer(
        "pyright", ("python",), tool="pyright", executable="basedpyright", distribution="basedpyright"
    )


def pyright_server() -> PyrightServer:
    """The process-wide language server for ``pyright_config()``."""
    return shared("pyright", lambda: PyrightServer(pyright_config()))
