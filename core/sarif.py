"""Analyses as a SARIF 2.1.0 log, the format code-scanning dashboards and IDEs read.

One run per tool (ruff's two analyzers share the "ruff" run). Each run's ``tool.driver`` names
the tool, its version and the rules it reported, with CWE ids in the rule's ``properties.cwe``
and ``properties.tags``. A merged finding lands in the run of its primary tool; the twins it
absorbed are listed in ``properties.also``. An analyzer that failed (crash, timeout, missing
executable, unsupported language) appears as a ``toolExecutionNotifications`` entry of an
invocation with ``executionSuccessful: false``, so a failed analysis never reads as clean.

Lines and columns are 1-based as in ``Finding``; an unknown column (0) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .types import Analysis, Finding

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_INFORMATION_URI = {
    "ruff": "https://docs.astral.sh/ruff/",
    "bandit": "https://bandit.readthedocs.io/",
    "pylint": "https://pylint.readthedocs.io/",
    "pyright": "https://docs.basedpyright.com/",
}


def to_sarif(results: Mapping[str, Analysis]) -> dict[str, Any]:
    """SARIF log for ``results``: file name or URI (as shown to the user) -> its analysis."""
    from .analyzers import analyzer_tool, tool_version

    tools: dict[str, _Run] = {}

    def run_for(tool: str) -> _Run:
        if tool not in tools:
            tools[tool] = _Run(tool)
        return tools[tool]

    for uri, analysis in results.items():
        for result in analysis.results:
            run = run_for(analyzer_tool(result.analyzer))
            if result.error:
                run.notifications.append(_notification(uri, f"{result.analyzer}: {result.error}"))
        for finding in analysis.findings:
            run_for(finding.tool).add(uri, finding)

    runs = []
    for tool in sorted(tools):
        run = tools[tool]
        driver: dict[str, Any] = {"name": tool, "rules": run.rules}
        version = tool_version(tool)
        if version:
            driver["version"] = version
        if tool in _INFORMATION_URI:
            driver["informationUri"] = _INFORMATION_URI[tool]
        invocation: dict[str, Any] = {"executionSuccessful": not run.notifications}
        if run.notifications:
            invocation["toolExecutionNotifications"] = run.notifications
        runs.append(
            {
                "tool": {"driver": driver},
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": run.results,
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


class _Run:
    """The rules and results collected for one tool."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.rules: list[dict[str, Any]] = []
        self.rule_index: dict[str, int] = {}
        self.results: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []

    def add(self, uri: str, finding: Finding) -> None:
        index = self._rule(finding)
        properties: dict[str, Any] = {"severity": finding.severity}
        if finding.confidence:
            properties["confidence"] = finding.confidence
        if finding.cwe:
            properties["cwe"] = finding.cwe
        if finding.also:
            properties["also"] = list(finding.also)
        self.results.append(
            {
                "ruleId": finding.rule_id,
                "ruleIndex": index,
                "level": finding.severity,  # error | warning | note are SARIF levels as they are
                "message": {"text": finding.message or finding.rule_id},
                "locations": [_location(uri, finding.line, finding.column)],
                "properties": properties,
            }
        )

    def _rule(self, finding: Finding) -> int:
        if finding.rule_id in self.rule_index:
            rule = self.rules[self.rule_index[finding.rule_id]]
            if finding.cwe and "cwe" not in rule["properties"]:
                rule["properties"].update(_cwe_properties(finding.cwe))
            return self.rule_index[finding.rule_id]
        properties: dict[str, Any] = {"tags": []}
        if finding.cwe:
            properties.update(_cwe_properties(finding.cwe))
        rule = {
            "id": finding.rule_id,
            "shortDescription": {"text": finding.message or finding.rule_id},
            "defaultConfiguration": {"level": finding.severity},
            "properties": properties,
        }
        self.rule_index[finding.rule_id] = len(self.rules)
        self.rules.append(rule)
        return self.rule_index[finding.rule_id]


def _cwe_properties(cwe: str) -> dict[str, Any]:
    # "external/cwe/cwe-78" is the tag form code-scanning services group CWE by.
    number = cwe.removeprefix("CWE-")
    return {"cwe": cwe, "tags": [cwe, f"external/cwe/cwe-{number}"]}


def _location(uri: str, line: int, column: int) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, int(line))}
    if column >= 1:
        region["startColumn"] = int(column)
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(uri)}, "region": region}}


def _notification(uri: str, text: str) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(uri)}}}],
    }


def _uri(name: str) -> str:
    """A file name or path as a URI reference: forward slashes, spaces and the like escaped
    (an existing %XX escape is kept)."""
    return quote(name.replace("\\", "/"), safe=":/?#[]@!$&'()*+,;=%-._~")
