"""Warm analyzer workers (core/analyzers/workers.py, tool_worker.py, lsp.py: pylint, bandit, basedpyright
and ruff): the same verdicts as the cold command lines, restarted after a kill, killed at a hang's deadline, gone with patchloop."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from patchloop.core.analyzers import analyze_code, workers
from patchloop.core.analyzers.bandit import bandit_analyzer
from patchloop.core.analyzers.base import ToolFailure
from patchloop.core.analyzers.pylint import pylint_analyzer
from patchloop.core.analyzers.pyright import pyright_analyzer, pyright_server
from patchloop.core.analyzers.ruff import ruff_defects, ruff_security, ruff_server

FIXTURES = Path(__file__).parent / "fixtures" / "analyzers"
FILES = sorted(p.name for p in FIXTURES.glob("*.py"))
KINDS = {
    "pylint": pylint_analyzer,
    "bandit": bandit_analyzer,
    "pyright": pyright_analyzer,
    "ruff": ruff_defects,
    "ruff-security": ruff_security,
}


def worker_of(name: str):
    if name == "pyright":
        return pyright_server()
    if name.startswith("ruff"):
        return ruff_server(KINDS[name]().settings())
    return workers.tool_worker(name)


def verdict(result) -> tuple:
    """Everything a finding says, in order, plus the error: what must not differ warm vs cold."""
    return result.error, [
        (f.rule_id, f.severity, f.line, f.column, f.end_line, f.end_column, f.message, f.confidence, f.cwe)
        for f in result.findings
    ]


def check(name: str, path: Path, *, warm: bool = True, timeout: float = 60.0):
    return dataclasses.replace(KINDS[name](), warm=warm).analyze(path, "python", timeout)


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process group of ``pid`` stopped for the block: alive, reading nothing, answering nothing."""
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        try:
            os.killpg(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("fixture", FILES)
def test_warm_workers_give_the_cold_command_lines_verdict_on_every_fixture(fixture):
    path = FIXTURES / fixture
    for name in KINDS:
        warm, cold = check(name, path), check(name, path, warm=False)
        assert cold.error is None, cold.error
        assert verdict(warm) == verdict(cold), f"{name} on {fixture}"
        assert worker_of(name).pid is not None  # the warm path really ran in a worker


def test_a_file_checked_after_another_of_the_same_name_is_checked_afresh(tmp_path):
    # pylint's astroid caches modules by name: the second solution.py must not see the first one.
    first, second = tmp_path / "a" / "solution.py", tmp_path / "b" / "solution.py"
    first.parent.mkdir(), second.parent.mkdir()
    first.write_text("def total(items):\n    unused = 1\n    return sum(items)\n", encoding="utf-8")
    second.write_text("import os\n\n\ndef total(items):\n    return sum(items)\n", encoding="utf-8")
    for name in KINDS:
        for path in (first, second, first):
            assert verdict(check(name, path)) == verdict(check(name, path, warm=False)), (name, path)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_killed_worker_is_replaced_and_the_next_call_gets_a_verdict(name):
    path = FIXTURES / "defects_unused_variable.py"
    expected = verdict(check(name, path))
    before = worker_of(name).pid
    os.killpg(before, signal.SIGKILL)
    _wait_gone(before, reap=lambda: worker_of(name).pid)
    after = check(name, path)
    assert verdict(after) == expected
    assert worker_of(name).pid not in (None, before)


@pytest.mark.parametrize("name", ["pyright", "ruff"])
def test_a_server_that_fails_a_request_is_replaced_and_asked_once_more(name, monkeypatch):
    path = FIXTURES / "defects_unused_variable.py"
    expected = verdict(check(name, path))
    server = worker_of(name)
    before, real, asked = server.pid, server._request, []

    def failing_once(method, params, deadline):
        asked.append(method)
        if method == "textDocument/diagnostic" and asked.count(method) == 1:
            method = "patchloop/noSuchMethod"  # the server answers with an error, as after an inner crash
        return real(method, params, deadline)

    monkeypatch.setattr(server, "_request", failing_once)
    assert verdict(check(name, path)) == expected
    assert asked.count("textDocument/diagnostic") == 2 and server.pid not in (None, before)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_hung_worker_is_killed_at_the_deadline_and_replaced(name):
    path = FIXTURES / "defects_unreachable.py"
    expected = verdict(check(name, path))
    hung = worker_of(name).pid
    with stopped(hung):
        started = time.monotonic()
        result = check(name, path, timeout=1.5)
        assert result.error == "timed out after 1.5 s" and result.findings == []
        assert time.monotonic() - started < 5
    _wait_gone(hung)
    assert verdict(check(name, path)) == expected


def test_a_large_file_for_a_hung_server_times_out_too(tmp_path):
    # 2 MB of text does not fit the pipe of a server that reads nothing: the write itself must
    # stop at the deadline.
    path = tmp_path / "solution.py"
    path.write_text("values = [\n" + "    1234567890,\n" * 130_000 + "]\n", encoding="utf-8")
    check("pyright", FIXTURES / "clean_algorithms.py")
    hung = worker_of("pyright").pid
    with stopped(hung):
        started = time.monotonic()
        result = check("pyright", path, timeout=1.5)
        assert result.error == "timed out after 1.5 s"
        assert time.monotonic() - started < 5


def test_a_worker_started_from_a_thread_outlives_the_thread():
    # The guard's death signal follows the thread that started it; workers are started from one
    # long-lived thread, so the runner's short-lived threads do not take them down when they end.
    workers.close_all()
    thread = threading.Thread(target=check, args=("pylint", FIXTURES / "clean_algorithms.py"))
    thread.start()
    thread.join()
    pid = workers.tool_worker("pylint").pid
    time.sleep(0.5)
    assert workers.tool_worker("pylint").pid == pid is not None
    os.killpg(pid, 0)  # still there


def test_concurrent_calls_share_the_workers_and_get_their_own_verdicts():
    names = [
        "defects_unused_variable.py",
        "defects_unreachable.py",
        "security_shell_true.py",
        "clean_algorithms.py",
    ]
    codes = [(FIXTURES / n).read_text(encoding="utf-8") for n in names]
    alone = [analyze_code(code, "all") for code in codes]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda code: analyze_code(code, "all"), codes * 2))
    for expected, got in zip(alone * 2, together, strict=True):
        assert got.errors == [] and got.findings == expected.findings


def test_a_worker_that_cannot_start_is_an_error():
    worker = workers.ToolWorker("no-such-tool")
    with pytest.raises(ToolFailure, match="could not start: no-such-tool"):
        worker.run(["no-such-tool", "--", "x.py"], timeout=30)
    worker.close()


def test_workers_die_with_patchloop(tmp_path):
    script = textwrap.dedent("""
        import sys
        from patchloop.core.analyzers import analyze_code, workers
        from patchloop.core.analyzers.pyright import pyright_server
        analysis = analyze_code("def f(x):\\n    return x\\n", "all")
        assert analysis.errors == [], analysis.errors
        from patchloop.core.analyzers.ruff import ruff_defects, ruff_server
        print(workers.tool_worker("pylint").pid, workers.tool_worker("bandit").pid, pyright_server().pid,
              ruff_server(ruff_defects().settings()).pid, flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        groups = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(groups) == 4
        for group in groups:
            os.killpg(group, 0)
    finally:
        proc.kill()
        proc.wait()
    for group in groups:
        _wait_gone(group)


def _wait_gone(group: int, limit: float = 10.0, reap=lambda: None) -> None:
    """Wait until no process of ``group`` is left; ``reap``: collects our own dead child (a
    zombie still counts as a group member until its parent waits for it)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        reap()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {group} is still there after {limit:g} s")
