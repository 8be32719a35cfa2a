"""SARIF as a code-scanning service consumes it: fingerprints that survive shifted lines, rule
documentation without code text, regions with snippets, the CWE taxonomy, security-severity, the
threshold and the skip list (suppressions), on constructed analyses and on `analyze --sarif`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from patchloop.core.analyzers.merge import partition_skip
from patchloop.core.sarif import FINGERPRINT_KEY, to_sarif
from patchloop.core.types import Analysis, AnalyzerResult, Finding

from patchloop.cli import cli

SECRET = "hunter2-s3cr3t"
CODE = f'''import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)


def login(user):
    password = "{SECRET}"
    return eval(user)
'''


def _results(log: dict) -> list[dict]:
    return [r for run in log["runs"] for r in run["results"]]


def _rules(log: dict) -> dict[str, dict]:
    return {rule["id"]: rule for run in log["runs"] for rule in run["tool"]["driver"]["rules"]}


def _fingerprints(log: dict) -> dict[str, str]:
    return {r["partialFingerprints"][FINGERPRINT_KEY]: r["ruleId"] for r in _results(log)}


def _bandit(rule: str, severity: str, message: str, line: int, columns: tuple[int, int], **more) -> Finding:
    """A bandit finding as bandit reports it: on one line, from a column to an end column."""
    start, end = columns
    return Finding("bandit", rule, severity, message, line, start, end_line=line, end_column=end, **more)


def _analysis(code: str, shift: int = 0, skip: tuple[str, ...] = ()) -> Analysis:
    """Findings as the tools report them on CODE, moved down ``shift`` lines."""
    shell = "subprocess call with shell=True identified"
    secret = f"Possible hardcoded password: '{SECRET}'"
    insecure = "Use of possibly insecure function"
    findings = [
        _bandit("B602", "error", shell, 5 + shift, (12, 44), cwe="CWE-78", confidence="high"),
        _bandit("B105", "note", secret, 9 + shift, (16, 32), cwe="CWE-259", confidence="medium"),
        _bandit("B307", "warning", insecure, 10 + shift, (12, 22), cwe="CWE-78", also=("ruff:S307",)),
        Finding("pyright", "reportOptionalMemberAccess", "error", "x is None", 10 + shift, 5),
    ]
    kept, skipped = partition_skip(findings, skip)
    return Analysis(kept, [AnalyzerResult("bandit", findings), AnalyzerResult("pyright")], 0.1, skipped)


def test_fingerprints_stay_when_lines_shift_and_change_with_the_flagged_line():
    before = to_sarif({"app.py": _analysis(CODE)}, sources={"app.py": CODE})
    shifted_code = "# a header\n# added later\n\n" + CODE
    after = to_sarif({"app.py": _analysis(shifted_code, shift=3)}, sources={"app.py": shifted_code})
    assert len(_fingerprints(before)) == 4
    assert _fingerprints(before) == _fingerprints(after)
    # the region moved with the code; the fingerprint did not
    lines = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in _results(after)
    }
    assert lines["B602"] == 8
    # a changed flagged line is a different result
    edited = CODE.replace("shell=True)", "shell=True)  # noqa-free")
    changed = to_sarif({"app.py": _analysis(edited)}, sources={"app.py": edited})
    assert set(_fingerprints(changed)) != set(_fingerprints(before))
    assert {v for k, v in _fingerprints(changed).items() if k not in _fingerprints(before)} == {"B602"}


def test_equal_lines_get_numbered_occurrences():
    code = "x = eval(a)\nx = eval(a)\n"
    findings = [Finding("bandit", "B307", "warning", "eval", line, 5) for line in (1, 2)]
    log = to_sarif({"a.py": Analysis(findings, [AnalyzerResult("bandit", findings)])}, sources={"a.py": code})
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in _results(log)]
    assert prints[0].split(":")[0] == prints[1].split(":")[0]
    assert [p.split(":")[1] for p in prints] == ["1", "2"]


def test_regions_have_ends_and_snippets_from_the_source():
    log = to_sarif({"app.py": _analysis(CODE)}, sources={"app.py": CODE})
    by_rule = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in _results(log)}
    shell = by_rule["B602"]
    assert shell["region"] == {
        "startLine": 5,
        "startColumn": 12,
        "endLine": 5,
        "endColumn": 44,
        "snippet": {"text": "subprocess.call(cmd, shell=True)"},
    }
    assert shell["contextRegion"]["startLine"] == 4 and shell["contextRegion"]["endLine"] == 6
    assert "def run(cmd):" in shell["contextRegion"]["snippet"]["text"]
    # no end from the tool: the region is the rest of the line from the column
    assert by_rule["reportOptionalMemberAccess"]["region"] == {
        "startLine": 10,
        "startColumn": 5,
        "snippet": {"text": "return eval(user)"},
    }


def test_rules_carry_documentation_and_never_the_analyzed_code():
    log = to_sarif({"app.py": _analysis(CODE)}, sources={"app.py": CODE})
    rules = _rules(log)
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["helpUri"].startswith("https://")
    assert rules["B105"]["name"] == "hardcoded_password_string"
    assert "bandit.readthedocs.io" in rules["B105"]["helpUri"]
    assert "docs.basedpyright.com" in rules["reportOptionalMemberAccess"]["helpUri"]
    metadata_text = json.dumps([[run["tool"], run.get("taxonomies")] for run in log["runs"]])
    assert SECRET not in metadata_text and "subprocess.call(cmd" not in metadata_text
    # ... while the result itself says what was found
    assert any(SECRET in r["message"]["text"] for r in _results(log))


def test_security_rules_have_a_security_severity_tags_and_the_cwe_taxonomy():
    log = to_sarif({"app.py": _analysis(CODE)}, sources={"app.py": CODE})
    rules = _rules(log)
    for rule_id, band in (("B602", (7.0, 9.0)), ("B307", (4.0, 6.9)), ("B105", (0.1, 3.9))):
        properties = rules[rule_id]["properties"]
        assert band[0] <= float(properties["security-severity"]) <= band[1]
        assert "security" in properties["tags"]
    assert "external/cwe/cwe-78" in rules["B602"]["properties"]["tags"]
    assert rules["B602"]["properties"]["precision"] == "high"
    assert "security-severity" not in rules["reportOptionalMemberAccess"]["properties"]
    assert "security" not in rules["reportOptionalMemberAccess"]["properties"]["tags"]

    bandit = next(run for run in log["runs"] if run["tool"]["driver"]["name"] == "bandit")
    [taxonomy] = bandit["taxonomies"]
    assert taxonomy["name"] == "CWE" and taxonomy["organization"] == "MITRE"
    assert bandit["tool"]["driver"]["supportedTaxonomies"] == [{"name": "CWE", "index": 0}]
    taxa = taxonomy["taxa"]
    assert {t["id"] for t in taxa} == {"78", "259"}
    for rule in bandit["tool"]["driver"]["rules"]:
        [relation] = rule["relationships"]
        target = relation["target"]
        assert target["toolComponent"] == {"name": "CWE", "index": 0}
        assert taxa[target["index"]]["id"] == target["id"] == rule["properties"]["cwe"].removeprefix("CWE-")


def test_threshold_and_skip_list():
    analysis = _analysis(CODE, skip=("B105",))
    log = to_sarif({"app.py": analysis}, sources={"app.py": CODE}, threshold="warning")
    assert sorted(r["ruleId"] for r in _results(log)) == ["B307", "B602", "reportOptionalMemberAccess"]
    everything = to_sarif({"app.py": analysis}, sources={"app.py": CODE})
    [suppressed] = [r for r in _results(everything) if "suppressions" in r]
    assert suppressed["ruleId"] == "B105"
    [suppression] = suppressed["suppressions"]
    assert suppression["kind"] == "external" and "'B105'" in suppression["justification"]
    # fingerprints do not depend on the threshold or the skip list
    unskipped = to_sarif({"app.py": _analysis(CODE)}, sources={"app.py": CODE})
    assert _fingerprints(everything) == _fingerprints(unskipped)


def test_uris_of_absolute_and_relative_paths():
    finding = Finding("bandit", "B307", "warning", "eval", 1, 1)
    log = to_sarif({"/abs/dir name/a.py": Analysis([finding]), "rel\\b c.py": Analysis([finding])})
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in _results(log)]
    assert uris == ["file:///abs/dir%20name/a.py", "rel/b%20c.py"]


# --- through the command line, real analyzers -----------------------------------------------------


@pytest.fixture
def analyze(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))

    def invoke(*args):
        return CliRunner().invoke(
            cli, ["--db", str(tmp_path / "log.db"), "analyze", *args], catch_exceptions=False
        )

    return invoke


def test_cli_sarif_applies_threshold_like_json_and_records_skips(analyze, tmp_path):
    source = tmp_path / "app.py"
    source.write_text(CODE)
    for threshold in ("note", "warning", "error"):
        as_json = json.loads(
            analyze("-a", "security", "--json", "--threshold", threshold, str(source)).stdout
        )
        sarif = json.loads(analyze("-a", "security", "--sarif", "--threshold", threshold, str(source)).stdout)
        reported = [r for r in _results(sarif) if "suppressions" not in r]
        assert len(reported) == len(as_json[str(source)]["findings"]) > 0
    result = analyze("-a", "security", "--format", "sarif", "--skip", "B105", str(source))
    sarif = json.loads(result.stdout)
    suppressed = [r for r in _results(sarif) if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["B105"]
    assert SECRET not in json.dumps([run["tool"] for run in sarif["runs"]])
    region = suppressed[0]["locations"][0]["physicalLocation"]["region"]
    assert region["snippet"]["text"] == f'"{SECRET}"' and region["endColumn"] > region["startColumn"]


def test_cli_sarif_fingerprints_survive_inserted_lines(analyze, tmp_path):
    source = tmp_path / "app.py"
    source.write_text(CODE)
    before = _fingerprints(json.loads(analyze("-a", "security", "--sarif", str(source)).stdout))
    source.write_text('"""A module docstring."""\n\nimport os\n' + CODE)
    after = _fingerprints(json.loads(analyze("-a", "security", "--sarif", str(source)).stdout))
    assert before and set(before) <= set(after)


def test_everything_added_still_validates_against_the_schema(analyze, tmp_path, sarif_validator):
    validator = sarif_validator
    constructed = to_sarif({"app.py": _analysis(CODE, skip=("B105",))}, sources={"app.py": CODE})
    assert sorted(validator.iter_errors(constructed), key=str) == []
    source = tmp_path / "app.py"
    source.write_text(CODE)
    real = json.loads(analyze("-a", "all", "--sarif", "--skip", "B105", str(source)).stdout)
    assert sorted(validator.iter_errors(real), key=str) == []
    assert any("suppressions" in r for r in _results(real)) and any(
        "taxonomies" in run for run in real["runs"]
    )
