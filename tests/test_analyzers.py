"""The analyzer layer: real tools on fixture files, failure handling, merging, skip lists, SARIF."""

from __future__ import annotations

import json
import stat
import sys
import textwrap
import threading
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import pytest
from patchloop.core import analyzers
from patchloop.core.analyzers import (
    ANALYZERS,
    SUITES,
    analyze_code,
    analyze_file,
    available_analyzers,
    get_analyzers,
    runner,
)
from patchloop.core.analyzers.ast_checker import check_source
from patchloop.core.analyzers.base import Analyzer, ToolFailure, run_tool
from patchloop.core.analyzers.merge import apply_skip, merge_findings, problem_class
from patchloop.core.analyzers.pyright import pyright_analyzer
from patchloop.core.analyzers.ruff import DEFECT_RULES, RuffAnalyzer
from patchloop.core.sarif import to_sarif
from patchloop.core.types import Analysis, AnalyzerResult, Finding

FIXTURES = Path(__file__).parent / "fixtures" / "analyzers"

# fixture -> (suite that must catch it, problem class of the expected finding, CWE it must carry or "")
BUGS: dict[str, tuple[str, str, str]] = {
    "defects_syntax_error.py": ("defects", "syntax-error", ""),
    "defects_undefined_name.py": ("defects", "undefined-name", ""),
    "defects_unreachable.py": ("defects", "unreachable-code", "CWE-561"),
    "defects_possibly_unbound.py": ("defects", "unbound-variable", "CWE-457"),
    "defects_always_true.py": ("defects", "constant-condition", "CWE-571"),
    "defects_always_false.py": ("defects", "constant-condition", "CWE-570"),
    "defects_none_attribute_match.py": ("defects", "none-dereference", "CWE-476"),
    "defects_none_attribute.py": ("defects", "none-dereference", "CWE-476"),
    "defects_unused_variable.py": ("defects", "unused-variable", "CWE-563"),
    "defects_unclosed_file.py": ("defects", "resource-leak", "CWE-772"),
    "security_eval_input.py": ("security", "bandit:B307", "CWE-78"),
    "security_exec_input.py": ("security", "bandit:B102", "CWE-78"),
    "security_shell_true.py": ("security", "bandit:B602", "CWE-78"),
    "security_pickle_loads.py": ("security", "bandit:B301", "CWE-502"),
    "security_yaml_load.py": ("security", "bandit:B506", "CWE-20"),
    "security_hardcoded_password.py": ("security", "bandit:B105", "CWE-259"),
    "security_weak_hash_md5.py": ("security", "bandit:B324", "CWE-327"),
    "security_weak_hash_sha1.py": ("security", "bandit:B324", "CWE-327"),
    "security_assert_validation.py": ("security", "bandit:B101", "CWE-703"),
}
# What the fast suite (ruff + patchloop-ast, used while code streams) must still catch.
FLOW_ONLY = ("defects_unreachable.py", "defects_possibly_unbound.py")  # need pylint/pyright's flow analysis
FAST_CATCHES = [name for name in BUGS if name not in FLOW_ONLY]
CLEAN = sorted(p.name for p in FIXTURES.glob("clean_*.py"))

_cache: dict[tuple[str, str], Analysis] = {}


def analysis_of(name: str, suite: str) -> Analysis:
    """Each fixture is analyzed once per suite for the whole module (the real tools take ~1 s)."""
    if (name, suite) not in _cache:
        _cache[(name, suite)] = analyze_file(FIXTURES / name, suite)
    return _cache[(name, suite)]


def expected_line(name: str) -> int:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    marked = [number for number, text in enumerate(lines, 1) if text.rstrip().endswith("# expect")]
    assert len(marked) == 1, f"{name} must mark exactly one line with '# expect'"
    return marked[0]


def findings_of_class(analysis: Analysis, cls: str, line: int) -> list[Finding]:
    return [f for f in analysis.findings if f.line == line and problem_class(f.key) == cls]


# --- every bug class is caught by the right suite, at the right line ----------------------------


def test_fixtures_cover_every_bug_class():
    assert sorted(p.name for p in FIXTURES.glob("defects_*.py")) + sorted(
        p.name for p in FIXTURES.glob("security_*.py")
    ) == sorted(BUGS)
    assert len(CLEAN) >= 5


@pytest.mark.parametrize("name", sorted(BUGS))
def test_bug_is_caught_by_its_suite_at_the_marked_line(name):
    suite, cls, cwe = BUGS[name]
    analysis = analysis_of(name, suite)
    assert analysis.errors == []
    line = expected_line(name)
    hits = findings_of_class(analysis, cls, line)
    assert len(hits) == 1, f"{name}: want one merged {cls} finding at line {line}, got {analysis.findings}"
    assert hits[0].severity in ("error", "warning", "note")
    assert hits[0].message
    if cwe:
        assert hits[0].cwe == cwe
    assert not analysis.is_clean("note")


@pytest.mark.parametrize("name", FAST_CATCHES)
def test_fast_suite_catches_what_it_can_at_the_marked_line(name):
    _, cls, _ = BUGS[name]
    analysis = analysis_of(name, "fast")
    assert analysis.errors == []
    assert findings_of_class(analysis, cls, expected_line(name)), analysis.findings


@pytest.mark.parametrize("name", CLEAN)
def test_clean_idiomatic_code_has_zero_findings_in_all(name):
    analysis = analysis_of(name, "all")
    assert analysis.errors == []
    assert analysis.findings == []
    assert analysis.is_clean("note")
    assert {r.analyzer for r in analysis.results} == {
        a.name for a in get_analyzers("all") if "python" in a.languages
    }


def test_security_suite_does_not_call_broken_code_clean():
    analysis = analysis_of("defects_syntax_error.py", "security")
    assert analysis.errors == []
    hits = findings_of_class(analysis, "syntax-error", expected_line("defects_syntax_error.py"))
    assert len(hits) == 1 and hits[0].severity == "error"
    # bandit itself cannot parse it; it reports the syntax error instead of an empty result
    bandit = next(r for r in analysis.results if r.analyzer == "bandit")
    assert [f.rule_id for f in bandit.findings] == ["syntax-error"]


def test_findings_are_sorted_by_line():
    analysis = analysis_of("defects_always_true.py", "defects")
    lines = [f.line for f in analysis.findings]
    assert lines == sorted(lines) and len(lines) >= 2  # the condition, then the code it makes unreachable


# --- merging ------------------------------------------------------------------------------------


def test_duplicates_from_several_tools_merge_into_one_finding():
    undefined = analysis_of("defects_undefined_name.py", "defects")
    [hit] = findings_of_class(undefined, "undefined-name", expected_line("defects_undefined_name.py"))
    assert {hit.key, *hit.also} == {"ruff:F821", "pylint:E0602", "pyright:reportUndefinedVariable"}
    assert hit.severity == "error"

    unreachable = analysis_of("defects_unreachable.py", "defects")
    [hit] = findings_of_class(unreachable, "unreachable-code", expected_line("defects_unreachable.py"))
    assert {hit.key, *hit.also} == {"pylint:W0101", "pyright:reportUnreachable"}

    eval_used = analysis_of("security_eval_input.py", "security")
    [hit] = eval_used.findings
    assert hit.key == "bandit:B307" and hit.also == ("ruff:S307", "semgrep:code-injection")
    assert hit.confidence == "high"  # bandit's, kept because bandit is the primary
    assert hit.severity == "error"  # semgrep's: it saw input() reach eval, bandit only the call
    raw = {f.key for r in eval_used.results for f in r.findings}
    assert raw == {"bandit:B307", "ruff:S307", "semgrep:code-injection"}  # the per-analyzer results keep all


def test_merge_keeps_the_most_severe_and_lists_the_others():
    findings = [
        Finding("ruff", "S307", "warning", "eval", 4, 12, cwe="CWE-78"),
        Finding("bandit", "B307", "note", "eval", 4, 11, confidence="high"),
        Finding("pylint", "W0123", "error", "eval-used", 4, 11),
        Finding("ruff", "F821", "error", "undefined a", 4, 1),
    ]
    merged = merge_findings(findings)
    assert len(merged) == 2
    evals = next(f for f in merged if problem_class(f.key) == "bandit:B307")
    assert evals.key == "pylint:W0123" and evals.severity == "error"
    assert evals.also == ("bandit:B307", "ruff:S307")
    assert evals.cwe == "CWE-78" and evals.confidence == "high"


def test_merge_never_swallows_two_real_findings_of_one_tool():
    findings = [
        Finding("ruff", "F821", "error", "undefined a", 3, 5),
        Finding("ruff", "F821", "error", "undefined b", 3, 9),
        Finding("pyright", "reportUndefinedVariable", "error", "a", 3, 5),
        Finding("pyright", "reportUndefinedVariable", "error", "b", 3, 9),
        Finding("ruff", "F821", "error", "undefined a", 3, 5),  # exact repeat (ruff runs twice in "all")
        Finding("pylint", "E0602", "error", "undefined c", 4, 5),  # another line: separate
    ]
    merged = merge_findings(findings)
    assert [(f.line, f.column, f.key, f.also) for f in merged] == [
        (3, 5, "pyright:reportUndefinedVariable", ("ruff:F821",)),
        (3, 9, "pyright:reportUndefinedVariable", ("ruff:F821",)),
        (4, 5, "pylint:E0602", ()),
    ]


def test_equivalence_rules():
    assert problem_class("ruff:S101") == problem_class("bandit:B101") == "bandit:B101"
    assert problem_class("ruff:PLW0120") == "pylint:W0120"
    assert problem_class("ruff:PLR0133") == problem_class("pyright:reportUnnecessaryComparison")
    assert problem_class("ruff:F821") == problem_class("pyright:reportUndefinedVariable")
    assert problem_class("pylint:W0101") == problem_class("pyright:reportUnreachable")
    assert problem_class("ruff:F401") != problem_class("ruff:F841")
    assert problem_class("ruff:SPAM") == "ruff:SPAM"


# --- skip list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["B101", "bandit:B101", "assert_used", "S101", "ruff:S101"])
def test_skip_entry_drops_the_finding_and_its_twins(entry):
    code = (FIXTURES / "security_assert_validation.py").read_text(encoding="utf-8")
    for suite in ("security", "fast"):  # fast has only ruff's S101: skipping B101 must still drop it
        before = analysis_of("security_assert_validation.py", suite)
        assert any(problem_class(f.key) == "bandit:B101" for f in before.findings)
        after = analyze_code(code, suite, skip=[entry])
        assert after.errors == []
        assert not any(problem_class(k) == "bandit:B101" for f in after.findings for k in (f.key, *f.also))


def test_skip_keeps_unrelated_findings():
    findings = [
        Finding("bandit", "B101", "note", "assert", 3, 5, also=("ruff:S101",)),
        Finding("bandit", "B307", "warning", "eval", 4, 5),
    ]
    assert [f.rule_id for f in apply_skip(findings, ["B101"])] == ["B307"]
    assert [f.rule_id for f in apply_skip(findings, ["eval"])] == ["B101"]  # bandit's test name for B307
    assert [f.rule_id for f in apply_skip(findings, ["pylint:W0123"])] == ["B101"]  # eval-used twin
    assert apply_skip(findings, ["B999", "no_such_test", ""]) == findings
    # a merged finding is dropped when a twin (not the primary) is skipped
    assert [f.rule_id for f in apply_skip(findings, ["ruff:S101"])] == ["B307"]


# --- threshold ----------------------------------------------------------------------------------


def test_threshold_filters_through_flagged():
    assertion = analysis_of("security_assert_validation.py", "security")  # B101 is a note
    assert [f.rule_id for f in assertion.flagged("note")] == ["B101"]
    assert assertion.flagged("warning") == []
    assert assertion.is_clean("warning") and not assertion.is_clean("note")
    shell = analysis_of("security_shell_true.py", "security")  # B602 is an error
    assert [f.rule_id for f in shell.flagged("error")] == ["B602"]


# --- failures are errors, never clean -----------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _only(monkeypatch, *factories) -> str:
    """A suite "test" made of the given analyzer factories."""
    names = []
    for index, factory in enumerate(factories):
        name = f"test-analyzer-{index}"
        monkeypatch.setitem(ANALYZERS, name, factory)
        names.append(name)
    monkeypatch.setitem(SUITES, "test", tuple(names))
    return "test"


CLEAN_CODE = "def add(a: int, b: int) -> int:\n    return a + b\n"


def test_missing_executable_is_an_error(monkeypatch):
    suite = _only(
        monkeypatch, lambda: RuffAnalyzer("ruff", DEFECT_RULES, executable="patchloop-no-such-tool")
    )
    analysis = analyze_code(CLEAN_CODE, suite)
    assert analysis.findings == []
    assert len(analysis.errors) == 1 and "not found" in analysis.errors[0]
    assert not analysis.is_clean("note")


def test_crashing_tool_is_an_error(tmp_path, monkeypatch):
    crash = _script(tmp_path, "crash", "echo 'Traceback: boom' >&2; exit 3")
    suite = _only(monkeypatch, lambda: RuffAnalyzer("ruff", DEFECT_RULES, executable=crash))
    analysis = analyze_code(CLEAN_CODE, suite)
    assert "exited with 3" in analysis.errors[0] and "boom" in analysis.errors[0]
    assert not analysis.is_clean()


def test_unparsable_output_is_an_error(tmp_path, monkeypatch):
    garbage = _script(tmp_path, "garbage", "echo 'this is not json'")
    suite = _only(monkeypatch, lambda: RuffAnalyzer("ruff", DEFECT_RULES, executable=garbage))
    analysis = analyze_code(CLEAN_CODE, suite)
    assert "unparsable output" in analysis.errors[0]
    assert not analysis.is_clean()


def test_crashing_plugin_is_an_error(monkeypatch):
    @dataclass
    class Exploding:
        name: str = "exploding"
        languages: tuple[str, ...] = ("python",)

        def analyze(self, path, language, timeout):
            raise RuntimeError("plug-in bug")

    @dataclass
    class WrongType(Exploding):
        name: str = "wrong-type"

        def analyze(self, path, language, timeout):
            return ["not", "a", "result"]

    assert isinstance(Exploding(), Analyzer)
    suite = _only(monkeypatch, Exploding, WrongType, analyzers.AstAnalyzer)
    analysis = analyze_code(CLEAN_CODE, suite)
    assert sorted(analysis.errors) == [
        "exploding: crashed: RuntimeError: plug-in bug",
        "wrong-type: crashed: TypeError: analyze() returned list, not AnalyzerResult",
    ]
    assert not analysis.is_clean()


def test_real_tool_past_its_timeout_is_an_error(monkeypatch):
    # the command line, started per call
    suite = _only(monkeypatch, lambda: replace(pyright_analyzer(), warm=False))
    analysis = analyze_code(CLEAN_CODE, suite, timeout=0.05)
    assert analysis.errors == ["pyright: timed out after 0.05 s"]
    assert not analysis.is_clean()


def test_timeout_kills_the_whole_process_group(tmp_path):
    # The child keeps the output pipe open; killing only the parent would leave communicate() waiting.
    holder = _script(tmp_path, "holder", "sleep 30 & wait")
    with pytest.raises(ToolFailure, match="timed out after 0.3 s"):
        run_tool([holder], timeout=0.3)


def test_hanging_in_process_analyzer_is_given_up_on(monkeypatch):
    release = threading.Event()

    @dataclass
    class Hanging:
        name: str = "hanging"
        languages: tuple[str, ...] = ("python",)

        def analyze(self, path, language, timeout):
            release.wait(30)
            return AnalyzerResult(self.name)

    monkeypatch.setattr(runner, "GRACE", 0.1)
    suite = _only(monkeypatch, Hanging, analyzers.AstAnalyzer)
    try:
        analysis = analyze_code("x = (\n", suite, timeout=1.0)
    finally:
        release.set()
    assert analysis.errors == ["hanging: timed out after 1 s"]
    # the analyzer that did finish still reports
    assert [f.rule_id for f in analysis.findings] == ["syntax-error"]


def test_unsupported_language_is_an_error_not_clean():
    analysis = analyze_code("package main\n\nfunc main() {}\n", "all", language="go")
    assert analysis.errors == ["patchloop: no analyzer for go in suite 'all'"]
    assert not analysis.is_clean()


def test_a_shell_script_fenced_as_python_is_one_wrong_language_error():
    script = "#!/bin/bash\ncp -r /src $dest\ngit clone --branch <rev> $dest\n"
    analysis = analyze_code(script, "all")
    assert [(f.tool, f.rule_id, f.severity, f.line) for f in analysis.findings] == [
        ("patchloop", "wrong-language", "error", 1)
    ]
    assert "shell script, not python" in analysis.findings[0].message and not analysis.is_clean("note")
    # A Python script's own "#!" line changes nothing.
    assert analyze_code("#!/usr/bin/env python3\nprint(1)\n", "fast").findings == []


@pytest.mark.parametrize(
    ("first_line", "language"),
    [
        ("#!/bin/bash", "shell"),
        ("#! /bin/sh -e", "shell"),
        ("#!/usr/bin/env bash", "shell"),
        ("#!/usr/bin/python3.12", "python"),
        ("#!/usr/bin/env node", "javascript"),
        ("#!/opt/x/weird", None),
        ("# a comment", None),
        ("import os", None),
    ],
)
def test_script_language_reads_the_interpreter_of_a_shebang(first_line, language):
    from patchloop.core.languages import script_language

    assert script_language(f"\n{first_line}\nrest\n") == language


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown analyzer suite 'nope'"):
        get_analyzers("nope")
    with pytest.raises(ValueError, match="unknown analyzer suite"):
        analyze_code(CLEAN_CODE, "nope")
    with pytest.raises(ValueError, match="plain file name"):
        analyze_code(CLEAN_CODE, "fast", filename="../escape.py")
    with pytest.raises(ValueError, match="timeout"):
        analyze_code(CLEAN_CODE, "fast", timeout=0)


def test_analyze_file_reads_language_from_suffix(tmp_path):
    source = tmp_path / "prog.c"
    source.write_text("int main(void) { return 0; }\n", encoding="utf-8")
    assert "no analyzer for c" in analyze_file(source, "fast").errors[0]
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"x = '\xe9'\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        analyze_file(latin, "fast")
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="binary"):
        analyze_file(binary, "fast")


def test_analyzers_do_not_write_next_to_the_user_file(tmp_path):
    target = tmp_path / "mine.py"
    target.write_text(CLEAN_CODE, encoding="utf-8")
    analysis = analyze_file(target, "all")
    assert analysis.is_clean()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py"]


# --- suites and versions ------------------------------------------------------------------------


def test_suites_and_their_analyzers():
    assert set(SUITES) >= {"defects", "security", "all", "fast"}
    assert set(SUITES["all"]) == set(SUITES["defects"]) | set(SUITES["security"])
    for suite in SUITES:
        for analyzer in get_analyzers(suite):
            assert isinstance(analyzer, Analyzer) and analyzer.languages
    assert set(SUITES["fast"]) == {"ruff", "ruff-security", "patchloop-ast"}


def test_available_analyzers_reports_versions_and_missing_tools(monkeypatch):
    versions = available_analyzers()
    assert set(versions) == set(ANALYZERS)
    assert versions["ruff"] == metadata.version("ruff")
    assert versions["bandit"] == metadata.version("bandit")
    assert all(versions[name] for name in ("pylint", "pyright", "patchloop-ast"))
    monkeypatch.setitem(
        ANALYZERS, "ghost", lambda: RuffAnalyzer("ghost", ("F",), executable="patchloop-ghost")
    )
    assert available_analyzers()["ghost"] is None


def test_tools_are_found_next_to_the_interpreter_first():
    from patchloop.core.analyzers.base import find_tool

    assert find_tool("ruff") == str(Path(sys.executable).parent / "ruff")
    assert find_tool("patchloop-no-such-tool") is None


# --- patchloop-ast ------------------------------------------------------------------------------


def _rules(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.rule_id) for f in check_source(textwrap.dedent(source))]


def test_ast_checker_flags_constant_conditions():
    assert _rules('ok = "Sat" != day or day != "Sun"\n') == [(1, "always-true-condition")]
    assert _rules("ok = obj.kind == 1 and obj.kind == 2\n") == [(1, "always-false-condition")]
    assert _rules("ok = x == 1 or x == 2\n") == []  # a membership test, fine
    assert _rules("ok = x != 1 and x != 2\n") == []
    assert _rules("ok = x != 1 or y != 2\n") == []  # different subjects
    assert _rules("ok = f() != 1 or f() != 2\n") == []  # calls may differ between reads
    assert _rules("ok = x != 1 or x != True\n") == []  # 1 == True: not two different values


def test_ast_checker_flags_none_dereference_only_without_a_check():
    flagged = """
        import os
        from re import search
        import re as regex
        a = regex.fullmatch("x", s).group(0)
        b = os.environ.get("HOME").split("/")
        m = search("x", s)
        print(m[0])
        best = None
        best.update()
    """
    assert _rules(flagged) == [(line, "none-attribute") for line in (5, 6, 8, 10)]
    guarded = """
        import os, re
        m = re.match("x", s)
        if m:
            print(m.group(0))
        n = re.match("x", s)
        assert n is not None
        n.group(0)
        o = re.match("x", s)
        print(o.group(0) if o else "")
        if (p := re.match("x", s)) is not None:
            p.group(0)
        home = os.environ.get("HOME", "/")
        home.split("/")
        q = None
        q = compute()
        q.run()
        r = re.match("x", s)
        try:
            r.group(0)
        except AttributeError:
            pass
        t = None
        def later():
            return t.value
    """
    assert _rules(guarded) == []


def test_ast_checker_reports_syntax_errors_with_their_line():
    [finding] = check_source("def f(:\n    pass\n")
    assert (finding.rule_id, finding.line, finding.severity) == ("syntax-error", 1, "error")
    [finding] = check_source("x = 1\0\n")
    assert finding.rule_id == "syntax-error"


# --- SARIF --------------------------------------------------------------------------------------


def _sample_results() -> dict[str, Analysis]:
    failing = Analysis(
        findings=[Finding("ruff", "F821", "error", "undefined name", 2, 5)],
        results=[
            AnalyzerResult("ruff", [Finding("ruff", "F821", "error", "undefined name", 2, 5)]),
            AnalyzerResult("bandit", error="timed out after 60 s"),
        ],
    )
    return {
        "src/eval me.py": analysis_of("security_eval_input.py", "all"),
        "solution.py": analysis_of("defects_none_attribute_match.py", "defects"),
        "broken.py": failing,
    }


def test_sarif_structure():
    log = to_sarif(_sample_results())
    assert log["version"] == "2.1.0" and "sarif-schema-2.1.0" in log["$schema"]
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert set(runs) == {"ruff", "bandit", "pylint", "pyright", "patchloop-ast", "semgrep"}
    assert runs["ruff"]["tool"]["driver"]["version"] == metadata.version("ruff")

    bandit = runs["bandit"]
    [result] = bandit["results"]
    assert result["ruleId"] == "B307" and result["level"] == "error"  # semgrep's taint level
    assert result["properties"]["also"] == ["ruff:S307", "semgrep:code-injection"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/eval%20me.py"
    assert location["region"] == {"startLine": 4, "startColumn": 12, "endLine": 4, "endColumn": 28}
    rule = bandit["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == "B307" and rule["properties"]["cwe"] == "CWE-78"
    assert "CWE-78" in rule["properties"]["tags"]
    # bandit timed out on broken.py: the run says it did not succeed, with the reason
    [invocation] = bandit["invocations"]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "timed out" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"

    assert runs["pyright"]["invocations"] == [{"executionSuccessful": True}]
    [none_deref] = runs["pyright"]["results"]
    assert none_deref["ruleId"] == "reportOptionalMemberAccess" and none_deref["level"] == "error"
    ruff_rules = {r["id"] for r in runs["ruff"]["tool"]["driver"]["rules"]}
    assert ruff_rules == {"F821"}
    json.dumps(log)  # serialisable as it is


def test_sarif_validates_against_the_official_schema(sarif_validator):
    validator = sarif_validator
    log = to_sarif(_sample_results())
    errors = sorted(validator.iter_errors(log), key=str)
    assert errors == []
    # the schema really constrains: a result without a message is rejected
    del log["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(log))
