"""GCC as an analyzer for C and C++: the compiler's warnings (``gcc``) and its static analyzer
(``gcc-analyzer``, ``-fanalyzer``, C only), read through ``-fdiagnostics-format=json``.

``gcc``: ``-Wall -Wextra`` plus the security-relevant warnings that are off by default
(``-Wformat=2``: format strings not literal, ``-Wformat-overflow=2``/``-Wformat-truncation=2``:
sprintf/snprintf into buffers too small, ``-Wstringop-overflow=3``, ``-Warray-bounds=2``,
``-Wnull-dereference``). It compiles at ``-O2`` into nothing (``-c -o /dev/null``) rather than
``-fsyntax-only``: uninitialized values, use after free, array bounds and string overflows are
found by the optimiser's passes, which ``-fsyntax-only`` never runs. The code is compiled, never
linked or run.

``gcc-analyzer``: ``-fanalyzer`` explores paths through each function and reports double free,
use after free, NULL dereference, leaks, uninitialized values and unsafe calls in signal
handlers, each with a CWE. Only its own ``-Wanalyzer-*`` diagnostics are kept (the compiler's
are the ``gcc`` analyzer's job; a file that does not compile is reported by both, and merged).
It sits in the ``defects`` suite (these are memory-safety bugs) and in ``security`` as well:
CWE-415/416/476/401 are the vulnerabilities C code is exploited through, and a C file must not
pass the security suite with a double free in it. GCC 12's analyzer is meant for C only: on C++
it takes seconds for a file that includes the standard containers and reports false paths
(``new`` returning NULL), so for C++ ``gcc-analyzer`` only checks that the file compiles
(``-fsyntax-only``, errors only), which keeps broken C++ from passing the security suite.

Severity: GCC's ``error``/``fatal error`` -> error; ``-Wanalyzer-*`` that are certain on the
path shown (double free, use after free, NULL dereference) -> error, the other analyzer
warnings -> warning; compiler warnings -> warning; ``note`` lines are GCC's explanations of a
warning and are not findings. Rule id: the option without its dash (``Wformat-security``,
``Wanalyzer-double-free``); an error without an option is ``compile-error``. CWE: the
analyzer's own metadata, else ``CWE_OF_OPTION``. The analyzer's findings report under the tool
"gcc-analyzer", so its use after free and the compiler's on the same line merge as two tools' view
of one problem (``merge.EQUIVALENT``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..types import Finding
from .base import GuardedAnalyzer, ToolFailure, check_error_found, require_tool, run_tool, tail

INSTALL = {"gcc": "apt-get install gcc", "g++": "apt-get install g++"}

WARNING_FLAGS: tuple[str, ...] = (
    "-Wall", "-Wextra", "-Wformat=2", "-Wformat-security", "-Wformat-overflow=2",
    "-Wformat-truncation=2", "-Wstringop-overflow=3", "-Warray-bounds=2", "-Wnull-dereference",
    "-Wshift-overflow=2", "-Wcast-align=strict", "-Wduplicated-cond", "-Wlogical-op",
)  # fmt: skip

STANDARD = {"c": "-std=gnu17", "cpp": "-std=gnu++17"}
LANGUAGE_FLAG = {"c": "c", "cpp": "c++"}

CERTAIN_ANALYZER_WARNINGS = frozenset(
    {"Wanalyzer-double-free", "Wanalyzer-use-after-free", "Wanalyzer-null-dereference",
     "Wanalyzer-free-of-non-heap", "Wanalyzer-double-fclose", "Wanalyzer-out-of-bounds"}
)  # fmt: skip

CWE_OF_OPTION: dict[str, str] = {
    "Wformat-security": "CWE-134", "Wformat-nonliteral": "CWE-134", "Wformat-overflow=": "CWE-120",
    "Wformat-truncation=": "CWE-120", "Wstringop-overflow=": "CWE-120", "Wstringop-overflow": "CWE-120",
    "Warray-bounds": "CWE-119", "Warray-bounds=": "CWE-119", "Wuninitialized": "CWE-457",
    "Wmaybe-uninitialized": "CWE-457", "Wuse-after-free": "CWE-416", "Wuse-after-free=": "CWE-416",
    "Wfree-nonheap-object": "CWE-590", "Wnull-dereference": "CWE-476", "Wunused-variable": "CWE-563",
    "Wunused-but-set-variable": "CWE-563", "Wreturn-type": "CWE-758", "Wimplicit-function-declaration": "CWE-676",
    "Wdangling-pointer": "CWE-562", "Wdangling-pointer=": "CWE-562", "Wreturn-local-addr": "CWE-562",
    "Wsizeof-pointer-memaccess": "CWE-467", "Wduplicated-cond": "CWE-561", "Wparentheses": "CWE-481",
    "Wdeprecated-declarations": "CWE-477", "Wlogical-op": "CWE-480",
}  # fmt: skip


def option_rule(option: str) -> str:
    """ "-Wformat-overflow=" -> "Wformat-overflow" (GCC names a levelled option with its "=")."""
    return option.lstrip("-").rstrip("=")


def _location(diagnostic: dict, path: Path) -> tuple[int, int, int, int]:
    """Start line/column and end line/column (one past the last character) in ``path``;
    (1, 0, 0, 0) for a diagnostic about no place in it (e.g. a command-line warning)."""
    for location in diagnostic.get("locations") or []:
        caret = location.get("caret") or {}
        if Path(caret.get("file", "")).name != path.name:
            continue
        start = location.get("start") or caret
        finish = location.get("finish") or {}
        end_line = int(finish.get("line", 0))
        end_column = int(finish.get("column", 0)) + 1 if end_line else 0
        return int(start.get("line", 1)), int(start.get("column", 0)), end_line, end_column
    return 1, 0, 0, 0


def parse_gcc_json(stderr: str, path: Path, tool: str, keep: str = "compiler") -> list[Finding]:
    """GCC's JSON diagnostics -> findings. ``keep``: "compiler" (errors and every warning that is
    not the analyzer's) or "analyzer" (``-Wanalyzer-*`` and errors)."""
    text = stderr.strip()
    start = text.find("[")
    if start < 0:
        raise ValueError(f"no JSON diagnostics in the compiler's output: {tail(text)}")
    # A fatal error (a missing header) is followed by a plain "compilation terminated." line.
    diagnostics, _ = json.JSONDecoder().raw_decode(text[start:])
    findings = []
    for diagnostic in diagnostics:
        kind = diagnostic["kind"]
        if kind not in ("error", "fatal error", "warning"):
            continue  # "note": GCC's explanation of the warning before it
        rule = option_rule(diagnostic.get("option", "")) or "compile-error"
        is_analyzer = rule.startswith("Wanalyzer-")
        if kind == "warning" and is_analyzer != (keep == "analyzer"):
            continue
        if kind != "warning" and not diagnostic.get("locations"):
            # About no place at all: the file missing or unreadable, a bad flag. No verdict on code.
            raise ToolFailure(f"{tool} could not compile the file: {diagnostic['message']}")
        line, column, end_line, end_column = _location(diagnostic, path)
        cwe = (diagnostic.get("metadata") or {}).get("cwe")
        severity = "error" if kind != "warning" or rule in CERTAIN_ANALYZER_WARNINGS else "warning"
        findings.append(
            Finding(
                tool=tool,
                rule_id=rule,
                severity=severity,
                message=diagnostic["message"],
                line=line,
                column=column,
                cwe=f"CWE-{cwe}" if cwe else CWE_OF_OPTION.get(diagnostic.get("option", "").lstrip("-"), ""),
                end_line=end_line,
                end_column=end_column,
            )
        )
    return findings


def compiler_for(language: str) -> str:
    return "g++" if language == "cpp" else "gcc"


@dataclass(frozen=True)
class GccAnalyzer(GuardedAnalyzer):
    """The compiler's warnings (``analyzer=False``) or its static analyzer (``analyzer=True``)."""

    name: str = "gcc"
    languages: tuple[str, ...] = ("c", "cpp")
    tool: str = "gcc"
    analyzer: bool = False
    install: str = "apt-get install gcc g++"

    @property
    def executable(self) -> str:
        return "gcc"

    def security_rule(self, rule_id: str) -> bool:
        """The analyzer's memory-safety findings are the security role; compile errors are not."""
        return self.analyzer and rule_id.startswith("Wanalyzer-")

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        compiler = compiler_for(language)
        executable = require_tool(compiler, INSTALL[compiler])
        if self.analyzer:
            flags = ["-fanalyzer", "-O0", "-c"] if language == "c" else ["-fsyntax-only"]
        else:
            flags = ["-O2", *WARNING_FLAGS, "-c"]
        argv = [
            executable, f"-x{LANGUAGE_FLAG[language]}", STANDARD[language],
            "-fdiagnostics-format=json", *flags, "-o", "/dev/null", path.name,
        ]  # fmt: skip
        run = run_tool(argv, timeout, cwd=path.parent)
        # 0: compiled, 1: errors in the code; anything else (a signal, an internal compiler
        # error, exit 4) is the compiler failing, not a verdict.
        if run.returncode not in (0, 1) or re.search(r"internal compiler error", run.stderr):
            raise ToolFailure(f"{compiler} exited with {run.returncode}: {tail(run.stderr)}")
        findings = parse_gcc_json(run.stderr, path, self.tool, "analyzer" if self.analyzer else "compiler")
        check_error_found(run, 1, findings, f"{compiler} failed without saying why", run.stderr)
        return findings


def gcc_warnings() -> GccAnalyzer:
    return GccAnalyzer()


def gcc_analyzer() -> GccAnalyzer:
    return GccAnalyzer(name="gcc-analyzer", languages=("c", "cpp"), tool="gcc-analyzer", analyzer=True)
