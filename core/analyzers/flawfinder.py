"""flawfinder, the lexical security scanner for C and C++ (``security``), read through its CSV.

flawfinder matches calls against its database of risky functions (strcpy, sprintf, gets,
system, rand, tmpnam, getenv, scanf("%s") ...) without parsing the program, so it also sees
code that does not compile. It runs with ``--falsepositive`` (no hit on a function name that is
not called, and none on a character array by itself: ``char buf[64]`` is how C is written) and
``--minlevel=MIN_LEVEL``: below level 2 are hits such as ``strlen`` and ``read`` that fire on
nearly every C file and ask only for review. ``REVIEW_ONLY`` drops two level-2 hits of the same
kind: every ``memcpy``/``memmove`` ("make sure the destination can hold it") and every
``fopen``/``open`` ("can an attacker redirect it?") is reported whatever its arguments, so a
bounded, correct copy or any file opened at all would keep idiomatic C from ever being clean
(the first held-out clean C file, tests/fixtures/languages/c/heldout/clean_queue.c, was flagged
for exactly that). An overflowing copy into a known buffer is cppcheck's and gcc's to report.

Severity: flawfinder's risk level 4-5 -> error, 2-3 -> warning, 0-1 -> note (not reported at
the default minimum). Rule id: flawfinder's own id (``FF1001`` ...), with the function name at
the start of the message; CWE: the first CWE it lists (``CWE-119!/CWE-120``: 119).
Confidence: medium throughout, as flawfinder does not know whether the input is attacker-controlled.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_exit, require_tool, run_tool, tail

INSTALL = "pip install flawfinder"
MIN_LEVEL = 2
REVIEW_ONLY = frozenset({"FF1004", "FF1040"})  # memcpy|CopyMemory|bcopy, fopen|open
COLUMNS = ("File", "Line", "Column", "Level", "Name", "Warning", "Suggestion", "CWEs", "RuleId")


def _severity(level: int) -> str:
    if level >= 4:
        return "error"
    return "warning" if level >= 2 else "note"


def parse_flawfinder_csv(stdout: str) -> list[Finding]:
    reader = csv.DictReader(io.StringIO(stdout))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"flawfinder's CSV lacks the columns {', '.join(missing)}: {tail(stdout)}")
    findings = []
    for row in reader:
        if row["RuleId"] in REVIEW_ONLY:
            continue
        cwe = re.search(r"CWE-\d+", row["CWEs"] or "")
        suggestion = (row["Suggestion"] or "").strip()
        message = f"{row['Name']}: {row['Warning'].strip()}" + (f" {suggestion}" if suggestion else "")
        findings.append(
            Finding(
                tool="flawfinder",
                rule_id=row["RuleId"] or row["Name"],
                severity=_severity(int(row["Level"])),
                message=message,
                line=int(row["Line"]),
                column=int(row["Column"] or 0),
                confidence="medium",
                cwe=cwe.group(0) if cwe else "",
            )
        )
    return findings


class FlawfinderAnalyzer(ToolAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        executable = require_tool(self.executable, self.install)
        # flawfinder's CSV never says which files it read, and it skips a missing one silently.
        if not path.is_file():
            raise ToolFailure(f"no file to scan: {path}")
        argv = [
            executable, "--csv", "--quiet", "--dataonly", "--falsepositive",
            f"--minlevel={MIN_LEVEL}", "--", path.name,
        ]  # fmt: skip
        run = run_tool(argv, timeout, cwd=path.parent)
        check_exit(run, "flawfinder", (0,), run.stderr)
        if not run.stdout.startswith("File,"):
            raise ToolFailure(f"flawfinder printed no report: {tail(run.stderr or run.stdout)}")
        return parse_flawfinder_csv(run.stdout)


def flawfinder_analyzer() -> FlawfinderAnalyzer:
    return FlawfinderAnalyzer(
        "flawfinder",
        ("c", "cpp"),
        tool="flawfinder",
        executable="flawfinder",
        install=INSTALL,
        distribution="flawfinder",
    )
