"""The semgrep analyzer and ``run_semgrep``: a planted taint flow is found at its line, clean code
gives nothing, and every way semgrep can fail to give a verdict is an error, never clean."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from patchloop.core.analyzers import analyze_code, semgrep_prefilter
from patchloop.core.analyzers import semgrep as sg
from patchloop.core.analyzers.base import ToolFailure, ToolRun
from patchloop.core.analyzers.merge import merge_findings
from patchloop.core.analyzers.semgrep_rules import rule_messages, shipped_rule_files
from patchloop.core.hints import hint_for, load_hints
from patchloop.core.types import Finding

pytestmark = pytest.mark.skipif(sg.semgrep_core_path() is None, reason="semgrep is not installed")

PLANTED = textwrap.dedent(
    """\
    import subprocess

    from flask import Flask, request

    app = Flask(__name__)


    @app.route("/report")
    def report():
        name = request.args.get("name", "")
        target = "/srv/reports/" + name
        with open(target) as handle:  # line 12: the query string reaches open()
            return handle.read()
    """
)
CLEAN = "import json\n\n\ndef load(text: str) -> dict:\n    return json.loads(text)\n"


def analyze(tmp_path: Path, code: str, timeout: float = 60.0):
    path = tmp_path / "solution.py"
    path.write_text(code, encoding="utf-8")
    return sg.semgrep_analyzer().analyze(path, "python", timeout)


def test_planted_taint_flow_is_found_at_its_line(tmp_path):
    result = analyze(tmp_path, PLANTED)
    assert result.error is None
    assert [(f.rule_id, f.line) for f in result.findings] == [("path-traversal", 12)]
    finding = result.findings[0]
    assert (finding.tool, finding.severity, finding.cwe, finding.confidence) == (
        "semgrep",
        "error",
        "CWE-22",
        "high",
    )
    assert (
        finding.column == 15 and finding.end_line == 12 and finding.end_column == 21
    )  # the `target` argument
    assert "os.path.basename" in hint_for(finding, load_hints("python"))


def test_clean_code_gives_no_finding(tmp_path):
    result = analyze(tmp_path, CLEAN)
    assert result.error is None and result.findings == []


def test_security_suite_reports_the_flow_bandit_does_not_see():
    analysis = analyze_code(PLANTED, "security")
    assert analysis.errors == []
    assert [(f.key, f.line) for f in analysis.findings if f.tool == "semgrep"] == [
        ("semgrep:path-traversal", 12)
    ]
    assert analysis.is_clean("note") is False


def test_semgrep_joins_its_bandit_twin_on_the_same_line():
    code = "import os\nimport sys\n\nos.system('ls ' + sys.argv[1])\n"
    analysis = analyze_code(code, "security")
    on_line = [f for f in analysis.findings if f.line == 4]
    assert len(on_line) == 1, analysis.findings
    assert {on_line[0].key, *on_line[0].also} == {
        "bandit:B605",
        "ruff:S605",
        "semgrep:command-injection-shell",
    }
    # skipping the bandit test drops the merged semgrep finding with it
    assert not [f for f in analyze_code(code, "security", skip=["B605"]).findings if f.line == 4]


def test_join_needs_the_twin_on_the_same_line():
    alone = Finding("semgrep", "command-injection-shell", "error", "m", 3)
    twin = Finding("bandit", "B605", "error", "m", 4)
    assert len(merge_findings([alone, twin])) == 2
    assert len(merge_findings([alone, Finding("bandit", "B605", "error", "m", 3)])) == 1


def test_code_that_does_not_parse_is_a_syntax_error_not_clean(tmp_path):
    result = analyze(tmp_path, "import os\nname = input()\nos.system(name)\ndef broken(:\n")
    assert result.error is None
    keys = [(f.rule_id, f.line) for f in result.findings]
    assert ("syntax-error", 4) in keys
    assert ("command-injection-shell", 3) in keys  # semgrep's tolerant parser still reads the rest


# --- fail closed --------------------------------------------------------------------------------


def test_missing_semgrep_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sg, "semgrep_core_path", lambda: None)
    monkeypatch.setattr(sg, "find_tool", lambda name: None)
    result = analyze(tmp_path, PLANTED)
    assert result.findings == [] and "not installed" in result.error


def test_timeout_is_an_error(tmp_path):
    result = analyze(tmp_path, PLANTED, timeout=0.01)
    assert result.findings == [] and "timed out" in result.error


# Code some rule's prefilter lets through, so the (fake) engine is called at all.
REACHABLE = "import tempfile\n\n\ndef scratch() -> str:\n    return tempfile.mktemp()\n"


def _fake_engine_verdict(tmp_path, monkeypatch, stdout: str, returncode: int = 0):
    """The analyzer's result on REACHABLE when the engine prints ``stdout`` and exits ``returncode``."""
    sg.may_match(shipped_rule_files(), "")  # the prefilter comes from the real engine, once
    monkeypatch.setattr(sg, "run_tool", lambda argv, timeout, cwd=None: ToolRun(returncode, stdout, "boom"))
    return analyze(tmp_path, REACHABLE)


def _partly_parsed(solution: Path) -> str:
    """The engine's report on code it cannot parse that Python can."""
    error = {
        "error_type": ["PartialParsing", []],
        "message": "`x` was unexpected",
        "location": {"path": str(solution)},
    }
    return json.dumps({"results": [], "paths": {"scanned": [str(solution)]}, "errors": [error]})


# What the engine prints, given the path of the file it is asked about, and the error that says so.
NO_VERDICT = [
    pytest.param(lambda solution: "Segmentation fault", "no JSON", id="unparsable-output"),
    # codeshield 1.0.1's failure: semgrep ran, found nothing, because it looked at no file
    pytest.param(
        lambda solution: json.dumps({"results": [], "errors": [], "paths": {"scanned": []}}),
        "scanned no file",
        id="zero-scanned-files",
    ),
    pytest.param(_partly_parsed, "could not parse", id="code-semgrep-cannot-parse-but-python-can"),
]


@pytest.mark.parametrize(("engine_output", "error"), NO_VERDICT)
def test_output_without_a_verdict_is_an_error(tmp_path, monkeypatch, engine_output, error):
    result = _fake_engine_verdict(tmp_path, monkeypatch, engine_output(tmp_path / "solution.py"))
    assert result.findings == [] and error in result.error


def test_non_zero_exit_is_an_error(tmp_path, monkeypatch):
    assert "exited with 2" in _fake_engine_verdict(tmp_path, monkeypatch, "", returncode=2).error


def test_reported_errors_are_an_error(tmp_path, monkeypatch):
    report = {"results": [], "errors": [{"message": "Rule parse error"}], "paths": {"scanned": []}}
    assert "Rule parse error" in _fake_engine_verdict(tmp_path, monkeypatch, json.dumps(report)).error


def test_a_rule_the_engine_cannot_compile_is_an_error(tmp_path):
    rules = tmp_path / "bad.yaml"
    rules.write_text(
        "rules:\n  - id: bad\n    languages: [python]\n    severity: ERROR\n"
        "    message: m\n    pattern: 'foo(('\n"
    )
    target = tmp_path / "a.py"
    target.write_text("foo(1)\n")
    with pytest.raises(ToolFailure, match="error"):
        sg.run_semgrep([rules], [target])


def test_rule_files_without_rules_are_refused(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("not_rules: []\n")
    with pytest.raises(ValueError, match="no 'rules' list"):
        sg.run_semgrep([empty], [tmp_path / "a.py"])
    with pytest.raises(ValueError, match="cannot read"):
        sg.run_semgrep([tmp_path / "missing.yaml"], [tmp_path / "a.py"])


# --- run_semgrep, the public function -----------------------------------------------------------

RULE = textwrap.dedent(
    """\
    rules:
      - id: no-eval
        languages: [python]
        severity: WARNING
        message: eval of $X
        metadata: {cwe: ["CWE-95: eval injection"]}
        pattern: eval($X)
    """
)


def test_run_semgrep_on_several_targets_keeps_paths_as_given(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    (tmp_path / "a.py").write_text("x = 1\neval(x)\n")
    (tmp_path / "b.py").write_text("print('clean')\n")
    monkeypatch.chdir(tmp_path)
    scan = sg.run_semgrep([rules], ["a.py", "b.py"])
    assert scan.scanned == ("a.py", "b.py") and scan.engine == "semgrep-core"
    assert [(m.rule_id, m.path, m.line, m.column, m.severity) for m in scan.matches] == [
        ("no-eval", "a.py", 2, 1, "WARNING")
    ]
    assert sg.cwe_of(scan.matches[0].metadata) == "CWE-95"
    with pytest.raises(ToolFailure, match="not a file"):
        sg.run_semgrep([rules], ["missing.py"])


def test_the_semgrep_scan_fallback_gives_the_same_matches(tmp_path, monkeypatch):
    """Without the bundled engine, the ``semgrep scan`` wrapper runs (offline, about 2 s)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    target = tmp_path / "a.py"
    target.write_text("x = 1\neval(x)\n")
    direct = sg.run_semgrep([rules], [target])
    monkeypatch.setattr(sg, "semgrep_core_path", lambda: None)
    wrapped = sg.run_semgrep([rules], [target])
    assert wrapped.engine == "semgrep"
    assert [(m.rule_id, m.path, m.line, m.column) for m in wrapped.matches] == [
        (m.rule_id, m.path, m.line, m.column) for m in direct.matches
    ]


def test_sarif_rule_documentation_comes_from_the_rule_not_the_finding():
    from patchloop.core.analyzers.rule_docs import rule_doc

    doc = rule_doc("semgrep", "path-traversal")
    assert doc.name == "path-traversal" and doc.summary.startswith(
        "User-controlled data is used as a file path"
    )
    assert rule_doc("semgrep", "no-such-rule").summary == "semgrep rule no-such-rule"


def test_a_partly_parsed_target_is_listed_not_raised(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text(
        "import os\nimport sys\nos.system(sys.argv[1])\ndef total(values):\n"
        "    if values > 0\n        return 1\n"
    )
    scan = sg.run_semgrep(shipped_rule_files(), [broken])
    assert scan.unparsed == (str(broken),)
    result = sg.semgrep_analyzer().analyze(broken, "python", 60.0)
    assert result.error is None and result.findings[0].rule_id == "syntax-error"


def test_a_pattern_rule_folds_into_its_taint_twin_on_the_same_line():
    code = textwrap.dedent(
        """\
        from flask import request


        def find(cursor):
            name = request.args["name"]
            cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
            cursor.execute("SELECT * FROM %s" % "users")
        """
    )
    analysis = analyze_code(code, "security")
    by_line = {f.line: f for f in analysis.findings}
    assert (
        by_line[6].key == "bandit:B608" and by_line[6].severity == "error"
    )  # the twin leads, at the taint level
    assert {"semgrep:sql-injection", "semgrep:sql-string-built"} <= set(by_line[6].also)
    assert [f.line for f in analysis.findings].count(6) == 1
    assert {by_line[7].key, *by_line[7].also} >= {"semgrep:sql-string-built"}  # no source: pattern rule only


def test_one_batch_call_gives_what_one_call_per_file_gives():
    rules = shipped_rule_files()
    targets = [rule.with_suffix(".py") for rule in rules[:8]]
    batch = sg.run_semgrep(rules, targets)
    single = [m for target in targets for m in sg.run_semgrep(rules, [target]).matches]
    assert batch.matches == single and len(single) > 8
    assert [m.path for m in batch.matches] == sorted(
        (m.path for m in batch.matches), key=[str(t) for t in targets].index
    )


# --- semgrep's prefilter, before the engine -----------------------------------------------------


def test_code_no_rule_can_match_skips_the_engine(tmp_path, monkeypatch):
    rules = shipped_rule_files()
    assert sg.may_match(rules, CLEAN) is False
    monkeypatch.setattr(sg, "run_semgrep", lambda *a, **k: pytest.fail("the engine ran"))
    assert analyze(tmp_path, CLEAN).findings == []
    broken = analyze(tmp_path, "def total(values:\n    return 0\n")
    assert broken.error is None and [f.rule_id for f in broken.findings] == ["syntax-error"]


@pytest.mark.parametrize("rule_file", shipped_rule_files(), ids=lambda p: p.stem)
def test_every_rule_lets_its_own_test_file_through(rule_file):
    assert sg.may_match([rule_file], rule_file.with_suffix(".py").read_text(encoding="utf-8"))


def test_a_skipped_file_is_one_the_engine_finds_nothing_in(tmp_path):
    """Soundness on real code: every HumanEval reference the prefilter skips, the engine clears."""
    from patchloop.core.evaluation.datasets import load_humaneval

    rules = shipped_rule_files()
    skipped = [t.reference for t in load_humaneval() if not sg.may_match(rules, t.reference)]
    assert len(skipped) > 100  # most small functions need no engine
    paths = []
    for number, text in enumerate(skipped):
        paths.append(tmp_path / f"skipped_{number}.py")
        paths[-1].write_text(text, encoding="utf-8")
    assert sg.run_semgrep(rules, paths).matches == []
    # and a rule's match needs what its prefilter asks for: a hard-coded key with no key named
    assert sg.may_match(rules, 'NAME = "AKIAIOSFODNN7EXAMPLE"\n') is False


@pytest.fixture
def fresh_prefilter(tmp_path, monkeypatch):
    """The prefilter computed anew in this test: nothing in memory, an empty cache folder."""
    monkeypatch.setattr(semgrep_prefilter, "prefilter_cache_dir", lambda: tmp_path / "cache")
    semgrep_prefilter.prefilter_conditions.cache_clear()
    yield tmp_path / "cache"
    semgrep_prefilter.prefilter_conditions.cache_clear()


def _engine_that_crashes(monkeypatch) -> list:
    calls: list = []

    def crash(argv, timeout, cwd=None):
        calls.append(argv)
        return ToolRun(2, "", "crash")

    monkeypatch.setattr(semgrep_prefilter, "run_tool", crash)
    return calls


def test_without_a_prefilter_the_engine_always_runs(monkeypatch, fresh_prefilter):
    _engine_that_crashes(monkeypatch)
    assert sg.may_match(shipped_rule_files(), CLEAN) is True
    assert not fresh_prefilter.exists()  # nothing to keep from a failed engine


def test_the_prefilter_is_kept_between_processes_and_recomputed_when_damaged(monkeypatch, fresh_prefilter):
    rules = shipped_rule_files()
    assert sg.may_match(rules, CLEAN) is False  # computed by the real engine, and kept
    (kept,) = fresh_prefilter.glob("prefilter-*.json")
    semgrep_prefilter.prefilter_conditions.cache_clear()  # as in a new process
    calls = _engine_that_crashes(monkeypatch)
    assert sg.may_match(rules, CLEAN) is False and calls == []  # read back, no engine started
    for damaged in ("{not json", "[1, 2]"):
        kept.write_text(damaged, encoding="utf-8")
        semgrep_prefilter.prefilter_conditions.cache_clear()
        assert sg.may_match(rules, CLEAN) is True  # damaged: the engine is asked again (crashing here)
    assert len(calls) == 2


def test_the_kept_prefilter_belongs_to_its_rules(tmp_path, fresh_prefilter):
    rules = shipped_rule_files()
    sg.may_match(rules, CLEAN)
    sg.may_match(rules[:1], CLEAN)  # another rule set: its own file
    assert len(list(fresh_prefilter.glob("prefilter-*.json"))) == 2


def test_every_match_passes_its_own_rules_prefilter():
    """A rule's prefilter (semgrep's, and the regex the rule names) never hides one of its matches:
    checked on every match of every rule in all the rules' test files."""
    rules = {path.stem: path for path in shipped_rule_files()}
    targets = [path.with_suffix(".py") for path in rules.values()]
    scan = sg.run_semgrep(list(rules.values()), targets)
    assert len(scan.matches) > 60
    texts = {str(t): t.read_text(encoding="utf-8") for t in targets}
    assert [m for m in scan.matches if not sg.may_match([rules[m.rule_id]], texts[m.path])] == []


def test_the_engine_given_only_the_rules_that_may_match_finds_what_all_rules_find():
    rules = shipped_rule_files()
    tests = sorted(Path(rules[0]).parent.glob("*.py"))
    assert len(tests) >= 20
    narrowed = []
    for path in tests:
        ids = sg.rules_that_may_match(rules, path.read_text(encoding="utf-8"))
        assert ids is not None  # the shipped rules all have a prefilter the engine prints
        every = sg.run_semgrep(rules, [path]).matches
        if not ids:
            assert every == [], path.name
            continue
        narrowed.append(len(ids))
        assert sg.run_semgrep(rules, [path], rule_ids=ids).matches == every, path.name
    assert max(narrowed) < len(rule_messages())  # fewer rules to compile, file by file
