"""semgrep with patchloop's own taint and pattern rules (assets/semgrep/python/), and the one function
that runs any set of semgrep rule files on any files (``run_semgrep``).

Engine: the ``semgrep-core`` binary bundled in the ``semgrep`` package, called directly (about
0.12 s a file against about 1.9 s for the ``semgrep scan`` Python wrapper, same results), with all
rule files combined into one rules file (semgrep-core takes one) and one call for all targets (a
``-targets`` list when there are several). Its scan-over-RPC mode, which would keep one process
warm, is a proprietary (semgrep-pro) feature in 1.185, so each call starts the engine (about 0.15 s
of CPU); the analyzer first checks semgrep's own prefilter of the rules (``may_match``) and does
not start the engine on code no rule could match (most small functions). Without the bundled
binary, ``semgrep scan --metrics=off --disable-version-check`` is used. Both run offline: no
registry rules, no login, no metrics.

Fail closed (``ToolFailure``, so the analyzer reports an error, never "clean"): the engine is
missing, times out, exits non-zero, prints no JSON, reports an error (a rule it could not read, a
rule that timed out, ...), or does not list a target among the files it scanned. A parse error is
not a failure of the scan: semgrep's parser recovers and matches the rest. Python's own parser then
decides: code that does not parse gets a ``syntax-error`` finding (as bandit's does) beside what
semgrep still matched; code that parses but that semgrep could read only in part is an error (no
verdict on all of it). semgrep does not always report broken code, hence Python's check.

Severity mapping: a rule's ERROR -> error, WARNING -> warning, INFO -> note. CWE: the first
``CWE-<n>`` in the rule's ``metadata.cwe`` (a string or a list); confidence: ``metadata.confidence``
(HIGH/MEDIUM/LOW) in lower case. Each rule's fix hint is ``semgrep:<rule id>`` in
assets/hints/python.toml.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from .. import tempdirs
from ..types import Finding
from . import base
from .bandit import syntax_error_finding
from .base import ToolAnalyzer, ToolFailure, check_exit, find_tool, run_tool, tail
from .semgrep_prefilter import prefilter_conditions
from .semgrep_rules import combined_rules, only_rules, rule_file_key, shipped_rule_files

SEVERITY = {"ERROR": "error", "WARNING": "warning", "INFO": "note"}
CONFIDENCE = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_CWE = re.compile(r"CWE-(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class SemgrepMatch:
    """One result of one rule on one file, positions 1-based (``end_column`` one past the end)."""

    rule_id: str  # the rule's own ``id`` (the wrapper's path prefix removed)
    path: str  # the target as it was passed in
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    severity: str  # semgrep's own level: ERROR | WARNING | INFO
    metadata: dict[str, Any] = field(default_factory=dict)
    code: str = ""  # the matched text, where the engine gives it


@dataclass(frozen=True)
class SemgrepScan:
    """What one ``run_semgrep`` call found, and the targets it scanned (every one it was given)."""

    matches: list[SemgrepMatch]
    scanned: tuple[str, ...]
    engine: str  # "semgrep-core" or "semgrep"
    # Targets semgrep could parse only in part (broken code): their matches are from the parts it read.
    unparsed: tuple[str, ...] = ()


def run_semgrep(
    rule_files: Sequence[str | Path],
    targets: Sequence[str | Path],
    *,
    language: str = "python",
    timeout: float = 60.0,
    rule_ids: frozenset[str] | None = None,
) -> SemgrepScan:
    """Run every rule in ``rule_files`` (semgrep YAML, each with a top-level ``rules`` list) on each
    of ``targets`` as ``language`` source, offline, and return the parsed matches.

    One engine call for all targets and all rules; ``timeout`` is per target (the call's deadline is
    ``timeout`` times the number of targets). Raises ``ToolFailure`` when the engine is missing,
    hangs, fails, prints unreadable output, reports an error (a rule it cannot compile, a target it
    cannot read) or leaves a target unscanned; ``ValueError`` for no rules or a rule file without a
    ``rules`` list. A target that does not parse is not an error: semgrep's parser recovers, the
    matches in what it read are returned and the target is listed in ``unparsed`` (the caller
    decides; the analyzer reports a syntax error). Matches come in target order, then by position,
    with ``path`` as the caller gave it. Rules for other languages in the files are ignored. Without
    the bundled engine, ``semgrep scan`` picks each target's language from its suffix.

    ``rule_ids``: run only these rules of the files (``rules_that_may_match`` says which can match).

    A stable interface: the analyzers (Python here, other languages beside it) and the CyberSecEval
    ICD evaluation call it.
    """
    if not targets:
        return SemgrepScan([], (), _engine_name())
    combined = combined_rules(tuple(rule_file_key(Path(p)) for p in rule_files))
    if rule_ids is not None:
        combined = only_rules(combined, rule_ids)
    with tempdirs.temporary_dir("semgrep", ignore_cleanup_errors=True) as folder:
        rules_path = Path(folder) / "rules.json"
        rules_path.write_text(combined, encoding="utf-8")
        core = semgrep_core_path()
        if core is not None:
            matches, unparsed = _run_core(core, rules_path, [Path(t) for t in targets], language, timeout)
            engine = "semgrep-core"
        else:
            matches, unparsed = _run_wrapper(rules_path, [Path(t) for t in targets], timeout)
            engine = "semgrep"
    return SemgrepScan(matches, tuple(str(t) for t in targets), engine, tuple(unparsed))


@cache
def semgrep_core_path() -> str | None:
    """The ``semgrep-core`` binary shipped inside the installed ``semgrep`` package, if any.

    Found through the package's files (never by importing semgrep, which is slow and sets up
    logging); a ``semgrep-core`` on PATH is not used, since its version may not match."""
    try:
        from importlib import util

        spec = util.find_spec("semgrep")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "semgrep-core"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _engine_name() -> str:
    return "semgrep-core" if semgrep_core_path() else "semgrep"


def _run_core(
    core: str, rules: Path, targets: list[Path], language: str, timeout: float
) -> tuple[list[SemgrepMatch], list[str]]:
    """One semgrep-core call for all targets: a single file on the command line, several through a
    ``-targets`` file (one start-up, about 0.15 s of CPU, for the whole batch)."""
    paths: dict[str, str] = {}
    for target in targets:
        absolute = target.absolute()  # the engine runs in the rules' folder
        if not absolute.is_file():
            raise ToolFailure(f"semgrep cannot scan {target}: not a file")
        paths[str(absolute)] = str(target)
    argv = [core, "-rules", str(rules), "-json_nodots", "-timeout", f"{timeout:g}"]
    if len(paths) == 1:
        # -j 1: no worker process forked for the one file (0.04 s of CPU less, the same matches).
        argv += ["-j", "1", "-lang", language, next(iter(paths))]
    else:
        listing = rules.parent / "targets.json"
        listing.write_text(json.dumps(["Targets", [
            ["CodeTarget", {"path": {"fpath": path, "ppath": path}, "analyzer": language, "products": ["sast"]}]
            for path in paths
        ]]), encoding="utf-8")  # fmt: skip
        argv += ["-targets", str(listing)]
    run = run_tool(argv, timeout * len(paths), cwd=rules.parent)
    if run.returncode != 0:
        raise ToolFailure(f"semgrep-core exited with {run.returncode}: {_reason(run.stderr or run.stdout)}")
    report = _json_report(run.stdout, "semgrep-core")
    order = list(paths.values())
    found = sorted(_matches(report, paths, set()), key=lambda m: order.index(m.path))
    return found, _check_report(report, paths)


def _reason(output: str) -> str:
    """The line of an OCaml backtrace that says what went wrong, not the call chain under it."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    said = [
        line
        for line in lines
        if not line.startswith(("Called from", "Raised at", "Re-raised at", "Raised by"))
    ]
    return tail(" ".join(said[:3]) if said else " ".join(lines[:3]), 300)


def _run_wrapper(rules: Path, targets: list[Path], timeout: float) -> tuple[list[SemgrepMatch], list[str]]:
    argv = [
        "semgrep", "scan", "--config", str(rules), "--json", "--metrics=off", "--disable-version-check",
        "--no-git-ignore", "--quiet", "--timeout", f"{timeout:g}", "--", *(str(t) for t in targets),
    ]  # fmt: skip
    run = run_tool(argv, timeout * max(1, len(targets)), cwd=rules.parent)
    # 0: nothing found, 1: findings; anything else (2 and up) is semgrep failing.
    check_exit(run, "semgrep", (0, 1), run.stderr or run.stdout)
    report = _json_report(run.stdout, "semgrep")
    rule_ids = {rule["id"] for rule in json.loads(rules.read_text(encoding="utf-8"))["rules"]}
    paths = {str(t.absolute()): str(t) for t in targets}
    return _matches(report, paths, rule_ids), _check_report(report, paths)


def _json_report(stdout: str, engine: str) -> dict:
    start = stdout.find("{")
    if start < 0:
        raise ToolFailure(f"{engine} printed no JSON report: {tail(stdout) or '(nothing)'}")
    try:
        report, _end = json.JSONDecoder().raw_decode(stdout, start)
    except json.JSONDecodeError as exc:
        raise ToolFailure(f"{engine} printed unreadable JSON: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise ToolFailure(f"{engine}'s report has no results list")
    return report


# semgrep's error types for a target it could not parse (whole or in part); any other error is a failure.
_PARSE_ERRORS = {"PartialParsing", "Syntax error", "Lexical error", "Other syntax error", "AST builder error"}


def _check_report(report: dict, paths: dict[str, str]) -> list[str]:
    """Fail on any error but a parse error and on an unscanned target; return the unparsed targets.

    ``paths``: absolute target path -> the path as the caller gave it."""
    unparsed = []
    for error in report.get("errors") or []:
        kind = error.get("error_type", error.get("type"))
        kind = kind[0] if isinstance(kind, list) and kind else kind
        where = _real((error.get("location") or {}).get("path") or error.get("path") or "")
        if kind in _PARSE_ERRORS and where in {_real(p) for p in paths}:
            unparsed.append(next(shown for p, shown in paths.items() if _real(p) == where))
            continue
        text = error.get("message") or kind or str(error)
        raise ToolFailure(f"semgrep reported an error: {tail(str(text), 300)}")
    scanned = {_real(p) for p in (report.get("paths") or {}).get("scanned", [])}
    missing = [shown for path, shown in paths.items() if _real(path) not in scanned]
    if missing:
        raise ToolFailure(f"semgrep scanned no file of {', '.join(missing)}")
    return sorted(set(unparsed), key=list(paths.values()).index)


def _real(path: str) -> str:
    return os.path.realpath(path) if path else ""


def _matches(report: dict, paths: dict[str, str], rule_ids: set[str]) -> list[SemgrepMatch]:
    matches = []
    for item in report["results"]:
        extra = item.get("extra") or {}
        rule_id = _rule_id(item["check_id"], rule_ids)
        path = item["path"]
        matches.append(
            SemgrepMatch(
                rule_id=rule_id,
                path=paths.get(path)
                or next((shown for p, shown in paths.items() if _real(p) == _real(path)), path),
                line=int(item["start"]["line"]),
                column=int(item["start"]["col"]),
                end_line=int(item["end"]["line"]),
                end_column=int(item["end"]["col"]),
                message=str(extra.get("message", "")).strip(),
                severity=str(extra.get("severity", "WARNING")).upper(),
                metadata=dict(extra.get("metadata") or {}),
                code=str(extra.get("lines", "")),
            )
        )
    return sorted(matches, key=lambda m: (m.line, m.column, m.rule_id))


def _rule_id(check_id: str, rule_ids: set[str]) -> str:
    """The wrapper prefixes a rule's id with its file's dotted path; give back the rule's own id."""
    if check_id in rule_ids or not rule_ids:
        return check_id
    return next((rid for rid in rule_ids if check_id.endswith("." + rid)), check_id)


# --- the analyzer -------------------------------------------------------------------------------


def cwe_of(metadata: dict[str, Any]) -> str:
    """ "CWE-89" from a rule's ``metadata.cwe`` ("CWE-89: SQL injection", or a list of such)."""
    value = metadata.get("cwe", "")
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    found = _CWE.search(text)
    return f"CWE-{found.group(1)}" if found else ""


def finding_of(match: SemgrepMatch) -> Finding:
    return Finding(
        tool="semgrep",
        rule_id=match.rule_id,
        severity=SEVERITY.get(match.severity, "warning"),
        message=match.message,
        line=match.line,
        column=match.column,
        confidence=CONFIDENCE.get(str(match.metadata.get("confidence", "")).upper(), ""),
        cwe=cwe_of(match.metadata),
        end_line=match.end_line,
        end_column=match.end_column,
    )


def fold_same_problem(matches: Sequence[SemgrepMatch]) -> list[Finding]:
    """Findings of the matches; a pattern rule whose ``metadata.same-problem-as`` names a taint rule
    that flagged the same line is folded into that finding's ``also`` (one problem, one finding)."""
    findings = [finding_of(match) for match in matches]
    by_line = {(f.line, f.rule_id): index for index, f in enumerate(findings)}
    dropped = set()
    for index, match in enumerate(matches):
        twin = by_line.get((match.line, str(match.metadata.get("same-problem-as", ""))))
        if twin is not None and twin != index:
            findings[twin] = replace(findings[twin], also=(*findings[twin].also, findings[index].key))
            dropped.add(index)
    return [f for index, f in enumerate(findings) if index not in dropped]


# --- semgrep's own prefilter, applied before the engine starts ------------------------------------


def may_match(rule_files: Sequence[Path], text: str) -> bool:
    """False only when no rule can match ``text``, by semgrep's own prefilter.

    semgrep-core skips each rule whose required identifiers (or regexes) are absent from a file
    (``-prefilter_of_rules`` prints those conditions); when it skips them all, the scan reports
    nothing. Checking the same conditions here saves the engine's start (about 0.15 s of CPU) on
    code that could not match, such as most small functions. The check errs towards running the
    engine: identifiers count when they appear anywhere as text, a regex Python cannot compile
    counts as present, and a rule without a prefilter always counts. A rule may name, in
    ``metadata.prefilter``, a regex that every one of its matches needs in the file (where semgrep
    finds no prefilter, as for a rule made of metavariables, or a loose one, as for the sources of
    remote input, whose route decorators semgrep can only reduce to "get" or "post"); it must hold
    as well."""
    ids = rules_that_may_match(rule_files, text)
    return ids is None or bool(ids)


def rules_that_may_match(rule_files: Sequence[Path], text: str) -> frozenset[str] | None:
    """The ids of the rules whose prefilter (as in ``may_match``) holds on ``text``; None when no
    prefilter can be trusted, so every rule may. The engine is then given only these: each rule it
    compiles costs start-up time, and those it would skip find nothing anyway."""
    core = semgrep_core_path()
    # Keyed by the engine that will run too: conditions one binary printed say nothing of another
    # (a reinstalled semgrep, or a missing one, must not be answered from the first one's cache).
    engine = base.find_tool(core) if core else None
    conditions = prefilter_conditions(tuple(rule_file_key(Path(p)) for p in rule_files), engine)
    if conditions is None:
        return None
    return frozenset(rule_id for rule_id, holds in conditions.items() if holds(text))


def _parses(path: Path) -> bool:
    try:
        ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=path.name)
    except (SyntaxError, ValueError):
        return False
    return True


def rules_to_run(language: str) -> list[Path]:
    """patchloop's rule files for ``language``, or a ToolFailure when semgrep or the rules are missing
    (every semgrep analyzer checks both before it scans: no engine or no rules is no verdict)."""
    if semgrep_core_path() is None and find_tool("semgrep") is None:
        raise ToolFailure("semgrep is not installed; install it with: pip install semgrep")
    rules = shipped_rule_files(language)
    if not rules:
        raise ToolFailure(f"no semgrep rules for {language} (assets/semgrep/{language}/ is empty)")
    return rules


class SemgrepAnalyzer(ToolAnalyzer):
    """patchloop's semgrep rules (``shipped_rule_files``) on one file; see the module docstring."""

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        rules = rules_to_run(language)
        # semgrep does not always notice broken code, and may fail to parse code that is fine:
        # Python's own parser decides which it is.
        broken = language == "python" and not _parses(path)
        ids = rules_that_may_match(rules, path.read_text(encoding="utf-8", errors="replace"))
        if ids is not None and not ids:
            return [syntax_error_finding(path, "semgrep")] if broken else []
        scan = run_semgrep(rules, [path], language=language, timeout=timeout, rule_ids=ids)
        if scan.unparsed and not broken:
            raise ToolFailure("semgrep could not parse the file (Python can): no verdict on all of it")
        found = fold_same_problem(scan.matches)
        return [syntax_error_finding(path, "semgrep"), *found] if broken else found


def semgrep_analyzer() -> SemgrepAnalyzer:
    # The executable is the wrapper; its bundled semgrep-core is what runs (semgrep_core_path).
    return SemgrepAnalyzer(
        "semgrep", ("python",), tool="semgrep", executable="semgrep", distribution="semgrep"
    )
