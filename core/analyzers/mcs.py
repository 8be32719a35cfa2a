"""The Mono C# compiler (``mcs``) as the analyzer for C# (``defects``), read from its text output.

The file is compiled as a library (``-target:library``: code without ``Main`` is not an error)
at warning level 4 into a private folder, never run; on exit 0 the assembly must be there (mcs
prints nothing when there is no warning, so the file it wrote is the proof it compiled one). Level 4 adds, to the compile errors, the warnings
that are bugs in C#: unreachable code (CS0162), variables assigned and never used (CS0219) or
never used (CS0168), assignment to or comparison with the same variable (CS1717, CS1718),
a possibly mistaken empty statement (``if (x);``, CS0642), reference comparison where a value
comparison was meant (CS0252, CS0253), comparisons that are always true or false (CS0472,
CS0652), a missing return value path caught as error CS0161, fields never assigned (CS0649),
obsolete APIs (CS0612, CS0618) and more.

``REFERENCES``: the framework assemblies a model's answer commonly uses (ADO.NET, XML, HTTP,
ASP.NET and its MVC 3, serialization) are referenced, so ``using System.Data.SqlClient`` compiles; a missing one
(CS0006) is the set-up's fault, so it is an analyzer error naming the install command, not a
finding about the code.

mcs has no security checks: C#'s security analyzer is ``semgrep-csharp`` (core/analyzers/semgrep_compiled.py).
``mcs-compile`` (the ``security`` suite) is the same run reporting compile errors only, so broken C#
never passes the security suite (semgrep's parser reads on past a missing semicolon).

Language level: mcs compiles C# up to 7.2 (the last Mono compiler; Debian has no Roslyn or .NET SDK),
so C# 8 and later syntax (records, switch expressions, ``using var``, nullable annotations such as
``string?``, top-level statements) is a compile error here even where a newer compiler accepts it;
the fix hint for CS1525 says so, so the model is asked for C# 7.

Severity: ``error`` -> error, ``warning`` -> warning. Rule id: the compiler's code (``CS0162``).
Position: mcs's own, except where mcs reports the token after the problem: CS0642 is moved back
to the empty statement's ``;``, and an error "expecting `;'" to the end of the code before the gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_error_found, check_exit, require_tool, run_tool, tail

INSTALL = (
    "apt-get install mono-mcs libmono-system-data4.0-cil libmono-system-xml-linq4.0-cil "
    "libmono-system-net-http4.0-cil libmono-system-web4.0-cil libmono-system-runtime-serialization4.0-cil "
    "libmono-system-web-mvc3.0-cil"
)
REFERENCES: tuple[str, ...] = (
    "System.Data", "System.Xml", "System.Xml.Linq", "System.Net.Http", "System.Web",
    "System.Runtime.Serialization", "System.Numerics", "System.Web.Mvc",
)  # fmt: skip

CWE_OF_CODE: dict[str, str] = {
    "CS0162": "CWE-561", "CS0219": "CWE-563", "CS0168": "CWE-563", "CS1717": "CWE-480",
    "CS1718": "CWE-570", "CS0642": "CWE-483", "CS0252": "CWE-597", "CS0253": "CWE-597",
    "CS0472": "CWE-570", "CS0652": "CWE-570", "CS0665": "CWE-481", "CS0612": "CWE-477",
    "CS0618": "CWE-477", "CS0649": "CWE-456", "CS0169": "CWE-563", "CS0414": "CWE-563",
}  # fmt: skip

_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<column>\d+)\): (?P<kind>error|warning) "
    r"(?P<code>CS\d+): (?P<message>.*)$"
)
_GLOBAL = re.compile(r"^(?P<kind>error|warning) (?P<code>CS\d+): (?P<message>.*)$")


def _last_before(code: str, line: int, column: int, wanted: str | None) -> tuple[int, int]:
    """1-based position of the last ``wanted`` character (None: the last non-blank one) before
    (line, column); the position itself when there is none."""
    lines = code.split("\n")
    for number in range(min(line, len(lines)), 0, -1):
        text = lines[number - 1] if number != line else lines[number - 1][: max(column - 1, 0)]
        text = _without_line_comment(text).rstrip()
        at = text.rfind(wanted) if wanted else len(text) - 1
        if at >= 0:
            return number, at + 1
    return line, column


def _without_line_comment(text: str) -> str:
    """``text`` without a trailing ``// comment`` (a "//" inside a string literal stays)."""
    at = text.find("//")
    while at >= 0:
        if text.count('"', 0, at) % 2 == 0:
            return text[:at]
        at = text.find("//", at + 2)
    return text


def parse_mcs_output(output: str, path: Path, code: str) -> list[Finding]:
    findings = []
    for raw in output.splitlines():
        text = raw.strip()
        match = _DIAGNOSTIC.match(text)
        if match is None:
            loose = _GLOBAL.match(text)
            if loose and loose.group("code") == "CS0006":
                raise ToolFailure(
                    f"mcs lacks an assembly ({loose.group('message')}); install it with: {INSTALL}"
                )
            if loose and loose.group("kind") == "error":
                raise ToolFailure(f"mcs could not compile the file: {text}")
            continue
        if Path(match.group("file")).name != path.name:
            continue
        line, column = int(match.group("line")), int(match.group("column"))
        rule = match.group("code")
        if rule == "CS0642":
            line, column = _last_before(code, line, column, ";")
        elif "expecting `;'" in match.group("message"):
            # Reported at the token after the gap; the missing ";" belongs after the code before it.
            line, column = _last_before(code, line, column, None)
        findings.append(
            Finding(
                tool="mcs",
                rule_id=rule,
                severity="error" if match.group("kind") == "error" else "warning",
                message=match.group("message").strip(),
                line=line,
                column=column,
                cwe=CWE_OF_CODE.get(rule, ""),
            )
        )
    return findings


@dataclass(frozen=True)
class McsAnalyzer(ToolAnalyzer):
    errors_only: bool = False  # mcs-compile: whether it compiles, not its warnings

    def security_rule(self, rule_id: str) -> bool:
        """Nothing mcs reports is a vulnerability (mcs-compile is in the security suite only so that
        broken code is not called secure)."""
        return False

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        executable = require_tool(self.executable, self.install)
        with tempdirs.temporary_dir("mcs", ignore_cleanup_errors=True) as folder:
            assembly = Path(folder) / "solution.dll"
            argv = [
                executable, "-target:library", "-warn:4", "-nologo", f"-out:{assembly}",
                *(f"-r:{name}" for name in REFERENCES), "--", path.name,
            ]  # fmt: skip
            run = run_tool(argv, timeout, cwd=path.parent)
            # Success is silent when there is no warning: the assembly is the proof it compiled.
            compiled = assembly.is_file()
        output = run.stdout + "\n" + run.stderr
        check_exit(run, "mcs", (0, 1), output)
        code = path.read_text(encoding="utf-8", errors="replace")
        findings = parse_mcs_output(output, path, code)
        check_error_found(run, 1, findings, "mcs failed without an error about the file", output)
        if run.returncode == 0 and not compiled:
            raise ToolFailure(f"mcs exited 0 without writing the assembly: {tail(output)}")
        return [f for f in findings if f.severity == "error"] if self.errors_only else findings


def mcs_analyzer() -> McsAnalyzer:
    return McsAnalyzer("mcs", ("csharp",), tool="mcs", executable="mcs", install=INSTALL)


def mcs_compile() -> McsAnalyzer:
    return replace(mcs_analyzer(), name="mcs-compile", errors_only=True)
