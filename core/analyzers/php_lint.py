"""``php -l``, PHP's own compiler in lint mode, as the PHP defects analyzer: the file is compiled,
never run.

PHP stops at the first parse or compile error, so a file gets at most one ``error`` finding
(``parse-error``, or a compile error such as ``redeclared-function``, ``duplicate-parameter``,
``break-outside-loop``) plus every compile-time deprecation (``deprecated``, warning) and warning
before it. Positions are PHP's line (PHP gives no column). Code without a PHP open tag is analyzed
as PHP code (``as_php_source``), not as a template with nothing in it. Every error class is switched on and
shown on stderr (``-d`` settings, so a php.ini cannot hide them). Exit status 0 (no errors) or
255 (errors) with output parsed; anything else, or 255 without an error parsed, is the tool
failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_error_found, check_exit, require_tool, run_tool, tail

INSTALL = "apt-get install php-cli"

_DIAGNOSTIC = re.compile(
    r"^(?:PHP )?(?P<kind>Parse error|Fatal error|Warning|Deprecated|Notice|Compile Error|Compile Warning): "
    r"\s*(?P<message>.*) in (?P<file>.+?) on line (?P<line>\d+)$",
    re.MULTILINE,
)
_KIND = {"Parse error": "error", "Fatal error": "error", "Compile Error": "error", "Warning": "warning",
         "Compile Warning": "warning", "Deprecated": "warning", "Notice": "note"}  # fmt: skip
_RULES = (
    (re.compile(r"^syntax error"), "parse-error"),
    (re.compile(r"^Cannot redeclare"), "redeclared-function"),
    (re.compile(r"^Redefinition of parameter"), "duplicate-parameter"),
    (re.compile(r"not in the 'loop' or 'switch' context"), "break-outside-loop"),
    (re.compile(r"contains \d+ abstract method|abstract method.*cannot (contain|have) body|Class .* contains abstract"), "abstract-method"),
    (re.compile(r"^Cannot re-assign \$this"), "this-reassigned"),
    (re.compile(r"^Cannot (use|declare)"), "invalid-declaration"),
    (re.compile(r"^Optional parameter .* declared before required parameter"), "optional-before-required"),
)  # fmt: skip
_CWE = {"redeclared-function": "CWE-694", "duplicate-parameter": "CWE-694"}

_ARGS = ["-n", "-l", "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "log_errors=0",
         "-d", "display_startup_errors=0"]  # fmt: skip


_OPEN_TAG = re.compile(r"<\?(?:php\b|=)", re.IGNORECASE)
OPEN_TAG_LINE = "<?php\n"


@contextmanager
def as_php_source(path: Path) -> Iterator[tuple[Path, int]]:
    """The file to analyze for ``path`` and how many lines were added before its code. PHP code
    without an open tag (``function f() {...}`` fenced as php, as models often answer) would be read
    as an HTML template, in which nothing is PHP and nothing can be found; it is analyzed as PHP, a
    copy with ``<?php`` on a line of its own in a private folder (so findings move up one line)."""
    code = path.read_text(encoding="utf-8", errors="replace")
    if _OPEN_TAG.search(code):
        yield path, 0
        return
    with tempdirs.temporary_dir("php", ignore_cleanup_errors=True) as folder:
        source = Path(folder) / path.name
        source.write_text(OPEN_TAG_LINE + code, encoding="utf-8")
        yield source, 1


def shift_lines(findings: list[Finding], added: int) -> list[Finding]:
    """Findings on the analyzed copy, placed back in the original code (lines it did not have: 1)."""
    if not added:
        return findings
    return [
        replace(f, line=max(1, f.line - added), end_line=max(0, f.end_line - added) if f.end_line else 0)
        for f in findings
    ]


def php_rule(kind: str, message: str) -> str:
    for pattern, rule in _RULES:
        if pattern.search(message):
            return rule
    return {"Parse error": "parse-error", "Deprecated": "deprecated", "Notice": "notice"}.get(
        kind, "compile-error" if _KIND[kind] == "error" else "compile-warning"
    )


def parse_php_lint(output: str, filename: str) -> list[Finding]:
    findings = []
    for match in _DIAGNOSTIC.finditer(output):
        if Path(match["file"]).name != filename:
            continue
        rule = php_rule(match["kind"], match["message"])
        findings.append(
            Finding(
                "php-lint",
                rule,
                _KIND[match["kind"]],
                match["message"].strip(),
                int(match["line"]),
                cwe=_CWE.get(rule, ""),
            )
        )
    return findings


class PhpLintAnalyzer(ToolAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        require_tool(self.executable, self.install)
        with as_php_source(path) as (source, added):
            run = run_tool([self.executable, *_ARGS, source.name], timeout, cwd=source.parent)
        check_exit(run, "php -l", (0, 255), run.stderr + run.stdout)
        findings = shift_lines(parse_php_lint(run.stderr, source.name), added)
        if run.returncode == 0 and "No syntax errors detected" not in run.stdout:
            raise ToolFailure(f"php -l did not say it checked the file: {tail(run.stderr + run.stdout)}")
        check_error_found(
            run, 255, findings, "php -l failed without a readable error", run.stderr + run.stdout
        )
        return findings


def php_lint_analyzer() -> PhpLintAnalyzer:
    return PhpLintAnalyzer("php-lint", ("php",), tool="php-lint", executable="php", install=INSTALL)
