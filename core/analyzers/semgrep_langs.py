"""semgrep with patchloop's pattern rules for Java, JavaScript and PHP (assets/semgrep/<language>/),
the security role for languages whose compilers and linters find defects but few vulnerabilities:
weak random numbers, hashes and ciphers, command and SQL injection, unsafe deserialization, SSRF,
XXE, XSS, open redirects, file inclusion, hard-coded secrets, spoofable client addresses.

The run itself is ``semgrep.run_semgrep`` (fail closed: missing engine, timeout, rule errors and an
unscanned file are errors). When semgrep can parse the file only in part, the language's own parser
(the suite's defects analyzer: javac, node --check, php -l) decides: broken code keeps the matches
from the part semgrep read (the parser's analyzer reports the syntax error itself); code the
parser accepts is an error, since semgrep gave no verdict on all of it.

Mapping: as ``semgrep.finding_of`` (ERROR -> error, WARNING -> warning, INFO -> note; the rule's
``metadata.cwe``); findings report under the tool "semgrep".
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..types import Finding
from .base import Analyzer, GuardedAnalyzer, ToolFailure
from .javac import javac_analyzer
from .node_check import node_check_analyzer
from .php_lint import as_php_source, php_lint_analyzer, shift_lines
from .semgrep import finding_of, rules_to_run, run_semgrep

# The analyzer whose verdict says whether a file of the language parses at all.
PARSERS: dict[str, Callable[[], Analyzer]] = {
    "java": javac_analyzer, "javascript": node_check_analyzer, "php": php_lint_analyzer,
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class SemgrepEngineAnalyzer(GuardedAnalyzer):
    """What the analyzers of patchloop's rules for a language with a checker of its own (semgrep-langs
    here; semgrep-csharp and semgrep-rust, semgrep_compiled.py) report under and run."""

    tool: str = "semgrep"
    executable: str = "semgrep"
    distribution: str = "semgrep"
    install: str = "pip install semgrep"


def checker_errors(checker: Analyzer, who: str, path: Path, language: str, timeout: float) -> list[Finding]:
    """The errors ``checker`` (the language's parser or compiler, ``who`` in a message) finds in the
    file, [] when it accepts it; a ToolFailure when it cannot say."""
    result = checker.analyze(path, language, timeout)
    if result.error:
        raise ToolFailure(f"semgrep could not parse the file, and {who} could not check it: {result.error}")
    return [f for f in result.findings if f.severity == "error"]


def parses(path: Path, language: str, timeout: float) -> bool:
    """True when the language's own parser accepts the file; a ToolFailure when it cannot say."""
    return not checker_errors(PARSERS[language](), "its parser", path, language, timeout)


@dataclass(frozen=True)
class SemgrepLangsAnalyzer(SemgrepEngineAnalyzer):
    name: str = "semgrep-langs"
    languages: tuple[str, ...] = tuple(PARSERS)

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        rules = rules_to_run(language)
        php = language == "php"
        with as_php_source(path) if php else nullcontext((path, 0)) as (source, added):
            scan = run_semgrep(rules, [source], language=language, timeout=timeout)
        if scan.unparsed and parses(path, language, timeout):
            raise ToolFailure(f"semgrep could not parse the file ({language} can): no verdict on all of it")
        return shift_lines([finding_of(match) for match in scan.matches], added)
