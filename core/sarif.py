"""Analyses as a SARIF 2.1.0 log, the format code-scanning services and IDEs read.

One run per tool (ruff's two analyzers share the "ruff" run), with what GitHub code scanning reads:

- **rules** (``tool.driver.rules``): id, readable name, short and full description, ``help`` and
  ``helpUri`` from the tool's own documentation (``analyzers/rule_docs.py``), default level, and
  ``properties``: ``tags`` (``security`` plus ``external/cwe/cwe-N`` for security rules,
  ``correctness`` otherwise), ``precision`` (from the tool's confidence) and, for security rules,
  ``security-severity`` (a number string: error 8.0 high, warning 5.5 medium, note 2.0 low).
  Rule metadata never contains a finding's message, which may quote the analyzed code.
- **CWE taxonomy**: each run that names CWEs has a ``taxonomies`` entry for MITRE's CWE with one
  taxon per CWE, and each rule points at its CWE through ``relationships``.
- **results**: level, message, a region (start, end where the tool says, ``snippet`` and a
  ``contextRegion`` of the lines around it when the source is given) and ``partialFingerprints``
  under ``patchloop/v1``: a hash of the tool, the rule and the flagged line's whitespace-normalised
  text, plus the occurrence number among equal hashes in the file, so a result keeps its
  fingerprint when lines above it are added or removed. (GitHub's own ``primaryLocationLineHash``
  is left for its upload action to compute; a foreign value there is reported as inconsistent.)
- Only findings at or above the threshold are results, as in the JSON and text output; findings
  the skip list dropped are results too, with ``suppressions: [{kind: external, justification}]``.
- An analyzer that failed (crash, timeout, missing executable, unsupported language) appears as a
  ``toolExecutionNotifications`` entry of an invocation with ``executionSuccessful: false``, so a
  failed analysis never reads as clean.

Lines and columns are 1-based as in ``Finding``; an unknown column (0) is left out.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from .types import Analysis, Finding, severity_at_least

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "patchloop/v1"
_INFORMATION_URI = {
    "ruff": "https://docs.astral.sh/ruff/",
    "bandit": "https://bandit.readthedocs.io/",
    "pylint": "https://pylint.readthedocs.io/",
    "pyright": "https://docs.basedpyright.com/",
}
# GitHub's bands: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"error": "8.0", "warning": "5.5", "note": "2.0"}
_PRECISION = {"high": "high", "medium": "medium", "low": "low"}
_CWE_TAXONOMY = {
    "name": "CWE",
    "organization": "MITRE",
    "shortDescription": {"text": "The MITRE Common Weakness Enumeration"},
    "informationUri": "https://cwe.mitre.org/",
    "isComprehensive": False,
}


# patchloop's language names -> SARIF's sourceLanguage values (the spec's lower-case names).
SARIF_LANGUAGES = {"cpp": "cplusplus"}


def to_sarif(
    results: Mapping[str, Analysis],
    *,
    threshold: str = "note",
    sources: Mapping[str, str] | None = None,
    languages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """SARIF log for ``results``: file name or URI (as shown to the user) -> its analysis.

    ``threshold``: the lowest severity reported, as for the other output formats. ``sources``: file
    name -> the analyzed text, for snippets and line-based fingerprints (without it, fingerprints
    hash the message instead of the line). ``languages``: file name -> the language it was analyzed
    as; each run then lists its files as ``artifacts`` with their ``sourceLanguage``, and each result
    points at its file's artifact."""
    from .analyzers import analyzer_tool, tool_version

    sources = sources or {}
    languages = languages or {}
    runs: dict[str, _Run] = {}

    def run_for(tool: str) -> _Run:
        return runs.setdefault(tool, _Run(tool))

    for uri, analysis in results.items():
        for result in analysis.results:
            run = run_for(analyzer_tool(result.analyzer))
            if result.error:
                run.notifications.append(_notification(uri, f"{result.analyzer}: {result.error}"))
        source = sources.get(uri)
        lines = source.splitlines() if source is not None else None
        entries = [(f, "") for f in analysis.findings]
        entries += [(s.finding, s.entry) for s in analysis.skipped]
        occurrences: Counter[str] = Counter()
        # Occurrences count in line order over every finding, reported or not, so that a result's
        # fingerprint does not change when the threshold or the skip list does.
        for finding, skip_entry in sorted(entries, key=lambda e: (e[0].line, e[0].column, e[0].key)):
            digest = _line_digest(finding, lines)
            occurrences[digest] += 1
            if not severity_at_least(finding.severity, threshold):
                continue
            fingerprint = f"{digest}:{occurrences[digest]}"
            run_for(finding.tool).add(uri, finding, lines, fingerprint, skip_entry, languages.get(uri))

    log_runs = []
    for tool in sorted(runs):
        log_runs.append(runs[tool].to_dict(tool_version(tool)))
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": log_runs}


@dataclass
class _Run:
    """The rules, results and failures collected for one tool."""

    tool: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule_index: dict[str, int] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    cwes: list[str] = field(default_factory=list)  # taxon ids ("78") in order of first use
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    artifact_index: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        uri: str,
        finding: Finding,
        lines: list[str] | None,
        fingerprint: str,
        skip_entry: str,
        language: str | None = None,
    ) -> None:
        index = self._rule(finding)
        properties: dict[str, Any] = {"severity": finding.severity}
        if finding.confidence:
            properties["confidence"] = finding.confidence
        if finding.cwe:
            properties["cwe"] = finding.cwe
        if finding.also:
            properties["also"] = list(finding.also)
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": index,
            "level": finding.severity,  # error | warning | note are SARIF levels as they are
            "message": {"text": finding.message or finding.rule_id},
            "locations": [self._located(uri, finding, lines, language)],
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
            "properties": properties,
        }
        if skip_entry:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f"skipped by the skip list entry {skip_entry!r} (--skip or loop.skip)",
                }
            ]
        self.results.append(result)

    def _located(
        self, uri: str, finding: Finding, lines: list[str] | None, language: str | None
    ) -> dict[str, Any]:
        location = _location(uri, finding, lines)
        if language:
            if uri not in self.artifact_index:
                self.artifact_index[uri] = len(self.artifacts)
                self.artifacts.append(
                    {
                        "location": {"uri": _uri(uri)},
                        "sourceLanguage": SARIF_LANGUAGES.get(language, language),
                    }
                )
            location["physicalLocation"]["artifactLocation"]["index"] = self.artifact_index[uri]
        return location

    def _rule(self, finding: Finding) -> int:
        if finding.rule_id not in self.rule_index:
            self.rule_index[finding.rule_id] = len(self.rules)
            self.rules.append(_rule_descriptor(finding))
        index = self.rule_index[finding.rule_id]
        rule = self.rules[index]
        properties = rule["properties"]
        if finding.cwe:
            number = finding.cwe.removeprefix("CWE-")
            for tag in (finding.cwe, f"external/cwe/cwe-{number}"):
                if tag not in properties["tags"]:
                    properties["tags"].append(tag)
            properties.setdefault("cwe", finding.cwe)
            if number not in self.cwes:
                self.cwes.append(number)
            targets = rule.setdefault("relationships", [])
            if all(r["target"]["id"] != number for r in targets):
                targets.append(
                    {
                        "target": {
                            "id": number,
                            "index": self.cwes.index(number),
                            "toolComponent": {"name": "CWE", "index": 0},
                        },
                        "kinds": ["superset"],
                    }
                )
        if "security-severity" in properties:  # the rule's most severe finding sets it
            score = SECURITY_SEVERITY.get(finding.severity, "5.5")
            properties["security-severity"] = max(properties["security-severity"], score, key=float)
        return index

    def to_dict(self, version: str | None) -> dict[str, Any]:
        driver: dict[str, Any] = {"name": self.tool, "rules": self.rules}
        if version:
            driver["version"] = version
        if self.tool in _INFORMATION_URI:
            driver["informationUri"] = _INFORMATION_URI[self.tool]
        invocation: dict[str, Any] = {"executionSuccessful": not self.notifications}
        if self.notifications:
            invocation["toolExecutionNotifications"] = self.notifications
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": self.results,
        }
        if self.artifacts:
            run["artifacts"] = self.artifacts
        if self.cwes:
            driver["supportedTaxonomies"] = [{"name": "CWE", "index": 0}]
            taxa = [
                {"id": n, "name": f"CWE-{n}", "helpUri": f"https://cwe.mitre.org/data/definitions/{n}.html"}
                for n in self.cwes
            ]
            run["taxonomies"] = [{**_CWE_TAXONOMY, "taxa": taxa}]
        return run


def _rule_descriptor(finding: Finding) -> dict[str, Any]:
    """A rule's metadata, from its tool's documentation only (never from a finding's text)."""
    from .analyzers.merge import problem_class
    from .analyzers.rule_docs import rule_doc

    doc = rule_doc(finding.tool, finding.rule_id)
    security = (
        finding.tool == "bandit"
        and finding.rule_id != "syntax-error"
        or any(problem_class(key).startswith("bandit:") for key in (finding.key, *finding.also))
    )
    properties: dict[str, Any] = {"tags": ["security"] if security else ["correctness"]}
    if _PRECISION.get(finding.confidence):
        properties["precision"] = _PRECISION[finding.confidence]
    if security:
        properties["security-severity"] = SECURITY_SEVERITY.get(finding.severity, "5.5")
    rule: dict[str, Any] = {"id": finding.rule_id}
    if doc.name and doc.name != finding.rule_id:
        rule["name"] = doc.name
    rule["shortDescription"] = {"text": doc.summary}
    rule["fullDescription"] = {"text": doc.description or doc.summary}
    help_text: dict[str, Any] = {"text": doc.description or doc.summary}
    if doc.markdown and doc.description:
        help_text["markdown"] = doc.description
    rule["help"] = help_text
    if doc.help_uri:
        rule["helpUri"] = doc.help_uri
    rule["defaultConfiguration"] = {"level": finding.severity}
    rule["properties"] = properties
    return rule


def _line_digest(finding: Finding, lines: list[str] | None) -> str:
    """16 hex digits of a hash of the tool, the rule and the flagged line's text with whitespace
    collapsed (the message's text when the source is not known)."""
    if lines is not None:
        text = lines[finding.line - 1] if 1 <= finding.line <= len(lines) else ""
    else:
        text = finding.message
    key = "\0".join((finding.tool, finding.rule_id, " ".join(text.split())))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _location(uri: str, finding: Finding, lines: list[str] | None) -> dict[str, Any]:
    region = _region(finding)
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(uri)}, "region": region}
    if lines is not None and region["startLine"] <= len(lines):
        snippet = _snippet(lines, region)
        if snippet:
            region["snippet"] = {"text": snippet}
        first, last = (
            max(1, region["startLine"] - 1),
            min(len(lines), region.get("endLine", region["startLine"]) + 1),
        )
        physical["contextRegion"] = {
            "startLine": first,
            "endLine": last,
            "snippet": {"text": "\n".join(lines[first - 1 : last]) + "\n"},
        }
    return {"physicalLocation": physical}


def _region(finding: Finding) -> dict[str, Any]:
    start_line = max(1, int(finding.line))
    region: dict[str, Any] = {"startLine": start_line}
    if finding.column >= 1:
        region["startColumn"] = int(finding.column)
    end_line, end_column = int(finding.end_line), int(finding.end_column)
    if end_line >= start_line:
        if end_line > start_line:
            region["endLine"] = end_line
        if (
            "startColumn" in region
            and end_column >= 1
            and (end_line, end_column) > (start_line, finding.column)
        ):
            region["endLine"] = end_line
            region["endColumn"] = end_column
    return region


def _snippet(lines: list[str], region: dict[str, Any]) -> str:
    """The text the region covers (columns are code points; a region without columns is whole lines)."""
    start, end = region["startLine"], region.get("endLine", region["startLine"])
    chosen = lines[start - 1 : end]
    if not chosen:
        return ""
    if "endColumn" in region:
        chosen[-1] = chosen[-1][: region["endColumn"] - 1]
    if "startColumn" in region:
        chosen[0] = chosen[0][region["startColumn"] - 1 :]
    return "\n".join(chosen)


def _notification(uri: str, text: str) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(uri)}}}],
    }


def _uri(name: str) -> str:
    """A file name as a URI: an absolute path as a file: URI (as bandit writes it), a relative one
    as a relative reference with forward slashes, spaces and the like escaped (an existing %XX
    escape is kept)."""
    if PurePath(name).is_absolute():
        return PurePath(name).as_uri()
    return quote(name.replace("\\", "/"), safe=":/?#[]@!$&'()*+,;=%-._~")
