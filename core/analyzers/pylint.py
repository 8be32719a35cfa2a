"""pylint with a chosen set of bug-finding messages (never its style checks).

It runs with ``--rcfile`` set to the null device, so no pylintrc, setup.cfg or pyproject.toml near
the file can switch style checks back on, and with ``--persistent=n`` so it writes nothing.

Enabled: every error (E) message except import-resolution ones (E0401 import-error, E0611
no-name-in-module) and E1101 no-member, which misfire on code that imports packages this
environment lacks or that are C extensions (pyright checks attributes from stubs instead);
plus the warnings in ``ENABLED`` that point at real defects: unreachable code, unused variables,
loop-variable closures, lost exceptions, constant conditions, bad format strings,
files and locks opened without ``with`` (R1732)...

Severity mapping: pylint's message type fatal/error -> error, warning -> warning,
refactor/convention/info -> note, except R1732 consider-using-with (a resource leak), which is
a warning. Not enabled: W0611 unused-import; ruff's F401 reports the same imports and, unlike
pylint, can exempt ``typing`` (docs/EVAL.md, "False alarms on HumanEval references"). Confidence: HIGH -> high, CONTROL_FLOW/INFERENCE -> medium, INFERENCE_FAILURE -> low,
UNDEFINED -> "". A fatal message (F0001 file unreadable, F0002 astroid crash) means pylint gave
no verdict, so it is an analyzer error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..types import Finding
from .base import ToolFailure, tail
from .workers import WarmAnalyzer, run_tool_warm

ENABLED: tuple[str, ...] = (
    "E",
    "W0101", "W0102", "W0104", "W0106", "W0109", "W0120", "W0124", "W0125", "W0126", "W0127",
    "W0128", "W0129", "W0130", "W0133", "W0134", "W0143", "W0150", "W0177", "W0199", "W0601",
    "W0612", "W0631", "W0632", "W0640", "W0642", "W0644", "W0705", "W0711", "W0716",
    "W1114", "W1116", "W1300", "W1301", "W1302", "W1303", "W1304", "W1305", "W1306", "W1307",
    "W1308", "W1501", "W1506", "W1508", "W2101", "W3601", "W4701",
    "R0124", "R0133", "R1708", "R1727", "R1732", "R1739",
)  # fmt: skip
DISABLED: tuple[str, ...] = ("E0401", "E0611", "E1101")

SEVERITY = {
    "fatal": "error",
    "error": "error",
    "warning": "warning",
    "refactor": "note",
    "convention": "note",
    "info": "note",
}
SEVERITY_OVERRIDES = {"R1732": "warning"}
CONFIDENCE = {
    "HIGH": "high",
    "CONTROL_FLOW": "medium",
    "INFERENCE": "medium",
    "INFERENCE_FAILURE": "low",
    "UNDEFINED": "",
}

# pylint exit status is a bit mask; 1 = a fatal message was issued, 32 = usage error.
_FATAL_BITS = 1 | 32


def parse_pylint_json2(stdout: str) -> list[Finding]:
    report = json.loads(stdout)
    if report["statistics"]["modulesLinted"] < 1:
        raise ToolFailure("pylint linted no module")  # an empty "messages" list is then no verdict
    findings = []
    for item in report["messages"]:
        if item["type"] == "fatal":
            raise ToolFailure(f"pylint could not analyze the file: {item['messageId']} {item['message']}")
        rule = item["messageId"]
        findings.append(
            Finding(
                tool="pylint",
                rule_id=rule,
                severity=SEVERITY_OVERRIDES.get(rule) or SEVERITY.get(item["type"], "warning"),
                message=f"{item['message']} ({item['symbol']})",
                line=int(item["line"]),
                column=int(item.get("column") or 0) + 1,
                confidence=CONFIDENCE.get(item.get("confidence", ""), ""),
                end_line=int(item.get("endLine") or 0),
                end_column=int(item["endColumn"]) + 1 if item.get("endColumn") is not None else 0,
            )
        )
    return findings


class PylintAnalyzer(WarmAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        argv = [
            self.executable,
            f"--rcfile={os.devnull}",
            "--persistent=n",
            "--score=n",
            "--jobs=1",
            "--output-format=json2",
            "--disable=all",
            f"--enable={','.join(ENABLED)}",
            f"--disable={','.join(DISABLED)}",
            "--",
            str(path),
        ]
        run = run_tool_warm("pylint", self.warm, argv, timeout, cwd=path.parent)
        if run.returncode & _FATAL_BITS and not run.stdout.strip():
            raise ToolFailure(f"pylint exited with {run.returncode}: {tail(run.stderr)}")
        return parse_pylint_json2(run.stdout)


def pylint_analyzer() -> PylintAnalyzer:
    return PylintAnalyzer("pylint", ("python",), tool="pylint", executable="pylint", distribution="pylint")
