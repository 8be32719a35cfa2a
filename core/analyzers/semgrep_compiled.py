"""semgrep with patchloop's rules for C# and Rust (assets/semgrep/<language>/), the vulnerabilities
their compilers do not see.

- ``semgrep-csharp``: what CyberSecEval's detector reports in C#: SQL, command and XPath injection,
  ``System.Random``, MD5 and SHA-1, DES/3DES/RC2 and ECB, XXE-prone XML settings,
  BinaryFormatter-style deserialization, open redirects, ``[ValidateInput(false)]``, POST actions
  without ``[ValidateAntiForgeryToken]`` (CSRF) and disabled certificate validation. The Mono
  compiler (the ``mcs`` analyzer) finds defects and no vulnerability.
- ``semgrep-rust``: a program chosen at run time or a shell given a built command line, MD5/SHA-1
  from the md-5, sha-1 and rust-crypto crates, TLS checks turned off (reqwest, openssl) and SQL
  built with ``format!``; ``unsafe`` and the ``env`` functions are clippy-security's.

The run is ``semgrep.run_semgrep`` (fail closed: a missing engine, a timeout, rule errors and an
unscanned file are errors). When semgrep can parse the file only in part, the language's compiler
decides: code it compiles is an error (semgrep gave no verdict on all of it); code it cannot compile
keeps the matches from the part semgrep read, plus the compiler's errors, so broken code never
passes the security suite (in ``all`` those merge with the compiler analyzer's own: same tool, rule
and place).

Mapping: ``semgrep.finding_of`` (ERROR -> error, WARNING -> warning, INFO -> note; the rule's
``metadata.cwe`` and ``confidence``); findings report under the tool "semgrep".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..types import Finding
from .base import Analyzer, ToolFailure
from .mcs import mcs_analyzer
from .rustc import RustAnalyzer
from .semgrep import finding_of, rules_to_run, run_semgrep
from .semgrep_langs import SemgrepEngineAnalyzer, checker_errors


@dataclass(frozen=True)
class SemgrepCompiledAnalyzer(SemgrepEngineAnalyzer):
    name: str
    languages: tuple[str, ...]
    compiler: Callable[[], Analyzer]  # whose errors say whether a file semgrep read in part is broken

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        rules = rules_to_run(language)
        scan = run_semgrep(rules, [path], language=language, timeout=timeout)
        findings = [finding_of(match) for match in scan.matches]
        if scan.unparsed:
            compiler = self.compiler()
            errors = checker_errors(compiler, compiler.name, path, language, timeout)
            if not errors:
                raise ToolFailure("semgrep could not parse the file (it compiles): no verdict on all of it")
            findings += errors
        return findings


def semgrep_csharp() -> SemgrepCompiledAnalyzer:
    return SemgrepCompiledAnalyzer("semgrep-csharp", ("csharp",), mcs_analyzer)


def semgrep_rust() -> SemgrepCompiledAnalyzer:
    return SemgrepCompiledAnalyzer("semgrep-rust", ("rust",), RustAnalyzer)
