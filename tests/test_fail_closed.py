"""Fail closed, for every registered analyzer: no verdict is an error, never "clean".

Each analyzer in ``ANALYZERS`` (a new one is picked up here without editing this file) is run
with its tool replaced by a fake executable: ``find_tool``, through which ``run_tool`` finds every
program it starts, is monkeypatched to return a shell script that prints what a case needs. Cases:
the executable missing, garbage on stdout, nothing on stdout (each with the exit statuses a tool
uses for "no findings" and "findings"), a tool that hangs past the timeout, and, for tools whose
report says how many files they looked at, a well-formed report of zero files. A control case
(the same report with the file counted) must come back clean, so the errors are the analyzers'
doing and not the fake's. The real tools are also given a file that does not exist.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from patchloop.core.analyzers import ANALYZERS, base
from patchloop.core.analyzers.runner import run_analyzers
from patchloop.core.languages import BY_SUFFIX

NAMES = sorted(ANALYZERS)
SAMPLES = {
    "python": "def add(a, b):\n    return a + b\n",
    "java": "class Main {}\n",
    "javascript": "const x = 1;\n",
}


def _external(name: str) -> bool:
    return getattr(ANALYZERS[name](), "executable", None) is not None


EXTERNAL = [name for name in NAMES if _external(name)]

# A tool's well-formed report of a run that looked at no file (``{path}``: the file it was given),
# and the same report with that file counted (the control: clean). Tools whose report never says
# which files it read are listed in NO_FILE_COUNT, with the reason.
ZERO_FILES: dict[str, tuple[str, str]] = {
    "bandit": (
        '{"errors": [], "metrics": {"_totals": {"loc": 0}}, "results": []}',
        '{"errors": [], "metrics": {"{path}": {"loc": 2}, "_totals": {"loc": 2}}, "results": []}',
    ),
    "pylint": (
        '{"messages": [], "statistics": {"messageTypeCount": {}, "modulesLinted": 0, "score": 0}}',
        '{"messages": [], "statistics": {"messageTypeCount": {}, "modulesLinted": 1, "score": 10}}',
    ),
    "pyright": (
        '{"generalDiagnostics": [], "summary": {"filesAnalyzed": 0, "errorCount": 0}}',
        '{"generalDiagnostics": [], "summary": {"filesAnalyzed": 1, "errorCount": 0}}',
    ),
    "semgrep": (
        '{"results": [], "errors": [], "paths": {"scanned": []}}',
        '{"results": [], "errors": [], "paths": {"scanned": ["{path}"]}}',
    ),
    "eslint": ("[]", '[{"filePath": "{path}", "messages": []}]'),
}
# Every analyzer on the semgrep engine (semgrep-csharp, semgrep-langs, ...) reports the same way.
for _name in EXTERNAL:
    if ANALYZERS[_name]().executable == "semgrep":
        ZERO_FILES.setdefault(_name, ZERO_FILES["semgrep"])
# ruff's JSON is a bare list of findings; when it lints nothing it says so on stderr only.
STDERR_ZERO_FILES = {
    "ruff": "warning: No Python files found under the given path(s)\n",
    "ruff-security": "warning: No Python files found under the given path(s)\n",
}
NO_FILE_COUNT: dict[str, str] = {
    "javac": "a compiler: success is silent; the class file it must write is the proof (garbage/no-output cases)",
    "php-lint": "php -l says 'No syntax errors detected in FILE' when it checked one (garbage/no-output cases)",
    "node-check": "node --check: success is exit status 0 and no output (see SILENT_SUCCESS)",
    "gcc": "gcc's JSON names no file read; a missing file is a fatal error about no place (an analyzer error)",
    "gcc-analyzer": "as gcc",
    "cppcheck": "cppcheck exits 1 when it could open none of the files it was given",
    "cppcheck-security": "as cppcheck",
    "flawfinder": "its CSV never names the files read: the analyzer checks the file is there first",
    "mcs": "a compiler: success is silent; the assembly it must write is the proof (garbage/no-output cases)",
    "rustc": "a compiler: success is silent; the MIR file it must emit is the proof (garbage/no-output cases)",
    "clippy": "as rustc (the metadata file)",
    "clippy-security": "as rustc (the metadata file)",
    "mcs-compile": "as mcs",
}
# Tools whose only success report is exit status 0 with no output: the fake's silent exit 0 is then
# indistinguishable from a real clean run, so those two cases cannot apply. Every other case does.
SILENT_SUCCESS: dict[str, str] = {
    "node-check": "node --check prints nothing and exits 0 on a file that parses; nothing else to read",
}


def _source(tmp_path: Path, name: str) -> tuple[Path, str]:
    language = ANALYZERS[name]().languages[0]
    suffix = next((s for s, lang in BY_SUFFIX.items() if lang == language), ".txt")
    path = tmp_path / "work" / f"solution{suffix}"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SAMPLES.get(language, "x\n"), encoding="utf-8")
    return path, language


@pytest.fixture
def fake_tool(tmp_path, monkeypatch):
    """fake_tool(stdout, rc, stderr="", hang=False): every program an analyzer starts is this script."""
    calls = tmp_path / "calls"

    def install(stdout: str = "", rc: int = 0, stderr: str = "", hang: bool = False) -> Path:
        (tmp_path / "out").write_text(stdout, encoding="utf-8")
        (tmp_path / "err").write_text(stderr, encoding="utf-8")
        body = "exec sleep 30\n" if hang else f"cat '{tmp_path}/out'\ncat '{tmp_path}/err' >&2\nexit {rc}\n"
        script = tmp_path / "fake-tool"
        script.write_text(f"#!/bin/sh\necho run >> '{calls}'\n{body}", encoding="utf-8")
        script.chmod(0o755)
        monkeypatch.setattr(base, "find_tool", lambda executable: str(script))
        return calls

    return install


def _analyze(tmp_path: Path, name: str, timeout: float = 30.0):
    path, language = _source(tmp_path, name)
    return ANALYZERS[name]().analyze(path, language, timeout)


def _ran(calls: Path) -> bool:
    return calls.exists() and calls.read_text().count("run") >= 1


@pytest.mark.parametrize("name", EXTERNAL)
def test_missing_executable_is_an_error(name, tmp_path, monkeypatch):
    monkeypatch.setattr(base, "find_tool", lambda executable: None)
    result = _analyze(tmp_path, name)
    assert result.error and not result.findings


@pytest.mark.parametrize(
    "output", ["Segmentation fault? <html>not a report</html>\n", ""], ids=["garbage", "nothing"]
)
@pytest.mark.parametrize("rc", [0, 1])
@pytest.mark.parametrize("name", EXTERNAL)
def test_garbage_or_no_output_is_an_error(name, rc, output, tmp_path, fake_tool):
    if rc == 0 and name in SILENT_SUCCESS:
        pytest.skip(SILENT_SUCCESS[name])
    calls = fake_tool(output, rc)
    result = _analyze(tmp_path, name)
    assert _ran(calls)
    assert result.error and not result.findings


@pytest.mark.parametrize("name", EXTERNAL)
def test_a_hung_tool_is_a_timeout_error(name, tmp_path, fake_tool):
    fake_tool(hang=True)
    path, language = _source(tmp_path, name)
    started = time.monotonic()
    [result] = run_analyzers([ANALYZERS[name]()], path, language, timeout=1.0)
    assert time.monotonic() - started < 10  # killed at the deadline, not after the fake's 30 s sleep
    assert result.error and "timed out" in result.error and not result.findings


@pytest.mark.parametrize("name", sorted(ZERO_FILES))
def test_a_report_of_zero_files_is_an_error_and_of_one_file_clean(name, tmp_path, fake_tool):
    if name not in ANALYZERS:
        pytest.skip(f"{name} is not registered")
    path, _ = _source(tmp_path, name)
    zero, one = ZERO_FILES[name]
    fake_tool(zero, 0)
    result = _analyze(tmp_path, name)
    assert result.error and not result.findings
    fake_tool(one.replace("{path}", json.dumps(str(path))[1:-1]), 0)
    control = _analyze(tmp_path, name)
    assert control.error is None and control.findings == []


@pytest.mark.parametrize("name", sorted(STDERR_ZERO_FILES))
def test_a_tool_that_says_it_linted_nothing_is_an_error(name, tmp_path, fake_tool):
    fake_tool("[]", 0, STDERR_ZERO_FILES[name])
    assert _analyze(tmp_path, name).error
    fake_tool("[]", 0)
    control = _analyze(tmp_path, name)
    assert control.error is None and control.findings == []


def test_every_external_analyzer_has_a_zero_files_case():
    """A newly registered tool must say how its report shows "no file scanned" (or why it cannot)."""
    undecided = [
        n for n in EXTERNAL if n not in ZERO_FILES and n not in STDERR_ZERO_FILES and n not in NO_FILE_COUNT
    ]
    assert not undecided, f"add a zero-files case (or a NO_FILE_COUNT reason) for: {', '.join(undecided)}"


@pytest.mark.parametrize("name", NAMES)
def test_the_real_tool_given_no_file_is_an_error(name, tmp_path):
    """The real tool, no fake: a file that is not there is scanned by nobody, so it is no verdict."""
    path, language = _source(tmp_path, name)
    path.unlink()
    result = ANALYZERS[name]().analyze(path, language, 60.0)
    assert result.error and not result.findings
