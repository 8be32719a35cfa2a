"""Hostile generated code is contained by the sandbox and reported as a failed task.

Every test runs in each sandbox mode this machine offers (bwrap, unshare, rlimits) and checks
what that mode promises (``SandboxInfo.guarantees``); a promise a mode does not make is skipped,
never silently passed.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from patchloop.core import sandbox
from patchloop.core.sandbox import SandboxError, check_tests, run_python, sandbox_info
from patchloop.core.sandbox import run as sandbox_run
from patchloop.core.sandbox.uids import UNPRIVILEGED_UID, UidPool
from sandbox_modes import MODES, available, needs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


def test_some_sandbox_exists_and_bwrap_is_preferred():
    info = sandbox_info()
    assert info.mode in sandbox.MODES
    assert sandbox.ALWAYS <= info.guarantees
    if available("bwrap"):
        assert info.mode == "bwrap"
        assert {"no_network", "readonly_fs", "private_tmp", "unprivileged"} <= info.guarantees


def test_normal_solution_passes(mode):
    code = "def add(a, b):\n    return a + b\n"
    result = check_tests(code, "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n", mode=mode)
    assert result.ok, result.stderr
    assert result.returncode == 0 and not result.timed_out and result.killed_reason is None
    assert result.mode == mode


def test_humaneval_style_check_and_output(mode):
    code = "def double(x):\n    print('working')\n    return 2 * x\n"
    tests = "def check(candidate):\n    assert candidate(4) == 8\n"
    result = check_tests(code, tests, "double", mode=mode)
    assert result.ok
    assert "working" in result.stdout
    assert "patchloop-tests-passed" not in result.stdout  # the marker is stripped from what we report


def test_wrong_solution_fails_with_the_reason(mode):
    result = check_tests("def add(a, b):\n    return a - b\n", "assert add(2, 3) == 5\n", mode=mode)
    assert not result.ok
    assert "AssertionError" in result.stderr


@pytest.mark.parametrize(
    "escape",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "import sys\nprint(open(sys.argv[0]).read())\nraise SystemExit(0)\n",
    ],
)
def test_exiting_early_does_not_fake_a_pass(escape):
    # The tests never run; exit status 0 alone must not count as passed.
    result = check_tests("def f():\n    return 1\n" + escape, "assert f() == 2\n")
    assert not result.ok


def test_infinite_loop_hits_the_wall_clock(mode):
    result = run_python("while True:\n    pass\n", timeout=1.5, mode=mode)
    assert not result.ok and result.timed_out
    assert result.killed_reason.startswith("wall time limit")


# A run that takes all it can of one thing: its code, the limits it runs under (besides a 10 s wall
# clock), the promises of the mode it needs, and the reasons it may be stopped for.
RUNAWAYS = [
    # 96 MB is below the share of the 1 GB run cap any mechanism gives one process, so this is the
    # process's own limit (a run over the cap is tests/test_sandbox_limits.py's)
    pytest.param(
        "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n",
        {"memory_mb": 96},
        (),
        ("memory limit",),
        id="memory-bomb",
    ),
    pytest.param(
        "import os\nwhile True:\n    os.fork()\n",
        {},
        ("process_limit",),
        ("process limit", "wall time limit (10s)"),
        id="fork-bomb",
    ),
]


@pytest.mark.parametrize(("code", "limits", "promises", "reasons"), RUNAWAYS)
def test_a_runaway_run_is_stopped(mode, code, limits, promises, reasons):
    needs(mode, *promises)
    result = run_python(code, timeout=10, mode=mode, **limits)
    assert not result.ok
    assert result.killed_reason in reasons


def test_stubborn_fork_bomb_is_cleaned_up(mode):
    needs(mode, "process_limit")
    code = (
        "import os, time\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        time.sleep(0.01)\n"
    )
    result = run_python(code, timeout=2, mode=mode)
    assert not result.ok and result.timed_out
    # Nothing of it survives the kill (the kernel may take a moment to tear a namespace down).
    deadline = time.monotonic() + 10
    while (survivors := _sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not survivors, f"sandbox processes left behind: {survivors}"


def _sandbox_processes() -> list[str]:
    """Live (not zombie) sandboxed scripts: a sandbox uid (or ours) running main.py."""
    uids = {str(u) for u in sandbox_run.uid_pool.uids} | {str(UNPRIVILEGED_UID), str(os.getuid())}
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            status = dict(
                line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
            )
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (
            status.get("Uid", "").split()[:1]
            and status["Uid"].split()[0] in uids
            and "main.py" in cmdline
            and not status.get("State", "").strip().startswith("Z")
        ):
            found.append(proc.name)
    return found


def test_network_is_unreachable(mode):
    needs(mode, "no_network")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.3)
        port = server.getsockname()[1]
        code = (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "s.sendall(b'leak')\nprint('connected')\n"
        )
        result = run_python(code, timeout=10, mode=mode)
        assert not result.ok
        assert "connected" not in result.stdout
        with pytest.raises(TimeoutError):
            server.accept()


def test_environment_secrets_do_not_reach_the_code(mode, monkeypatch):
    token = secrets.token_hex(16)
    monkeypatch.setenv("PATCHLOOP_TEST_SECRET", token)
    monkeypatch.setenv("OPENAI_API_KEY", token)
    scan_all = bool({"unprivileged", "private_pids"} & sandbox_info(mode).guarantees)
    code = (
        "import os, glob\nprint(dict(os.environ))\n"
        "for path in " + ("glob.glob('/proc/*/environ')" if scan_all else "['/proc/self/environ']") + ":\n"
        "    try:\n        print(open(path, 'rb').read())\n    except OSError:\n        pass\n"
    )
    result = run_python(code, timeout=10, mode=mode)
    assert result.ok, result.stderr
    assert "PATH" in result.stdout
    assert token not in result.stdout and token not in result.stderr


@pytest.mark.parametrize("target", ["repo", "tmp", "home"])
def test_writes_outside_the_work_dir_are_contained(mode, target):
    info = sandbox_info(mode)
    name = f"patchloop-hostile-{secrets.token_hex(6)}"
    path = {"repo": REPO / name, "tmp": Path("/tmp") / name, "home": Path.home() / name}[target]
    if "readonly_fs" not in info.guarantees:
        world_writable = bool(path.parent.stat().st_mode & 0o002)
        if "unprivileged" not in info.guarantees or world_writable:
            pytest.skip(f"sandbox mode {mode} does not keep the code out of {path.parent}")
    try:
        result = run_python(f"open({str(path)!r}, 'w').write('owned')\n", timeout=10, mode=mode)
        assert not path.exists(), f"the sandboxed code wrote {path}"
        if target != "tmp":  # /tmp is a private tmpfs under bwrap: the write succeeds there, harmlessly
            assert not result.ok
    finally:
        path.unlink(missing_ok=True)


def test_the_work_dir_is_fresh_and_writable(mode):
    first = run_python(
        "import os\nprint(sorted(os.listdir('.')))\nopen('left.txt', 'w').write('x')\n", mode=mode
    )
    second = run_python("import os\nprint(sorted(os.listdir('.')))\n", mode=mode)
    assert first.ok and second.ok, first.stderr + second.stderr
    assert "left.txt" not in second.stdout


def test_killing_the_parent_is_contained(mode):
    needs(mode, "parent_protected")
    for code in (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('after')\n",
        "import os, signal\nos.killpg(0, signal.SIGKILL)\n",
        f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n",
    ):
        result = run_python(code, timeout=10, mode=mode)
        assert isinstance(result, sandbox.SandboxResult)  # we are alive to see it
    assert check_tests("def f():\n    return 1\n", "assert f() == 1\n", mode=mode).ok


def test_output_flood_is_capped(mode):
    result = run_python(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
        timeout=10,
        max_output=100_000,
        mode=mode,
    )
    assert not result.ok
    assert result.killed_reason in ("file size limit", "wall time limit (10s)")
    assert len(result.stdout) < 100_000 + 10_000


def test_a_neighbour_fork_bomb_does_not_fail_a_good_solution(mode):
    needs(mode, "process_limit")
    bomb = threading.Thread(
        target=run_python,
        args=(
            "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n",
        ),
        kwargs={"timeout": 3, "mode": mode},
    )
    bomb.start()
    try:
        results = [
            check_tests(
                "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)\n"
                "def f():\n    return 1\n",
                "assert f() == 1\n",
                mode=mode,
            )
            for _ in range(3)
        ]
    finally:
        bomb.join()
    assert all(r.ok for r in results), [r.stderr for r in results]


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(SandboxError, match="unknown sandbox mode"):
        sandbox_info("chroot")


def test_stdin_reaches_the_code(mode):
    result = run_python("print(input()[::-1])\n", stdin="olleh\n", mode=mode)
    assert result.ok and result.stdout.strip() == "hello"


def test_a_uid_full_of_other_processes_is_skipped(mode, monkeypatch):
    """RLIMIT_NPROC counts a uid's processes kernel-wide (other containers' too): a sandbox whose uid
    is already full must move to another uid, not report the code as a fork bomb."""
    info = needs(mode, "process_limit")
    if not info.drop_uid:
        pytest.skip("only a root patchloop picks the sandbox's uid")
    pool = UidPool()
    busy_uid = pool.uids[0]
    monkeypatch.setattr(sandbox_run, "uid_pool", pool)
    squatters = [subprocess.Popen(["sleep", "60"], user=busy_uid, group=busy_uid) for _ in range(40)]
    try:
        result = run_python("print('ran')\n", mode=mode)
    finally:
        for proc in squatters:
            proc.kill()
            proc.wait()
    assert result.ok and result.stdout.strip() == "ran", result.stderr
