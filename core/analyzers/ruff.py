"""ruff as two analyzers: ``ruff`` (defect rules) and ``ruff-security`` (its bandit ports, S-rules).

ruff runs with ``--isolated`` so a ``pyproject.toml`` or ``ruff.toml`` near the file cannot change
the verdict, and with ``--exit-zero`` so that any non-zero exit means ruff itself failed.
Where ruff is this interpreter's, a ``ruff server`` per analyzer is kept running instead (lsp.py:
the same options as inline settings, no configuration file read; a file in 1 ms instead of two
process starts), with the same findings (tests/test_analyzer_workers.py).

Severity mapping (ruff reports no level of its own except for syntax errors):

- error: syntax errors (``invalid-syntax``), E9 (file cannot be read), names that fail at run time
  (F821 undefined, F822 undefined in ``__all__``, F823 local used before assignment), F63x
  (``is`` with a literal, assert on a tuple...), F70x (``return``/``yield``/``break`` outside
  their block), F50x/F52x (format strings that raise), every PLE rule (pylint errors);
- note: F401 unused import, F541 f-string without placeholders (harmless clutter);
- S-rules: the level bandit gives the same check (HIGH -> error, MEDIUM -> warning, LOW -> note),
  from ``SECURITY_SEVERITY``, so ruff and bandit agree when they are merged;
- warning: everything else selected here.

CWE ids: ruff gives none; ``SECURITY_CWE`` carries bandit's CWE for each S-rule's twin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..types import Finding
from .base import GuardedAnalyzer, ToolFailure, check_exit, run_tool, tail
from .lsp import RuffServer
from .workers import interpreter_tool, shared

# Rules that find bugs rather than style. F: pyflakes (undefined/unused names, bad format
# strings...); E9: unreadable file; PLE: pylint's error class; SIM115: open() outside ``with``;
# PLR0124/PLR0133: comparisons with itself / of two constants; PLW: loop-else without break,
# self-assignment, assert on a string, NaN comparison...; B: bugbear's bug-finding rules only
# (mutable defaults, loop-variable closures, useless expressions, duplicate excepts...).
DEFECT_RULES: tuple[str, ...] = (
    "F", "E9", "PLE", "SIM115", "PLR0124", "PLR0133",
    "PLW0120", "PLW0127", "PLW0128", "PLW0129", "PLW0177", "PLW0642", "PLW1508",
    "B002", "B003", "B006", "B011", "B012", "B013", "B014", "B015", "B016", "B017", "B018",
    "B020", "B021", "B022", "B023", "B025", "B026", "B029", "B030", "B031", "B032", "B033",
    "B034", "B035", "B039", "RUF006",
)  # fmt: skip

# Modules whose unused imports F401 does not report: a name imported from ``typing`` only serves
# annotations and importing it has no effect; HumanEval's prompts import List/Tuple that correct
# solutions never use (docs/EVAL.md, "False alarms on HumanEval references (issue 11)").
# typing_extensions is not here: it is a package that may be missing, so its import can fail.
ALLOWED_UNUSED_IMPORTS: tuple[str, ...] = ("typing",)

# All bandit ports except those that flag idiomatic code on their own: S603 (any subprocess
# call without shell), S607 (a program found on PATH, like "git") and the import-only checks.
SECURITY_RULES: tuple[str, ...] = ("S",)
SECURITY_IGNORED: tuple[str, ...] = ("S403", "S404", "S603", "S607")

_ERROR_PREFIXES = ("E9", "F63", "F70", "F50", "F52", "PLE")
_ERROR_CODES = {"invalid-syntax", "F821", "F822", "F823"}
_NOTE_CODES = {"F401", "F541"}
# ruff's warnings (stderr) when it linted nothing: an empty JSON list then is no verdict.
_NOTHING_LINTED = ("No Python files found", "Failed to lint")

# bandit's own level (HIGH -> error, MEDIUM -> warning, LOW -> note) and CWE for the twin of each ruff S-rule.
BANDIT_TWINS: dict[str, tuple[str, str]] = {
    "S101": ("note", "CWE-703"), "S102": ("warning", "CWE-78"), "S103": ("warning", "CWE-732"),
    "S104": ("warning", "CWE-605"), "S105": ("note", "CWE-259"), "S106": ("note", "CWE-259"),
    "S107": ("note", "CWE-259"), "S108": ("warning", "CWE-377"), "S110": ("note", "CWE-703"),
    "S112": ("note", "CWE-703"), "S113": ("warning", "CWE-400"), "S201": ("error", "CWE-94"),
    "S202": ("error", "CWE-22"), "S301": ("warning", "CWE-502"), "S302": ("warning", "CWE-502"),
    "S303": ("warning", "CWE-327"), "S304": ("error", "CWE-327"), "S305": ("warning", "CWE-327"),
    "S306": ("warning", "CWE-377"), "S307": ("warning", "CWE-78"), "S308": ("warning", "CWE-79"),
    "S310": ("warning", "CWE-22"), "S311": ("note", "CWE-330"), "S312": ("error", "CWE-319"),
    "S313": ("warning", "CWE-20"), "S314": ("warning", "CWE-20"), "S315": ("warning", "CWE-20"),
    "S316": ("warning", "CWE-20"), "S317": ("warning", "CWE-20"), "S318": ("warning", "CWE-20"),
    "S319": ("warning", "CWE-20"), "S321": ("error", "CWE-319"), "S323": ("warning", "CWE-295"),
    "S324": ("error", "CWE-327"), "S501": ("error", "CWE-295"), "S502": ("error", "CWE-327"),
    "S503": ("warning", "CWE-327"), "S504": ("warning", "CWE-295"), "S505": ("error", "CWE-326"),
    "S506": ("warning", "CWE-20"), "S507": ("error", "CWE-295"), "S508": ("warning", "CWE-319"),
    "S509": ("warning", "CWE-319"), "S601": ("warning", "CWE-78"), "S602": ("error", "CWE-78"),
    "S604": ("warning", "CWE-78"), "S605": ("error", "CWE-78"), "S606": ("note", "CWE-78"),
    "S608": ("warning", "CWE-89"), "S609": ("error", "CWE-155"), "S610": ("warning", "CWE-89"),
    "S611": ("warning", "CWE-89"), "S612": ("warning", "CWE-94"), "S701": ("error", "CWE-94"),
    "S702": ("warning", "CWE-80"), "S704": ("warning", "CWE-79"),
}  # fmt: skip
SECURITY_SEVERITY: dict[str, str] = {rule: severity for rule, (severity, _) in BANDIT_TWINS.items()}
SECURITY_CWE: dict[str, str] = {rule: cwe for rule, (_, cwe) in BANDIT_TWINS.items()}


def ruff_severity(code: str) -> str:
    if code in _ERROR_CODES or code.startswith(_ERROR_PREFIXES):
        return "error"
    if code in _NOTE_CODES:
        return "note"
    if code.startswith("S") and code[1:].isdigit():
        return SECURITY_SEVERITY.get(code, "warning")
    return "warning"


def parse_ruff_json(stdout: str) -> list[Finding]:
    return ruff_findings(json.loads(stdout))


def ruff_item_from_lsp(item: dict) -> dict:
    """A ``ruff server`` diagnostic (0-based, UTF-32 positions) in ``ruff check``'s JSON shape
    (1-based rows and columns); the server appends the fix's title to the message as "help"."""
    start, end = item["range"]["start"], item["range"]["end"]
    return {
        "code": item.get("code"),
        "message": item["message"].partition("\n\nhelp: ")[0],
        "location": {"row": start["line"] + 1, "column": start["character"] + 1},
        "end_location": {"row": end["line"] + 1, "column": end["character"] + 1},
    }


def ruff_findings(items: list[dict]) -> list[Finding]:
    findings = []
    for item in items:
        code = item.get("code") or "invalid-syntax"  # older ruff: syntax errors have code null
        location, end = item["location"], item.get("end_location") or {}
        findings.append(
            Finding(
                tool="ruff",
                rule_id=code,
                severity=ruff_severity(code),
                message=item["message"],
                line=int(location["row"]),
                column=int(location["column"]),
                cwe=SECURITY_CWE.get(code, ""),
                end_line=int(end.get("row") or 0),
                end_column=int(end.get("column") or 0),
            )
        )
    return findings


@dataclass(frozen=True)
class RuffAnalyzer(GuardedAnalyzer):
    """One ruff run over one file with a fixed rule selection."""

    name: str
    select: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("python",)
    tool: str = "ruff"
    executable: str = "ruff"
    distribution: str = "ruff"
    warm: bool = True  # ``ruff server`` kept running (lsp.py), where ruff is this interpreter's

    def settings(self) -> dict:
        """The command line's options as ruff's own settings, for the server."""
        lint: dict = {
            "select": [*self.select, "E902"],
            "pyflakes": {"allowed-unused-imports": list(ALLOWED_UNUSED_IMPORTS)},
        }
        if self.ignore:
            lint["ignore"] = list(self.ignore)
        return {"target-version": "py311", "lint": lint}

    def argv(self, path: Path) -> list[str]:
        argv = [
            self.executable,
            "check",
            "--isolated",
            "--no-cache",
            "--exit-zero",
            "--output-format",
            "json",
            "--target-version",
            "py311",
            "--config",
            f"lint.pyflakes.allowed-unused-imports = {json.dumps(list(ALLOWED_UNUSED_IMPORTS))}",
            "--select",
            # E902 (file unreadable) whatever the selection: it becomes an error below, never silence.
            ",".join((*self.select, "E902")),
        ]
        if self.ignore:
            argv += ["--ignore", ",".join(self.ignore)]
        return [*argv, "--", str(path)]

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        if self.warm and interpreter_tool(self.executable):
            items = ruff_server(self.settings()).diagnostics(path, timeout)
            findings = ruff_findings([ruff_item_from_lsp(item) for item in items])
        else:
            run = run_tool(self.argv(path), timeout, cwd=path.parent)
            check_exit(run, "ruff", (0,), run.stderr)
            if any(marker in run.stderr for marker in _NOTHING_LINTED):
                raise ToolFailure(f"ruff checked no file: {tail(run.stderr)}")
            findings = parse_ruff_json(run.stdout)
        unreadable = [f for f in findings if f.rule_id == "E902"]
        if unreadable:
            raise ToolFailure(f"ruff could not read the file: {unreadable[0].message}")
        return findings


def ruff_defects() -> RuffAnalyzer:
    return RuffAnalyzer("ruff", DEFECT_RULES)


def ruff_security() -> RuffAnalyzer:
    return RuffAnalyzer("ruff-security", SECURITY_RULES, SECURITY_IGNORED)


def ruff_server(settings: dict) -> RuffServer:
    """The process-wide ``ruff server`` for one set of settings (one per analyzer's selection)."""
    key = json.dumps(settings, sort_keys=True)
    return shared(f"ruff:{key}", lambda: RuffServer(settings))
