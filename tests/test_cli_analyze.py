"""`patchloop analyze` (patchloop/cli_analyze.py): folders, stdin, output formats, exit codes.

Most tests replace the analyzers with a function that flags every `eval(` line (fast, and the
findings are known); a few run the real security suite on tiny files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from patchloop.core import analyzers
from patchloop.core.types import Analysis, AnalyzerResult, Finding

from patchloop.cli import cli
from patchloop.cli_analyze import walk

EVAL = "def f(x):\n    return eval(x)\n"
CLEAN = "def add(a: int, b: int) -> int:\n    return a + b\n"


def fake_analysis(code: str, language: str = "python", error: str | None = None) -> Analysis:
    findings = [
        Finding(
            "bandit",
            "B307",
            "warning",
            "Use of possibly insecure function",
            n,
            line.index("eval") + 1,
            cwe="CWE-78",
            end_line=n,
            end_column=line.index("eval") + 8,
        )
        for n, line in enumerate(code.splitlines(), 1)
        if "eval(" in line
    ]
    findings += [
        Finding("ruff", "F401", "note", "`os` imported but unused", n, 8)
        for n, line in enumerate(code.splitlines(), 1)
        if line.startswith("import os")
    ]
    findings.sort(key=lambda f: f.line)
    return Analysis(findings, [AnalyzerResult("bandit", findings, error=error)], 0.01)


@pytest.fixture
def calls(monkeypatch):
    """Analyzer calls recorded as (name, language, text); the analysis is fake_analysis's."""
    seen: list[tuple[str, str, str]] = []

    def fake_file(path, suite="all", *, skip=(), timeout=60.0, code=None, language=None):
        text = Path(path).read_text() if code is None else code
        seen.append((str(path), language or analyzers.language_of(Path(path)), text))
        return fake_analysis(text, error="bandit crashed" if "CRASH" in text else None)

    def fake_code(code, suite="all", *, language="python", skip=(), timeout=60.0, filename="solution.py"):
        seen.append((filename, language, code))
        return fake_analysis(code, language)

    monkeypatch.setattr(analyzers, "analyze_file", fake_file)
    monkeypatch.setattr(analyzers, "analyze_code", fake_code)
    return seen


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)

    def invoke(*args, input=None):
        return CliRunner().invoke(
            cli, ["--db", str(tmp_path / "log.db"), "analyze", *args], input=input, catch_exceptions=False
        )

    return invoke


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_command_lives_in_cli_analyze():
    assert cli.commands["analyze"].callback.__module__ == "patchloop.cli_analyze"


def test_a_folder_is_walked_with_the_usual_excludes(run, calls, tmp_path):
    tree(
        tmp_path / "src",
        {
            "app.py": EVAL,
            "pkg/util.py": CLEAN,
            "pkg/gen_pb2.py": EVAL,
            "web/app.js": "eval(x)\n",
            "notes.md": "eval(x)\n",
            ".venv/lib/x.py": EVAL,
            "venv/y.py": EVAL,
            "node_modules/z.py": EVAL,
            "__pycache__/c.py": EVAL,
            "build/b.py": EVAL,
            "dist/d.py": EVAL,
            ".tox/t.py": EVAL,
            ".mypy_cache/m.py": EVAL,
            ".hidden/h.py": EVAL,
            ".git/hooks/g.py": EVAL,
            "tests/test_a.py": EVAL,
        },
    )
    result = run("src", "--exclude", "*_pb2.py", "--exclude", "tests")
    assert result.exit_code == 1
    # notes.md is no language patchloop knows; the JavaScript file is analyzed as JavaScript
    assert [(name, lang) for name, lang, _ in calls] == [
        ("src/app.py", "python"), ("src/pkg/util.py", "python"), ("src/web/app.js", "javascript")]  # fmt: skip
    assert result.stdout == (
        "src/app.py:2:12: bandit:B307 Use of possibly insecure function\n"
        "src/web/app.js:1:1: bandit:B307 Use of possibly insecure function\n"
    )


def test_exclude_matches_paths_below_the_folder_and_named_files_are_kept(run, calls, tmp_path):
    tree(tmp_path / "src", {"a/gen/x.py": EVAL, "a/keep.py": EVAL, "b.py": EVAL})
    result = run("src", "--exclude", "a/gen", "src/b.py", "src/a/gen/x.py")
    assert result.exit_code == 1
    # src/b.py is found in the folder and named: analyzed once; a named file is never excluded
    assert [name for name, _, _ in calls] == ["src/a/keep.py", "src/b.py", "src/a/gen/x.py"]


def test_walk_unit(tmp_path):
    tree(tmp_path, {"z.py": "", "a/b.c": "", "a/c.py": "", "a/.d/e.py": "", "x.txt": ""})
    found, left_out = walk(tmp_path, (), {"python"})
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/c.py", "z.py"]
    assert dict(left_out) == {"c": 1}


def test_nothing_to_analyze_and_missing_paths_are_bad_input(run, calls, tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["empty"], ["nope.py"], ["-", "-"]):
        result = run(*args, input="")
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
        assert "Traceback" not in result.output
    assert calls == []


def test_stdin_with_language_and_filename(run, calls):
    result = run("-", input=EVAL)
    assert result.exit_code == 1
    assert result.stdout.startswith("-:2:12: bandit:B307 ")
    assert calls[-1] == ("stdin.py", "python", EVAL)
    result = run("-", "--stdin-filename", "src/app.py", input=EVAL)
    assert result.stdout.startswith("src/app.py:2:12: ")
    run("-", "--stdin-filename", "lib/x.js", input="eval(x)\n")
    assert calls[-1][:2] == ("stdin.js", "javascript")
    run("-", "--language", "py3", "--stdin-filename", "x.js", input=EVAL)
    assert calls[-1][:2] == ("stdin.py", "python")
    assert run("-", "--language", "cobol", input=EVAL).exit_code == 2
    assert run("-", input=CLEAN).exit_code == 0


def test_binary_or_non_utf8_stdin_is_bad_input(run, calls):
    for data in (b"x = 1\0\n", b"x = '\xe9'\n"):
        result = CliRunner().invoke(cli, ["analyze", "-"], input=data)
        assert result.exit_code == 2 and "stdin is" in result.stderr
    assert calls == []


def test_formats(run, calls, tmp_path):
    source = tmp_path / "a.py"
    source.write_text("import os\n" + EVAL)
    concise = run("a.py")  # CliRunner's stdout is not a terminal: concise by default
    assert concise.stdout.splitlines() == [
        "a.py:1:8: ruff:F401 `os` imported but unused",
        "a.py:3:12: bandit:B307 Use of possibly insecure function",
    ]
    assert concise.stdout == run("--format", "concise", "a.py").stdout
    assert "2 finding(s) at or above note in 1 file(s)" in concise.stderr
    # --threshold applies to every format
    assert run("--threshold", "warning", "a.py").stdout.count("\n") == 1
    assert json.loads(run("--json", "a.py").stdout) == json.loads(run("--format", "json", "a.py").stdout)
    assert len(json.loads(run("--json", "--threshold", "warning", "a.py").stdout)["a.py"]["findings"]) == 1
    sarif = json.loads(run("--sarif", "--threshold", "warning", "a.py").stdout)
    assert sarif == json.loads(run("--format", "sarif", "--threshold", "warning", "a.py").stdout)
    assert sum(len(r["results"]) for r in sarif["runs"]) == 1
    github = run("--format", "github", "a.py").stdout.splitlines()
    assert github == [
        "::notice file=a.py,line=1,col=8,title=ruff%3AF401::`os` imported but unused",
        (
            "::warning file=a.py,line=3,col=12,endLine=3,endColumn=19,title=bandit%3AB307 (CWE-78)"
            "::Use of possibly insecure function"
        ),
    ]
    full = run("--format", "full", "a.py").stdout
    assert "severity" in full and "B307" in full and "insecure function" in full
    for clash in (["--json", "--sarif"], ["--format", "github", "--json"]):
        result = run(*clash, "a.py")
        assert result.exit_code == 2 and "choose one output format" in result.stderr


def test_github_annotations_escape_what_the_runner_reads_back(run, calls, monkeypatch, tmp_path):
    from patchloop.output import github_annotation

    finding = Finding("bandit", "B1", "error", "50% bad,\nreally", 2, 0)
    assert (
        github_annotation("dir,x/a:b.py", finding)
        == "::error file=dir%2Cx/a%3Ab.py,line=2,title=bandit%3AB1::50%25 bad,%0Areally"
    )


def test_exit_codes(run, calls, tmp_path):
    tree(tmp_path, {"clean.py": CLEAN, "bad.py": EVAL, "crash.py": "# CRASH\n"})
    assert run("clean.py").exit_code == 0
    assert run("clean.py", "bad.py").exit_code == 1
    crashed = run("clean.py", "bad.py", "crash.py")
    assert crashed.exit_code == 4 and "crash.py: analyzer error: bandit: bandit crashed" in crashed.stderr
    github = run("--format", "github", "crash.py")
    assert "::error file=crash.py,title=analyzer error::bandit: bandit crashed" in github.stdout


def test_a_bad_file_in_a_folder_names_the_file_and_the_way_out(run, calls, tmp_path):
    tree(tmp_path / "src", {"ok.py": CLEAN})
    (tmp_path / "src" / "latin.py").write_bytes(b"x = '\xe9'\n")
    result = run("src")
    assert result.exit_code == 2 and "latin.py is not UTF-8" in result.stderr and "--exclude" in result.stderr
    assert calls == []  # every input is checked before any is analyzed


def test_real_analyzers_on_a_folder_and_stdin(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)
    tree(tmp_path / "src", {"a.py": EVAL, "b.py": CLEAN, ".venv/c.py": EVAL})
    runner = CliRunner()
    folder = runner.invoke(cli, ["analyze", "-a", "security", "--json", "src"])
    assert folder.exit_code == 1
    data = json.loads(folder.stdout)
    assert set(data) == {"src/a.py", "src/b.py"} and data["src/b.py"]["findings"] == []
    assert {f["rule_id"] for f in data["src/a.py"]["findings"]} == {"B307"}
    stdin = runner.invoke(
        cli, ["analyze", "-a", "security", "-", "--stdin-filename", "pkg/mod.py"], input=EVAL
    )
    assert stdin.exit_code == 1 and stdin.stdout.startswith("pkg/mod.py:2:12: bandit:B307 ")
