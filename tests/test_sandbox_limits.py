"""Containment of a whole sandboxed run: the disk cap, the memory cap, the seccomp filter, and what
is left behind when patchloop itself is killed with SIGKILL.

Each test runs in every sandbox mode this machine offers and checks what that mode promises
(``SandboxInfo.guarantees``); a promise a mode does not make is skipped, never silently passed. The
caps used here are a few tens of MB: nothing allocates or writes more than that.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from patchloop.core import procguard, sandbox, tempdirs
from patchloop.core.analyzers import base
from patchloop.core.config import ConfigError, load_config
from patchloop.core.sandbox import cgroup as sandbox_cgroup
from patchloop.core.sandbox import check_tests, memory, run_python, sandbox_info, seccomp
from patchloop.core.sandbox import run as sandbox_run
from patchloop.core.sandbox.limits import (
    DEFAULT_DISK_MB,
    DEFAULT_MEMORY_MB,
    DISK_REASON,
    MEMORY_MECHANISMS,
    MEMORY_REASON,
    MIN_PROCESS_BYTES,
    MiB,
    disk_layout,
    plan_memory,
)
from sandbox_modes import MODES, needs
from sandbox_programs import FORK_EACH, greedy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


# -- disk ------------------------------------------------------------------------------------------

FILL = textwrap.dedent("""
    import sys
    total = 0
    try:
        for i in range(1000):
            with open(f"f{i}", "wb") as fh:
                for _ in range(4):
                    fh.write(b"x" * (1 << 20))
                    total += 1 << 20
    except OSError as exc:
        print("refused:", exc, flush=True)
    print("wrote", total, flush=True)
    sys.exit(0)  # claims success all the same
""")


def test_disk_layout_adds_up_to_the_cap():
    for disk_mb, file_mb in [(16, 16), (24, 16), (256, 16), (1000, 1), (17, 3)]:
        layout = disk_layout(disk_mb, file_mb)
        assert 2 * layout.file_bytes + layout.tmp_bytes + layout.shm_bytes <= disk_mb * MiB
        assert layout.tmp_bytes > 0 and layout.shm_bytes > 0 and layout.file_bytes <= file_mb * MiB
        assert all(size % 4096 == 0 for size in (layout.file_bytes, layout.tmp_bytes, layout.shm_bytes))
    with pytest.raises(ValueError):
        disk_layout(0, 16)


def test_writing_past_the_disk_cap_fails_the_run(mode):
    needs(mode, "work_dir_quota")
    result = run_python(FILL, disk_mb=24, timeout=20, mode=mode)
    assert not result.ok
    assert result.killed_reason == DISK_REASON, result.stderr[-500:]


def test_the_disk_cap_is_a_hard_limit_under_bwrap():
    needs("bwrap", "disk_quota")
    result = run_python(FILL, disk_mb=24, timeout=20, mode="bwrap")
    assert not result.ok and result.killed_reason == DISK_REASON
    written = int(result.stdout.split("wrote")[-1])
    assert 0 < written <= 24 * MiB, written  # the kernel refused the rest
    assert "No space left on device" in result.stdout


def test_many_small_files_count_against_the_cap(mode):
    needs(mode, "work_dir_quota")
    code = "for i in range(3000):\n    open(f'e{i}', 'w').close()\nprint('made them all')\n"
    result = run_python(code, disk_mb=24, timeout=20, mode=mode)  # 24 MB allows 1536 files
    assert not result.ok and result.killed_reason == DISK_REASON


def test_shared_memory_and_other_mounts_are_capped_or_read_only():
    needs("bwrap", "disk_quota")
    code = textwrap.dedent("""
        import os
        for path in ("/dev/shm/x", "/dev/x", "/var/tmp/x", "/run/x", "/root/x", os.path.expanduser("~") + "/../x"):
            try:
                with open(path, "wb") as fh:
                    fh.write(b"x" * (4 << 20))
                print("wrote", path)
            except OSError as exc:
                print("refused", path, exc.errno)
    """)
    result = run_python(code, disk_mb=24, timeout=20, mode="bwrap")
    assert "wrote /dev/x" not in result.stdout and "wrote /var/tmp/x" not in result.stdout, result.stdout
    assert "wrote /run/x" not in result.stdout and "wrote /root/x" not in result.stdout
    assert "wrote /dev/shm/x" not in result.stdout  # 4 MB is more than /dev/shm's share of 24 MB


def test_a_run_under_the_disk_cap_passes(mode):
    code = "open('data', 'wb').write(b'x' * (2 << 20))\nprint(len(open('data', 'rb').read()))\n"
    result = run_python(code, disk_mb=24, mode=mode)
    assert result.ok, result.stderr[-500:]
    assert result.stdout.strip() == str(2 << 20)


# -- memory ----------------------------------------------------------------------------------------

CHILDREN = FORK_EACH + textwrap.dedent("""
    def hold():
        block = b"x" * (40 << 20)  # written, so resident
        time.sleep(20)
    pids = fork_each(4, hold)
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    print("children done", statuses)
    sys.exit(1 if any(statuses) else 0)
""")

GREEDY = greedy(forks=8, hold_s=0.5)


@pytest.mark.parametrize("cap_mb", [64, 96, 128, 200, 256, 1024, 4096])
def test_the_rlimits_plan_keeps_count_times_limit_within_the_cap(cap_mb):
    plan = plan_memory("rlimits", cap_mb, 512, 32)
    assert plan.hard and plan.processes >= 1
    assert plan.processes * plan.process_bytes <= cap_mb * MiB
    assert plan.process_bytes >= MIN_PROCESS_BYTES and plan.process_bytes % 4096 == 0
    assert plan.processes <= 32 and plan.process_bytes <= 512 * MiB
    assert plan.cut == (plan.process_bytes < 512 * MiB)


def _limits(mechanism: str, cap_mb: int, memory_mb: int, max_processes: int) -> tuple[int, int, bool]:
    plan = plan_memory(mechanism, cap_mb, memory_mb, max_processes)
    return plan.process_bytes, plan.processes, plan.cut


def test_the_rlimits_plan_at_the_default_cap_and_the_other_mechanisms():
    assert _limits("rlimits", DEFAULT_MEMORY_MB, 512, 32) == (128 * MiB, 8, True)  # 8 x 128 MB = 1 GB
    assert _limits("rlimits", 128, 512, 32) == (32 * MiB, 4, True)
    assert _limits("rlimits", 64, 512, 32) == (32 * MiB, 2, True)  # never less than an interpreter needs
    assert _limits("rlimits", 8192, 64, 4) == (64 * MiB, 4, False)  # the asked limits already hold it
    for mechanism in ("cgroup", "poll"):  # the kernel's cgroup holds the total; poll cannot: limits as asked
        assert _limits(mechanism, 128, 512, 32) == (512 * MiB, 32, False)
    assert not plan_memory("poll", 128, 512, 32).hard
    with pytest.raises(ValueError):
        plan_memory("quota", 128, 512, 32)


def test_every_mode_says_how_it_holds_the_memory_cap(mode):
    info = sandbox_info(mode)
    assert info.memory_mechanism in MEMORY_MECHANISMS
    assert ("memory_cap_hard" in info.guarantees) == (info.memory_mechanism != "poll")
    if sandbox_cgroup.availability().parent is not None:
        assert info.memory_mechanism == "cgroup"
    result = run_python("print('hi')", mode=mode)
    assert result.ok and result.memory_mechanism == info.memory_mechanism


def test_children_together_over_the_memory_cap_stop_the_run(mode):
    info = needs(mode, "memory_cap")
    started = time.monotonic()
    result = run_python(CHILDREN, total_memory_mb=128, memory_mb=256, timeout=30, mode=mode)
    assert not result.ok
    assert result.killed_reason == MEMORY_REASON, (result.killed_reason, result.stderr[-500:])
    if info.memory_mechanism == "poll":
        assert result.peak_memory > 128 * MiB  # seen over the cap, then stopped
    else:
        assert result.peak_memory <= 128 * MiB  # never over it
    assert time.monotonic() - started < 15  # stopped, not left to the wall clock


def test_one_process_under_its_own_limit_but_over_the_cap(mode):
    needs(mode, "memory_cap")
    result = run_python(
        "import time\nblock = b'x' * (80 << 20)\ntime.sleep(10)\n",
        total_memory_mb=64,
        memory_mb=256,
        timeout=30,
        mode=mode,
    )
    assert not result.ok and result.killed_reason == MEMORY_REASON


def test_processes_that_take_all_they_can_stay_within_the_cap(mode):
    info = needs(mode, "memory_cap_hard")
    result = run_python(GREEDY, total_memory_mb=128, memory_mb=1024, max_processes=64, timeout=30, mode=mode)
    assert result.memory_mechanism == info.memory_mechanism != "poll"
    assert result.peak_memory <= 128 * MiB, result.peak_memory
    if info.memory_mechanism == "rlimits":  # the processes ran, each up to its share of the cap
        assert "parent held" in result.stdout, result.stderr[-500:]
        assert result.peak_memory > 128 * MiB // 4  # and they did take memory: the probe is not empty
    else:  # the kernel killed the whole run at memory.max
        assert not result.ok and result.killed_reason == MEMORY_REASON


def test_the_rlimits_fallback_holds_where_a_cgroup_would_be_used(mode, monkeypatch):
    """On a machine with a usable cgroup the fallback is still what a user without one gets."""
    info = needs(mode, "memory_cap_hard")
    if info.memory_mechanism == "rlimits":
        pytest.skip("this machine uses the fallback already (the tests above)")
    if memory.fallback_mechanism(mode, info.guarantees) != "rlimits":
        pytest.skip(f"mode {mode} has no process count of its own to derive limits from")
    forced = replace(info, memory_mechanism="rlimits")
    monkeypatch.setattr(sandbox, "sandbox_info", lambda mode=None: forced)
    result = run_python(CHILDREN, total_memory_mb=128, memory_mb=256, timeout=30, mode=mode)
    assert result.memory_mechanism == "rlimits" and result.killed_reason == MEMORY_REASON
    assert result.peak_memory <= 128 * MiB


def test_tests_run_at_the_smallest_cap_the_config_allows(mode):
    # launcher, judge and solution: 3 processes, each with room for an interpreter, at 128 MB
    from patchloop.core.config import RULES

    check, _ = RULES["loop.sandbox_memory_mb"]
    assert check(128) and not check(127)
    result = check_tests(
        "def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5\n", total_memory_mb=128, mode=mode
    )
    assert result.ok, (result.killed_reason, result.stderr[-500:])


def test_a_run_under_the_memory_cap_passes(mode):
    # The sleep holds the block across a few of the monitor's 50 ms polls, on a busy machine too.
    result = run_python(
        "import time\nblock = b'x' * (8 << 20)\ntime.sleep(0.5)\nprint(len(block))\n",
        total_memory_mb=96,
        mode=mode,
    )
    assert result.ok, result.stderr[-500:]
    assert 0 < result.peak_memory < 96 * MiB


def test_a_cgroup_gets_its_limits_and_the_prefix_moves_the_command_in(tmp_path):
    """The cgroup files as the kernel lays them out, in a plain folder: what is written, what is read."""
    parent = tmp_path / "cg"
    parent.mkdir()
    group = sandbox_cgroup.RunCgroup(parent, 96 * MiB, 36)
    assert group.path.parent == parent and group.path.name.startswith(
        f"{sandbox_cgroup.PREFIX}{os.getpid()}-"
    )
    assert (group.path / "memory.max").read_text() == str(96 * MiB)
    assert not (group.path / "memory.swap.max").exists()  # written only where the kernel has it
    assert (group.path / "pids.max").read_text() == "36"
    procs = group.path / "cgroup.procs"
    run = subprocess.run(
        [*group.enter_prefix(), "/bin/sh", "-c", "echo $$"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and procs.read_text().split() == [
        run.stdout.strip()
    ]  # the same process, moved
    (group.path / "memory.peak").write_text("123456\n")
    (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 1\noom_kill 2\n")
    (group.path / "pids.events").write_text("max 3\n")
    assert group.usage() == sandbox_cgroup.CgroupUsage(123456, 2, 3)


def test_a_run_in_a_cgroup_enters_it_first_and_is_judged_by_its_events(mode, monkeypatch, tmp_path):
    """The plumbing of the cgroup mechanism in every mode, the kernel's files played by plain files
    (what memory.max itself does is the kernel's: the tests above, where a cgroup is usable): the
    run's first process writes itself into cgroup.procs, the limits are written, the kernel's
    oom_kill count makes the run "memory cap exceeded" and memory.peak is its peak."""
    info = sandbox_info(mode)
    parent = tmp_path / "cg"
    parent.mkdir()
    monkeypatch.setattr(
        sandbox_cgroup, "availability", lambda: sandbox_cgroup.Availability(parent, "a test folder")
    )
    monkeypatch.setattr(sandbox, "sandbox_info", lambda mode=None: replace(info, memory_mechanism="cgroup"))
    seen = {}
    real_init = sandbox_cgroup.RunCgroup.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        (self.path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
        (self.path / "memory.peak").write_text(str(120 * MiB))

    def remove(self, wait=5.0):  # a plain folder is not emptied by the kernel: read it, then delete it
        seen.update(
            {name: (self.path / name).read_text() for name in ("cgroup.procs", "memory.max", "pids.max")}
        )
        shutil.rmtree(self.path)

    monkeypatch.setattr(sandbox_cgroup.RunCgroup, "__init__", init)
    monkeypatch.setattr(sandbox_cgroup.RunCgroup, "remove", remove)
    result = run_python("print('hi')", total_memory_mb=128, max_processes=20, mode=mode)
    assert result.stdout.strip() == "hi"  # the command ran, behind the shell that entered the cgroup
    assert len(seen["cgroup.procs"].split()) == 1 and seen["cgroup.procs"].strip().isdigit()
    assert seen["memory.max"] == str(128 * MiB) and seen["pids.max"] == str(20 + sandbox_run.WRAPPERS)
    assert result.memory_mechanism == "cgroup"
    assert not result.ok and result.killed_reason == MEMORY_REASON and result.peak_memory == 120 * MiB
    assert not list(parent.iterdir())  # removed after the run


def test_a_run_whose_cgroup_cannot_be_made_falls_back(mode, monkeypatch, tmp_path):
    info = sandbox_info(mode)
    gone = tmp_path / "removed-parent"
    monkeypatch.setattr(
        sandbox_cgroup, "availability", lambda: sandbox_cgroup.Availability(gone, "gone since")
    )
    monkeypatch.setattr(sandbox, "sandbox_info", lambda mode=None: replace(info, memory_mechanism="cgroup"))
    result = run_python("print('hi')", mode=mode)
    assert result.ok and result.memory_mechanism == memory.fallback_mechanism(mode, info.guarantees)


def test_a_cgroup_that_cannot_be_entered_fails_the_run_never_passes_it(tmp_path):
    group_dir = tmp_path / "missing" / "cgroup.procs"  # no such folder: the shell's echo fails
    run = subprocess.run(
        ["/bin/sh", "-c", sandbox_cgroup._ENTER, str(group_dir), "/bin/true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0


def test_cgroup_availability_says_why_not(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox_cgroup, "candidates", lambda: [tmp_path])
    monkeypatch.setattr(sandbox_cgroup, "cgroup2_mount", lambda: tmp_path)
    sandbox_cgroup.availability.cache_clear()
    try:
        assert sandbox_cgroup.availability() == sandbox_cgroup.Availability(
            None, f"{tmp_path} is not a cgroup v2 folder"
        )
        (tmp_path / "cgroup.procs").write_text("")
        (tmp_path / "cgroup.controllers").write_text("cpu hugetlb\n")
        (tmp_path / "cgroup.subtree_control").write_text("")
        why = sandbox_cgroup.availability.__wrapped__().why
        assert "offers cpu, hugetlb, not memory, pids" in why
    finally:
        sandbox_cgroup.availability.cache_clear()


def test_stale_run_cgroups_are_swept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{sandbox_cgroup.PREFIX}{dead.pid}-abcd"
    live = tmp_path / f"{sandbox_cgroup.PREFIX}{os.getpid()}-abcd"
    other = tmp_path / "someone-else"
    for folder in (stale, live, other):
        folder.mkdir()
    sandbox_cgroup.sweep(tmp_path)
    assert not stale.exists() and live.exists() and other.exists()


# -- seccomp ---------------------------------------------------------------------------------------

SYSCALLS = textwrap.dedent("""
    import ctypes, errno, os, platform, sys
    libc = ctypes.CDLL(None, use_errno=True)
    nr = {"x86_64": {"clone": 56, "clone3": 435, "keyctl": 250, "bpf": 321, "perf_event_open": 298,
                     "io_uring_setup": 425, "setns": 308, "process_vm_readv": 310},
          "aarch64": {"clone": 220, "clone3": 435, "keyctl": 219, "bpf": 280, "perf_event_open": 241,
                      "io_uring_setup": 425, "setns": 268, "process_vm_readv": 270}}[platform.machine()]
    def show(name, value):
        print(name, value, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()) if value == -1 else "-")
    show("unshare_user", libc.unshare(0x10000000))
    show("unshare_net", libc.unshare(0x40000000))
    if hasattr(os, "unshare"):
        try:
            os.unshare(os.CLONE_NEWUSER)
            print("os.unshare ok")
        except OSError as exc:
            print("os.unshare", exc.errno)
    show("clone_newuser", libc.syscall(nr["clone"], 0x10000000 | 17, 0, 0, 0, 0))
    show("clone3", libc.syscall(nr["clone3"], 0, 0))
    show("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    show("ptrace", libc.ptrace(0, 0, 0, 0))
    for name in ("keyctl", "bpf", "perf_event_open", "io_uring_setup", "setns", "process_vm_readv"):
        show(name, libc.syscall(nr[name], 0, 0, 0, 0, 0))
    import threading, subprocess, multiprocessing
    box = []
    thread = threading.Thread(target=box.append, args=(1,))
    thread.start(); thread.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "thread", box)
    print("subprocess", subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("pool", pool.map(abs, [-1, -2]))
""")


def test_the_seccomp_filter_refuses_namespaces_and_friends_but_not_normal_code(mode):
    needs(mode, "syscall_filter")
    result = run_python(SYSCALLS, timeout=30, mode=mode, total_memory_mb=2048)  # room for 16 processes
    assert result.ok, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    for name in (
        "unshare_user",
        "unshare_net",
        "clone_newuser",
        "mount",
        "ptrace",
        "keyctl",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "setns",
        "process_vm_readv",
    ):
        assert lines[name] == "-1 EPERM", (name, lines[name])
    assert lines["clone3"] == "-1 ENOSYS"  # so that glibc falls back to clone, whose flags are checked
    assert lines.get("os.unshare", "1") == "1"  # Python 3.12+: os.unshare(CLONE_NEWUSER) -> EPERM
    assert lines["fork"] == "7 thread [1]" and lines["subprocess"] == "42" and lines["pool"] == "[1, 2]"


class _Bpf:
    """A classic-BPF interpreter for the few instructions the filter uses."""

    def __init__(self, program: bytes) -> None:
        import struct

        self.insns = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]

    def run(self, arch: int, nr: int, arg0: int = 0) -> int:
        import struct

        data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
        acc, pc = 0, 0
        while True:
            code, jt, jf, k = self.insns[pc]
            pc += 1
            if code == 0x20:
                acc = struct.unpack_from("=I", data, k)[0]
            elif code in (0x15, 0x35, 0x45):
                hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
                pc += jt if hit else jf
            elif code == 0x06:
                return k
            else:
                raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("arch", sorted(seccomp.ARCHES))
def test_the_filter_program_decides_as_designed(arch):
    audit, table, x32 = seccomp.ARCHES[arch]
    bpf = _Bpf(seccomp.build_filter(arch))
    eperm, enosys = seccomp.RET_ERRNO | seccomp.EPERM, seccomp.RET_ERRNO | seccomp.ENOSYS
    for name in seccomp.DENIED:
        if name in table:
            assert bpf.run(audit, table[name]) == eperm, name
    assert bpf.run(audit, table["clone"], 0x01200011) == seccomp.RET_ALLOW  # fork()'s flags
    assert bpf.run(audit, table["clone"], 0x003D0F00) == seccomp.RET_ALLOW  # pthread_create's
    assert bpf.run(audit, table["clone"], 0x10000000 | 17) == eperm
    assert bpf.run(audit, table["clone3"]) == enosys
    for allowed in (0, 1, 2, 3, 60 if arch == "x86_64" else 93):  # read, write, open/close, exit
        assert bpf.run(audit, allowed) == seccomp.RET_ALLOW
    assert bpf.run(0x40000003, 1) == enosys  # i386 through int 0x80: another ABI, refused
    if x32:
        assert bpf.run(audit, 0x40000000 | 1) == eperm


# -- when patchloop dies ---------------------------------------------------------------------------


def _alive_with(token: str) -> list[int]:
    """Live (not zombie) ``sleep TOKEN`` processes."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = next(
                line for line in (proc / "status").read_text().splitlines() if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if argv[:2] == [b"sleep", token.encode()] and state.split()[1] != "Z":
            found.append(int(proc.name))
    return found


def _wait_for(predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _sleep_token() -> str:
    return f"61.{secrets.randbelow(10**8):08d}"  # a sleep time no other process uses


def test_killing_patchloop_kills_the_sandbox(mode, tmp_path):
    needs(mode, "dies_with_parent")
    token = _sleep_token()
    tmp_path.chmod(0o711)  # as /tmp: a root patchloop's sandbox uid must pass through it
    script = (
        f"from patchloop.core.sandbox import run_python\n"
        f"run_python(\"import os\\nos.execv('/bin/sleep', ['sleep', '{token}'])\", timeout=120, mode={mode!r})\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert _wait_for(lambda: _alive_with(token), 30), "the sandboxed process never started"
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert _wait_for(lambda: not _alive_with(token)), (
            f"sandboxed processes outlived patchloop: {_alive_with(token)}"
        )
    finally:
        owner.kill()
    # What the sandbox left in the temp folder goes with the guard, or with the next start's sweep.
    if mode != "bwrap":  # bwrap's runs have no guard (bwrap dies with its parent by itself)
        assert _wait_for(lambda: not list(tmp_path.glob("patchloop-sandbox-*")), 5)
    tempdirs.sweep(str(tmp_path))
    assert not list(tmp_path.glob("patchloop-sandbox-*"))


def test_killing_patchloop_kills_running_analyzers(tmp_path):
    if not procguard.available():
        pytest.skip("the guard needs Linux")
    token, orphan = _sleep_token(), _sleep_token()
    script = (
        f"from patchloop.core.analyzers.base import run_tool\n"
        f"run_tool(['sh', '-c', 'sleep {orphan} & exec sleep {token}'], timeout=120)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert _wait_for(lambda: _alive_with(token) and _alive_with(orphan), 30)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert _wait_for(lambda: not _alive_with(token) and not _alive_with(orphan)), (
            "analyzer processes outlived patchloop"
        )
    finally:
        owner.kill()


def test_run_tool_through_the_guard_keeps_status_output_and_errors(monkeypatch):
    if not procguard.available():
        pytest.skip("the guard needs Linux")
    run = base.run_tool(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert (run.returncode, run.stdout, run.stderr) == (3, "out\n", "err\n")
    assert base.run_tool(["sh", "-c", "kill -TERM $$"], timeout=30).returncode == -signal.SIGTERM
    orphan = _sleep_token()
    base.run_tool(["sh", "-c", f"(sleep {orphan} &) ; exit 0"], timeout=30)  # double fork, then exit
    assert _wait_for(lambda: not _alive_with(orphan), 5), "a double-forked leftover survived the tool"
    with pytest.raises(base.ToolFailure, match="timed out"):
        base.run_tool(["sleep", "30"], timeout=0.5)
    monkeypatch.setattr(base, "find_tool", lambda name: "/nonexistent/tool")
    with pytest.raises(base.ToolFailure, match="could not start"):
        base.run_tool(["tool"], timeout=30)


def test_stale_temp_folders_are_swept_and_live_ones_kept(tmp_path):
    ns = os.stat("/proc/self/ns/pid").st_ino if os.path.exists("/proc/self/ns/pid") else 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    me, start = os.getpid(), tempdirs.start_time(os.getpid())
    names = {
        "dead": f"patchloop-analysis-{ns}.{dead.pid}.{12345}-abc",
        "recycled": f"patchloop-sandbox-{ns}.{me}.{(start or 0) + 1}-abc",  # our pid, another start time
        "live": f"patchloop-fix-{ns}.{me}.{start}-abc",
        "elsewhere": f"patchloop-analysis-{ns + 1}.{dead.pid}.12345-abc",  # another PID namespace
        "unrelated": "patchloop-notes",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "solution.py").write_text("x = 1\n")
    removed = {p.name for p in tempdirs.sweep(str(tmp_path))}
    assert removed == {names["dead"], names["recycled"]}
    assert all((tmp_path / names[k]).exists() for k in ("live", "elsewhere", "unrelated"))
    made = tempdirs.make_dir("sandbox", str(tmp_path))
    assert Path(made).name.startswith(f"patchloop-sandbox-{ns}.{me}.{start}-")
    assert not tempdirs.stale_dirs(str(tmp_path))


def test_analysis_folders_carry_their_owner(monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    seen = []
    with tempdirs.temporary_dir("analysis") as folder:
        seen.append(Path(folder).name)
    assert seen[0].startswith("patchloop-analysis-") and f".{os.getpid()}." in seen[0]
    assert not Path(tmp_path, seen[0]).exists()


# -- configuration ---------------------------------------------------------------------------------


def test_the_caps_are_config_keys_with_range_checks(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("[loop]\nsandbox_disk_mb = 64\nsandbox_memory_mb = 512\n")
    config = load_config(config_file)
    assert (config.loop.sandbox_disk_mb, config.loop.sandbox_memory_mb) == (64, 512)
    from patchloop.core.config import LoopConfig
    from patchloop.core.loop_settings import LoopSettings, settings_from_config

    assert (LoopConfig().sandbox_disk_mb, LoopConfig().sandbox_memory_mb) == (
        DEFAULT_DISK_MB,
        DEFAULT_MEMORY_MB,
    )
    assert LoopSettings().sandbox_disk_mb == DEFAULT_DISK_MB
    assert settings_from_config(config).sandbox_memory_mb == 512
    for text in (
        "sandbox_disk_mb = 8",
        "sandbox_disk_mb = 10_000_000",
        "sandbox_memory_mb = 16",
        "sandbox_memory_mb = 96",
    ):
        config_file.write_text(f"[loop]\n{text}\n")
        with pytest.raises(ConfigError, match="sandbox_"):
            load_config(config_file)
