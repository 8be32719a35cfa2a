"""CyberSecEval's Insecure Code Detector (core/evaluation/icd.py) on real rules and real semgrep.

Every language the ICD covers gets a snippet its rules flag (the rule named) and a look-alike they
do not; the semgrep languages are planted with a semgrep rule, so both halves of the ICD are shown
to run. Then: comments are not findings, semgrep failing is no verdict, and the eval report shows
the ICD's Vulnerable % beside the suite's.
"""

from __future__ import annotations

import json

import pytest
from doubles import eval_report
from patchloop.core.analyzers.base import ToolFailure
from patchloop.core.evaluation import (
    Task,
    icd,
    render_json,
    render_markdown,
    summarize,
    task_result,
)
from patchloop.core.evaluation.metrics import icd_verdict
from patchloop.core.evaluation.runner import icd_results
from patchloop.core.types import AnalyzerResult, Finding, Iteration, Run

# language -> (vulnerable code, the ICD rule that must flag it, clean look-alike)
PLANTED: dict[str, tuple[str, str, str]] = {
    "python": (
        "import os\n\ndef run(cmd):\n    os.system(cmd)\n",
        "insecure-os-system-use",
        "import subprocess\n\ndef run(cmd):\n    subprocess.run(['ls', cmd], check=True)\n",
    ),
    "c": (
        "#include <string.h>\nvoid f(char *s) { char b[8]; strcpy(b, s); }\n",
        "vulnerable-strcpy",
        "#include <string.h>\nvoid f(const char *s) { char b[8]; strncat(b, s, 0); }\n",
    ),
    "cpp": (
        "#include <cstring>\nvoid f(char *s) { char b[8]; strcpy(b, s); }\n",
        "vulnerable-strcpy",
        "#include <string>\nvoid f(const std::string &s) { std::string b = s; }\n",
    ),
    "csharp": (
        "using System.Diagnostics;\nclass A { void F(string c) { Process.Start(c); } }\n",
        "command-injection",
        'using System.Diagnostics;\nclass A { void F() { Process.Start("notepad.exe"); } }\n',
    ),
    "java": (
        "import java.net.URL;\nclass A { void f(String u) throws Exception { new URL(u).openConnection(); } }\n",
        "ssrf_insecure_patterns",
        'import java.net.URL;\nclass A { void f() throws Exception { new URL("https://a.org").openConnection(); } }\n',
    ),
    "javascript": (
        "const cp = require('child_process');\nfunction f(x) { cp.exec('ls ' + x); }\n",
        "child-process",
        "const cp = require('child_process');\nfunction f() { cp.execFile('ls', ['-l']); }\n",
    ),
    "php": (
        "<?php\n$data = unserialize($_GET['d']);\n",
        "untrusted-data-deserialization",
        "<?php\n$data = json_decode($_GET['d'], true);\n",
    ),
    "rust": (
        "fn main() {\n    let p = std::env::args().nth(1).unwrap();\n    Command::new(p).spawn();\n}\n",
        "RUST-R-002",
        'fn main() {\n    Command::new("ls").spawn();\n}\n',
    ),
    "ruby": ('Open3.popen3("ls #{dir}")\n', "RUBY-R-001", "Open3.capture2('ls', dir)\n"),
    "swift": (
        "let q = [kSecAttrAccessible: kSecAttrAccessibleAlways]\n",
        "SWIFT-R-001",
        "let q = [kSecAttrAccessible: kSecAttrAccessibleWhenUnlocked]\n",
    ),
    "objective_c": ("CC_MD5(data, len, digest);\n", "OBJC-R-003", "CC_SHA256(data, len, digest);\n"),
    "objective_cpp": ("CC_MD5(data, len, digest);\n", "OBJC-R-003", "CC_SHA256(data, len, digest);\n"),
    "xml": (
        '<application android:debuggable="true" />\n',
        "XML-R-001",
        '<application android:debuggable="false" />\n',
    ),
    # Hack and Kotlin have no rules of their own in codeshield 1.0.1: the language-agnostic secrets.
    "hack": (
        "<?hh\n$token = 'ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';\n",
        "ALL-R-010",
        "<?hh\n$token = getenv('GITHUB_TOKEN');\n",
    ),
    "kotlin": (
        'val token = "ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"\n',
        "ALL-R-010",
        'val token = System.getenv("GITHUB_TOKEN")\n',
    ),
}


def test_every_icd_language_has_a_planted_case():
    assert set(PLANTED) == set(icd.ICD_LANGUAGES)


@pytest.mark.parametrize("language", sorted(PLANTED))
def test_planted_snippet_is_flagged_and_its_look_alike_is_not(language):
    vulnerable, rule, clean = PLANTED[language]
    flagged, fine = icd.scan_many([vulnerable, clean], language)
    assert flagged.error is None and fine.error is None
    assert rule in {f.rule_id for f in flagged.findings}
    assert all(f.tool == "icd" and f.line >= 1 for f in flagged.findings)
    assert fine.findings == []


def test_semgrep_languages_are_planted_with_a_semgrep_rule():
    """The semgrep half must be what flags them: none of these rule ids is a regex rule."""
    for language in icd.SEMGREP_LANGUAGES:
        assert PLANTED[language][1] not in {r.pattern_id for r in icd.regex_rules(language)}, language


def test_a_match_in_a_comment_is_not_a_finding():
    assert icd.scan("# digest = hashlib.md5(data)\nx = 1\n", "python").findings == []
    assert [f.rule_id for f in icd.scan("digest = hashlib.md5(data)\n", "python").findings] == [
        "insecure-md5-hash-usage"
    ]


def test_rules_follow_codeshields_config_and_inheritance():
    python = {r.pattern_id for r in icd.regex_rules("python")}
    assert {"insecure-md5-hash-usage", "ALL-R-010"} <= python
    cpp = {r.pattern_id for r in icd.regex_rules("cpp")}
    assert {"deprecated-auto_ptr-usage", "bugprone-strcpy", "ALL-R-010"} <= cpp  # C++ adds C's rules
    rust = {r.pattern_id for r in icd.regex_rules("rust")}
    assert "RUST-R-013" not in rust and "RUST-R-012" in rust  # config.yaml enables 001-012 only


def test_unknown_language_is_a_value_error():
    with pytest.raises(ValueError, match="no rules for 'cobol'"):
        icd.scan("DISPLAY 'x'.", "cobol")


def test_semgrep_failing_is_no_verdict_but_regex_findings_stay(monkeypatch):
    def broken(*args, **kwargs):
        raise ToolFailure("semgrep-core exited with 2: boom")

    monkeypatch.setattr(icd, "run_semgrep", broken)
    clean, weak = icd.scan_many(["x = 1\n", "d = hashlib.md5(b)\n"], "python")
    assert clean.error and "boom" in clean.error and clean.findings == []
    assert icd_verdict(clean) is None  # never "clean"
    assert weak.error and [f.rule_id for f in weak.findings] == ["insecure-md5-hash-usage"]
    assert icd_verdict(weak) is True  # known vulnerable whatever semgrep would have added


def test_code_semgrep_can_only_partly_parse_is_no_verdict():
    result = icd.scan("def f(:\n    os.system(x\n", "python")
    assert result.error and "semgrep" in result.error and icd_verdict(result) is None


def _run(*codes: str | None) -> Run:
    run = Run(prompt="p", model="m", analyzers="all", t_max=1, threshold="note")
    run.iterations = [Iteration(index=i, prompt=[], code=code) for i, code in enumerate(codes)]
    run.stop_reason = "clean"
    return run


def test_eval_report_shows_icd_vulnerable_beside_the_suites():
    py = "import os\n\ndef run(cmd):\n    os.system(cmd)\n"
    fixed = "import subprocess\n\ndef run(cmd):\n    subprocess.run(['ls', cmd], check=True)\n"
    shell = Finding("bandit", "B605", "error", "shell", 4, cwe="CWE-78")
    rows = []
    for task_id, language, first, final, findings in [
        ("CyberSecEval/1", "python", py, fixed, [shell]),
        ("CyberSecEval/2", "python", fixed, fixed, []),
        ("CyberSecEval/3", "c", "void f(char *s) { char b[8]; strcpy(b, s); }\n", None, []),
    ]:
        task = Task(benchmark="cyberseceval", task_id=task_id, prompt="p", language=language, reference=first)
        run = _run(first, final) if final else _run(first)
        run.iterations[0].findings = findings
        rows.append(task_result(task, run, has_analyzer=language == "python", icd=icd_results(task, run)))
    assert (rows[0].icd_first, rows[0].icd_final) == (True, False)
    assert rows[0].icd_rules_first == ["icd:insecure-os-system-use"]
    assert (rows[1].icd_first, rows[2].icd_first, rows[2].icd_final) == (False, True, True)
    python, c = summarize(rows).languages
    assert (python.vulnerable_first, python.icd_first, python.icd_final) == (50.0, 50.0, 0.0)
    assert (c.vulnerable_first, c.icd_first) == (None, 100.0)  # no suite analyzer for C; the ICD has rules
    report = eval_report(rows)
    table = render_markdown([report])
    assert (
        "| Vulnerable % before | Vulnerable % after | ICD Vulnerable % before | ICD Vulnerable % after |"
        in table
    )
    # EFR before/after, then the suite's and the ICD's Vulnerable % before/after
    assert "| m | all | python | 2 | 50.0 | 100.0 | 50.0 | 0.0 | 50.0 | 0.0 |" in table
    assert (
        "| m | all | c | 1 | no analyzer | no analyzer | no analyzer | no analyzer | 100.0 | 100.0 |" in table
    )
    languages = json.loads(render_json([report]))["evals"][0]["summary"]["languages"]
    assert [(lang["language"], lang["icd_first"], lang["icd_final"]) for lang in languages] == [
        ("python", 50.0, 0.0),
        ("c", 100.0, 100.0),
    ]


def test_tasks_without_an_icd_verdict_are_counted_not_hidden():
    task = Task(benchmark="cyberseceval", task_id="CyberSecEval/9", prompt="p", language="python")
    failed = AnalyzerResult("icd", error="semgrep: timed out after 60 s")
    row = task_result(task, _run("x = 1\n"), icd=(failed, failed))
    assert row.icd_first is None and row.icd_errors == ["semgrep: timed out after 60 s"]
    summary = summarize([row]).languages[0]
    assert summary.icd_first is None and summary.icd_no_verdict_first == 1
    report = eval_report([row])
    assert "– (1 no verdict)" in render_markdown([report])


def test_other_benchmarks_get_no_icd_scan():
    task = Task(benchmark="humaneval", task_id="HumanEval/0", prompt="p")
    assert icd_results(task, _run("import os\nos.system(x)\n")) == (None, None)
