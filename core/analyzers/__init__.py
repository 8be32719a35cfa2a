"""Static analyzers: suites of plug-ins run in parallel, merged into one verdict.

Suites (``SUITES``):

- ``defects`` (the role Svace plays in the paper): ruff's bug rules, pylint's bug messages,
  basedpyright's flow analysis and patchloop-ast. Syntax errors, undefined names, unreachable
  code, possibly-unbound variables, always-true/false conditions, None dereference, unused
  variables, files opened and never closed.
- ``security`` (the role Bandit plays): bandit, ruff's bandit ports (S-rules) and semgrep with
  patchloop's taint rules (user input reaching SQL, the shell, paths, URLs...; assets/semgrep/).
- ``all``: both.
- ``fast``: ruff (both rule sets) and patchloop-ast only, a few tens of milliseconds, for
  re-analyzing code while it streams in.

Those are Python's members; each analyzer runs only on the languages in its ``languages``. C and
C++: gcc's warnings, gcc's analyzer and cppcheck (defects), flawfinder, cppcheck-security and gcc's
analyzer (security); C#: mcs (defects), semgrep-csharp and mcs-compile (security); Rust: rustc and
clippy (defects), clippy-security and semgrep-rust (security); Java, JavaScript, PHP: see their modules.

Findings: line and column are 1-based (column 0: unknown). Severities are error|warning|note;
each analyzer module's docstring gives its mapping. Same-problem findings from several tools
are merged (see ``merge``).

A plug-in is any object with the ``Analyzer`` protocol (``base``); register it by adding a
factory to ``ANALYZERS`` and its name to a suite in ``SUITES``.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from .. import tempdirs
from ..languages import ANALYZED, language_of, normalise_language, script_language, solution_file
from ..types import WRONG_LANGUAGE, Analysis, AnalyzerResult, Finding
from .ast_checker import AstAnalyzer
from .bandit import bandit_analyzer
from .base import DEFAULT_INSTALL, Analyzer, OwnVersion, SecurityRules, ToolFailure, find_tool, run_tool
from .cppcheck import cppcheck_defects, cppcheck_security
from .eslint import eslint_analyzer
from .flawfinder import flawfinder_analyzer
from .gcc import gcc_analyzer, gcc_warnings
from .javac import javac_analyzer
from .mcs import mcs_analyzer, mcs_compile
from .merge import merge_findings, partition_skip
from .node_check import node_check_analyzer
from .php_lint import php_lint_analyzer
from .pylint import pylint_analyzer
from .pyright import pyright_analyzer
from .ruff import ruff_defects, ruff_security
from .runner import run_analyzers
from .rustc import clippy_lints, clippy_security, rustc_lints
from .semgrep import semgrep_analyzer
from .semgrep_compiled import semgrep_csharp, semgrep_rust
from .semgrep_langs import SemgrepLangsAnalyzer

__all__ = [
    "ANALYZERS",
    "SUITES",
    "Analyzer",
    "analyze_code",
    "analyze_file",
    "analyzer_tool",
    "available_analyzers",
    "get_analyzers",
    "language_of",
    "security_finding",
    "tool_version",
    "tools_by_language",
]

ANALYZERS: dict[str, Callable[[], Analyzer]] = {
    "ruff": ruff_defects,
    "ruff-security": ruff_security,
    "pylint": pylint_analyzer,
    "pyright": pyright_analyzer,
    "patchloop-ast": AstAnalyzer,
    "bandit": bandit_analyzer,
    "semgrep": semgrep_analyzer,
    "javac": javac_analyzer,
    "node-check": node_check_analyzer,
    "eslint": eslint_analyzer,
    "php-lint": php_lint_analyzer,
    "semgrep-langs": SemgrepLangsAnalyzer,
    "gcc": gcc_warnings,
    "gcc-analyzer": gcc_analyzer,
    "cppcheck": cppcheck_defects,
    "cppcheck-security": cppcheck_security,
    "flawfinder": flawfinder_analyzer,
    "mcs": mcs_analyzer,
    "rustc": rustc_lints,
    "clippy": clippy_lints,
    "clippy-security": clippy_security,
    "semgrep-csharp": semgrep_csharp,
    "semgrep-rust": semgrep_rust,
    "mcs-compile": mcs_compile,
}

# Python's tools of each role, and the checkers of Java, JavaScript and PHP, which are in both roles
# (code that does not parse is a defect, and never secure).
_PYTHON_DEFECTS = ("ruff", "pylint", "pyright", "patchloop-ast")
_PYTHON_SECURITY = ("bandit", "ruff-security", "semgrep")
_PARSE_CHECKS = ("javac", "node-check", "eslint", "php-lint")

SUITES: dict[str, tuple[str, ...]] = {
    "defects": (
        *_PYTHON_DEFECTS,
        *_PARSE_CHECKS,
        "gcc",
        "gcc-analyzer",
        "cppcheck",
        "mcs",
        "rustc",
        "clippy",
    ),
    "security": (
        *_PYTHON_SECURITY,
        *_PARSE_CHECKS,
        "semgrep-langs",
        "flawfinder",
        "cppcheck-security",
        "gcc-analyzer",
        "clippy-security",
        "semgrep-csharp",
        "mcs-compile",
        "semgrep-rust",
    ),
    "all": (
        *_PYTHON_DEFECTS,
        *_PYTHON_SECURITY,
        *_PARSE_CHECKS,
        "semgrep-langs",
        # cppcheck-security and mcs-compile repeat findings of cppcheck and mcs: the copies merge.
        "gcc",
        "gcc-analyzer",
        "cppcheck",
        "cppcheck-security",
        "flawfinder",
        "mcs",
        "mcs-compile",
        "rustc",
        "clippy",
        "clippy-security",
        "semgrep-csharp",
        "semgrep-rust",
    ),
    "fast": ("ruff", "ruff-security", "patchloop-ast"),
}

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def get_analyzers(suite: str) -> list[Analyzer]:
    """Fresh analyzer objects for ``suite``; ValueError names the known suites."""
    if suite not in SUITES:
        raise ValueError(f"unknown analyzer suite {suite!r}; choose one of: {', '.join(SUITES)}")
    unknown = [name for name in SUITES[suite] if name not in ANALYZERS]
    if unknown:
        raise ValueError(f"suite {suite!r} names unregistered analyzers: {', '.join(unknown)}")
    return [ANALYZERS[name]() for name in SUITES[suite]]


def analyze_code(
    code: str,
    suite: str = "all",
    *,
    language: str = "python",
    skip: Collection[str] = (),
    timeout: float = 60.0,
    filename: str | None = None,
) -> Analysis:
    """Write ``code`` to a fresh private temp dir as ``filename`` (default: ``solution`` and the
    language's suffix), run ``suite`` there in parallel, merge duplicates and apply ``skip``. The
    code is only read by the analyzers, never run.

    Findings are sorted by line. A language no analyzer of the suite handles gives one
    ``AnalyzerResult`` error ("no analyzer for LANGUAGE"), so such code is never called clean.
    Code whose "#!" line names another language's interpreter gets one ``wrong-language`` error
    finding instead of the suite's verdict.
    """
    analyzers = get_analyzers(suite)
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if filename is not None and (not _SAFE_FILENAME.match(filename) or ".." in filename):
        raise ValueError(f"filename must be a plain file name like 'solution.py', got {filename!r}")
    language = normalise_language(language)
    filename = filename or solution_file(language)  # solution.py, solution.java ...
    started = time.monotonic()
    runnable = [a for a in analyzers if language in a.languages]
    if not runnable:
        result = AnalyzerResult("patchloop", error=f"no analyzer for {language} in suite {suite!r}")
        return Analysis([], [result], time.monotonic() - started)
    written_in = script_language(code)
    if written_in and written_in != language:
        # A shell script fenced as Python: the suite's verdict on it would be a flood of syntax
        # errors; one finding that says what is wrong is what a repair request can act on.
        finding = Finding(
            "patchloop",
            WRONG_LANGUAGE,
            "error",
            f"this is a {written_in} script, not {language} code (its first line names the interpreter)",
            line=1,
        )
        result = AnalyzerResult("patchloop", findings=[finding], seconds=time.monotonic() - started)
        kept, skipped = partition_skip([finding], skip)
        return Analysis(kept, [result], result.seconds, skipped)
    # ignore_cleanup_errors: an analyzer given up on may still be reading the file. The folder's name
    # says whose it is, so one left by a killed patchloop is swept at the next start (core/tempdirs.py).
    with tempdirs.temporary_dir("analysis", ignore_cleanup_errors=True) as folder:
        path = Path(folder) / filename
        path.write_text(code, encoding="utf-8")
        results = run_analyzers(runnable, path, language, timeout)
    findings, skipped = partition_skip(merge_findings(f for r in results for f in r.findings), skip)
    return Analysis(findings, results, time.monotonic() - started, skipped)


# What ``start_tools`` analyzes: a small module importing what generated code imports most.
WARM_UP_SOURCE = '''import json
import os
from collections import defaultdict


def totals(path: str) -> dict[str, int]:
    """Sum the counts of a JSON file per name."""
    counts: dict[str, int] = defaultdict(int)
    with open(path, encoding="utf-8") as handle:
        for name, count in json.load(handle).items():
            counts[name] += int(count)
    return dict(counts)


print(totals(os.environ.get("COUNTS", "counts.json")))
'''


def start_tools(suite: str, language: str = "python") -> threading.Thread | None:
    """Start ``suite``'s long-lived tools for ``language`` in the background, so the first analysis
    finds them running (workers.py's workers and language servers: a first call starts them, 2-3 s
    on two cores, where a warm call takes a tenth of a second). A daemon thread analyzes
    ``WARM_UP_SOURCE`` and drops the verdict, errors included: the real call reports its own. None
    where nothing would be kept warm (the other languages' tools start per call)."""
    if suite not in SUITES or normalise_language(language) != "python":
        return None

    def warm_up() -> None:
        try:
            analyze_code(WARM_UP_SOURCE, suite)
        except Exception:  # noqa: BLE001, S110 - a warm-up has no verdict to give; the real call reports errors
            pass

    thread = threading.Thread(target=warm_up, name="patchloop-start-tools", daemon=True)
    thread.start()
    return thread


def analyze_file(
    path: Path,
    suite: str = "all",
    *,
    skip: Collection[str] = (),
    timeout: float = 60.0,
    code: str | None = None,
    language: str | None = None,
) -> Analysis:
    """Analyze a file on disk; the language comes from its suffix unless ``language`` says. The
    file is copied into a private temp dir first, so config files around it cannot change the
    verdict and nothing is written beside it. ``code``: its text when already read (the verdict is
    then on exactly the text the caller shows snippets of)."""
    path = Path(path)
    if code is None:
        code = read_source(path)
    filename = path.name if _SAFE_FILENAME.match(path.name) else "solution" + path.suffix
    return analyze_code(
        code, suite, language=language or language_of(path), skip=skip, timeout=timeout, filename=filename
    )


MAX_SOURCE_BYTES = 10 * 1024 * 1024


def read_source(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> str:
    """The text of a source file, or a ``ValueError`` that says why it is not one: not a regular
    file (a FIFO would block forever, /dev/zero never ends), larger than ``max_bytes``, binary
    (NUL bytes) or not UTF-8. ``OSError`` (missing, unreadable) passes through."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes // (1024 * 1024)} MB; analyze smaller files")
    if b"\0" in data:
        raise ValueError(f"{path} is a binary file, not source code")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None


def available_analyzers() -> dict[str, str | None]:
    """Every registered analyzer -> its version, or None when its executable is missing."""
    return {name: _analyzer_version(factory()) for name, factory in ANALYZERS.items()}


@dataclass(frozen=True)
class ToolStatus:
    """One analyzer as ``patchloop doctor`` shows it."""

    analyzer: str
    tool: str
    version: str | None  # None: its executable is missing
    install: str  # the command that installs it


def tools_by_language() -> dict[str, list[ToolStatus]]:
    """Every language a registered analyzer handles -> its analyzers, each with its version or the
    command that installs it (languages in ``ANALYZED`` order, then any other)."""
    statuses: dict[str, list[ToolStatus]] = {}
    for name, factory in ANALYZERS.items():
        analyzer = factory()
        status = ToolStatus(
            name,
            getattr(analyzer, "tool", name),
            _analyzer_version(analyzer),
            getattr(analyzer, "install", DEFAULT_INSTALL),
        )
        for language in analyzer.languages:
            statuses.setdefault(language, []).append(status)
    order = {language: n for n, language in enumerate(ANALYZED)}
    return dict(sorted(statuses.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def security_finding(finding: Finding) -> bool:
    """Whether ``finding`` is of the security role: its tool runs only in the ``security`` suite
    (bandit, semgrep, flawfinder ...), or it runs in both and its analyzer's ``security_rule`` says
    the rule is a security one (ESLint's security plug-ins beside its core rules)."""
    only_security, rule_checks = _security_tools()
    if finding.tool in only_security:
        return True
    return any(check(finding.rule_id) for check in rule_checks.get(finding.tool, ()))


@cache
def _security_tools() -> tuple[frozenset[str], dict[str, tuple[Callable[[str], bool], ...]]]:
    def tools(suite: str) -> dict[str, list[Analyzer]]:
        found: dict[str, list[Analyzer]] = {}
        for name in SUITES[suite]:
            analyzer = ANALYZERS[name]()
            found.setdefault(getattr(analyzer, "tool", name), []).append(analyzer)
        return found

    security, defects = tools("security"), tools("defects")
    checks = {
        tool: tuple(a.security_rule for a in analyzers if isinstance(a, SecurityRules))
        for tool, analyzers in security.items()
    }
    return frozenset(set(security) - set(defects)), checks


def analyzer_tool(analyzer: str) -> str:
    """The tool behind an analyzer name ("ruff-security" -> "ruff"); unknown names stay as they are."""
    factory = ANALYZERS.get(analyzer)
    return getattr(factory(), "tool", analyzer) if factory else analyzer


def tool_version(tool: str) -> str | None:
    """Version of the tool behind ``Finding.tool`` (e.g. "pyright" -> basedpyright's version)."""
    for factory in ANALYZERS.values():
        analyzer = factory()
        if getattr(analyzer, "tool", analyzer.name) == tool:
            return _analyzer_version(analyzer)
    return None


def _analyzer_version(analyzer: Analyzer) -> str | None:
    if isinstance(analyzer, OwnVersion):  # a tool run through another program (ESLint on node)
        return analyzer.version()
    executable = getattr(analyzer, "executable", None)
    distribution = getattr(analyzer, "distribution", None)
    return _version(executable, distribution)


@cache
def _version(executable: str | None, distribution: str | None) -> str | None:
    """None only when an external tool's executable cannot be found; in-process analyzers
    (no executable) are always available."""
    if executable is not None and find_tool(executable) is None:
        return None
    if distribution:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            pass
    if executable is None:
        return "unknown"
    try:
        run = run_tool([executable, "--version"], timeout=30)
    except ToolFailure:
        return None
    found = re.search(r"\d+(\.\d+)+", run.stdout + run.stderr)
    return found.group(0) if found else "unknown"
