"""The planted-bug fixtures of tests/fixtures/languages/<language>/: each planted line carries a
comment ``expect: <rule or class>``; files named ``clean_*`` must give no finding at all.

Shared by the language tests and benchmarks/bench_language_recall.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from patchloop.core.analyzers import analyze_code
from patchloop.core.languages import language_of
from patchloop.core.types import Analysis, Finding

ROOT = Path(__file__).parent / "fixtures" / "languages"
_EXPECT = re.compile(r"(?://|#|/\*)\s*expect:\s*([\w./#+-]+)")


@dataclass(frozen=True)
class Planted:
    path: Path
    line: int
    expected: str  # a rule id (tuned fixtures) or a class such as "CWE-327" (held-out ones)


def fixture_files(language: str, heldout: bool = False) -> list[Path]:
    folder = ROOT / language / "heldout" if heldout else ROOT / language
    return sorted(p for p in folder.iterdir() if p.is_file() and language_of(p) == language)


def planted(path: Path) -> list[Planted]:
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _EXPECT.search(text)
        if match:
            found.append(Planted(path, number, match.group(1)))
    return found


def is_clean_file(path: Path) -> bool:
    return path.name.startswith("clean_")


def fixture_cases(languages: Iterable[str], heldout: bool = False) -> list:
    """Each language's fixture files as pytest parameters (language, path), named language/file."""
    import pytest  # here, not at the top: the recall benchmark reads the fixtures without pytest

    return [
        pytest.param(lang, path, id=f"{lang}/{path.name}")
        for lang in languages
        for path in fixture_files(lang, heldout)
    ]


def analyze_fixture(path: Path, language: str, suite: str = "all") -> Analysis:
    """The suite's verdict on a fixture file, which must come without an analyzer error."""
    analysis = _analysis(path, language, suite)
    assert not analysis.errors, [(r.analyzer, r.error) for r in analysis.results if r.error]
    return analysis


@cache  # the planted-bug, hint and clean tests read the same verdicts: one analysis per file
def _analysis(path: Path, language: str, suite: str) -> Analysis:
    return analyze_code(
        path.read_text(encoding="utf-8"), suite, language=language, filename="solution" + path.suffix
    )


def planted_unless_clean(path: Path, analysis: Analysis) -> list[Planted]:
    """The bugs planted in ``path``, which must plant some; [] for a clean file, once ``analysis`` of
    it is checked to have no finding."""
    bugs = planted(path)
    if is_clean_file(path):
        assert not bugs
        assert analysis.findings == [], [(f.line, f.rule_id, f.message) for f in analysis.findings]
        return []
    assert bugs, f"{path.name} plants nothing"
    return bugs


def covers(finding: Finding, line: int) -> bool:
    """True when the finding's span (a start line, and an end line where the tool gives one)
    includes ``line``: semgrep reports a query built on one line and run on the next from the first."""
    return finding.line <= line <= max(finding.line, finding.end_line)


def caught(bug: Planted, findings: Iterable[Finding], *, by_rule: bool) -> bool:
    """Whether a finding covers the planted line; ``by_rule``: one with the expected rule id (or
    one merged into it) does."""
    for finding in findings:
        if not covers(finding, bug.line):
            continue
        if not by_rule or bug.expected in (finding.rule_id, *(k.split(":", 1)[-1] for k in finding.also)):
            return True
    return False


def expected_rules(bug: Planted) -> list[str]:
    """Every rule the planted line names: ``expect: Wanalyzer-double-free, doubleFree`` names two."""
    text = bug.path.read_text(encoding="utf-8").splitlines()[bug.line - 1]
    return [rule.strip() for rule in text.split("expect:", 1)[1].split(",") if rule.strip()]


def check_planted_bugs(path: Path, language: str) -> Analysis:
    """The suite's verdict on a fixture file, checked: a clean file gives no finding, and every rule
    planted in any other file is caught at its line."""
    analysis = analyze_fixture(path, language)
    expected = [(bug, rule) for bug in planted_unless_clean(path, analysis) for rule in expected_rules(bug)]
    missed = [
        (bug.line, rule)
        for bug, rule in expected
        if not caught(replace(bug, expected=rule), analysis.findings, by_rule=True)
    ]
    assert not missed, (missed, [(f.line, f.rule_id) for f in analysis.findings])
    return analysis
