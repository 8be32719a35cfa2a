"""Every semgrep rule in assets/semgrep/python/ against its own test file, in semgrep's ``--test``
annotation format: a ``# ruleid: ID`` comment marks the next code line as one the rule must flag, an
``# ok: ID`` comment one it must not. Each rule must flag exactly its ``ruleid`` lines: a missed
positive and a hit on any other line (a look-alike) both fail. The check runs through
``run_semgrep``, the same call the analyzer makes, so the engine the project uses is the one tested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from patchloop.core.analyzers.semgrep import run_semgrep, semgrep_core_path
from patchloop.core.analyzers.semgrep_rules import shipped_rule_files
from patchloop.core.hints import load_hints

RULE_FILES = shipped_rule_files("python")
ANNOTATION = re.compile(r"#\s*(ruleid|ok):\s*([\w.-]+)")

pytestmark = pytest.mark.skipif(semgrep_core_path() is None, reason="semgrep is not installed")


def annotated_lines(test_file: Path, rule_id: str) -> tuple[set[int], set[int]]:
    """Lines the rule must flag and lines it must not, by semgrep's annotation convention."""
    expected, ok = set(), set()
    pending: list[str] = []
    for number, line in enumerate(test_file.read_text(encoding="utf-8").splitlines(), start=1):
        found = ANNOTATION.search(line)
        if found and line.lstrip().startswith("#"):
            if found.group(2) == rule_id:
                pending.append(found.group(1))
            continue
        if pending and line.strip():
            for kind in pending:
                (expected if kind == "ruleid" else ok).add(number)
            pending = []
    return expected, ok


def rules_of(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]


def test_the_rule_folder_holds_every_class_of_issue_11():
    ids = {rule["id"] for path in RULE_FILES for rule in rules_of(path)}
    assert len(RULE_FILES) >= 20
    for needed in (
        "sql-injection",
        "command-injection-shell",
        "code-injection",
        "path-traversal",
        "open-redirect",
        "xss",
        "template-injection",
        "xml-injection",
        "ssrf",
        "ldap-injection",
        "xpath-injection",
        "regex-injection",
        "log-injection",
        "unsafe-deserialization",
        "jwt-unverified",
        "weak-crypto-key",
        "weak-cipher",
        "insecure-temp-file",
        "insecure-permissions",
        "cleartext-secret",
        "tls-verification-disabled",
        "debug-mode",
    ):
        assert needed in ids


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.stem)
def test_rule_metadata_and_hint(rule_file: Path):
    hints = load_hints("python")
    for rule in rules_of(rule_file):
        assert rule["id"] == rule_file.stem, "one rule per file, named after it"
        assert re.match(r"CWE-\d+", rule["metadata"]["cwe"])
        assert rule["message"].strip()
        assert rule["severity"] in ("ERROR", "WARNING", "INFO")
        assert f"semgrep:{rule['id']}" in hints, "every rule needs a fix hint for the repair request"


@pytest.mark.parametrize("group", ["user-input", "remote-input"])
def test_taint_rules_of_one_source_group_share_one_source_list(group):
    """The rules marked ``sources: user-input`` (any user: web, command line, environment, files,
    sockets) must agree on what user input is; so must those marked ``remote-input`` (web and
    sockets only: for paths, URLs, regexes, logs and XML the local user may name anything)."""
    sources = {
        path.stem: rules_of(path)[0]["pattern-sources"]
        for path in RULE_FILES
        if rules_of(path)[0].get("metadata", {}).get("sources") == group
    }
    assert len(sources) >= 6
    first = next(iter(sources.values()))
    assert all(value == first for value in sources.values()), sorted(
        name for name, value in sources.items() if value != first
    )


def test_remote_input_is_user_input_less_the_local_user():
    def of(group):
        return next(
            rules_of(p)[0]["pattern-sources"]
            for p in RULE_FILES
            if rules_of(p)[0].get("metadata", {}).get("sources") == group
        )

    remote, user = of("remote-input"), of("user-input")
    assert all(source in user for source in remote)
    assert {"pattern": "sys.argv"} in user and {"pattern": "sys.argv"} not in remote


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.stem)
def test_rule_flags_exactly_its_positives(rule_file: Path):
    test_file = rule_file.with_suffix(".py")
    assert test_file.is_file(), f"{rule_file.name} has no test file {test_file.name}"
    rule_id = rule_file.stem
    expected, ok = annotated_lines(test_file, rule_id)
    assert expected, "a test file needs at least one positive"
    assert ok, "a test file needs at least one look-alike negative"
    scan = run_semgrep([rule_file], [test_file])
    flagged = {m.line for m in scan.matches if m.rule_id == rule_id}
    assert sorted(expected - flagged) == [], "missed positives"
    assert sorted(flagged - expected) == [], "flagged lines that are not annotated ruleid"


def test_no_rule_fires_on_humaneval_references(tmp_path):
    """HumanEval's 164 reference solutions are not insecure: any match is a false alarm of a rule."""
    from patchloop.core.evaluation.datasets import load_humaneval

    paths = []
    for number, task in enumerate(load_humaneval()):
        paths.append(tmp_path / f"reference_{number}.py")
        paths[-1].write_text(task.reference, encoding="utf-8")
    scan = run_semgrep(RULE_FILES, paths)  # one batch call, about 2 s
    assert len(scan.scanned) == 164 and scan.unparsed == ()
    assert [(m.rule_id, m.path, m.line) for m in scan.matches] == []
