"""Run generated (untrusted) Python code in a sandbox; nothing else in patchloop ever executes it.

Every run gets a separate process tree, a fresh working directory, a cleared environment (no secret
of the parent's environment reaches the code), per-process resource limits, caps on the whole run
(wall-clock seconds, the memory of all its processes, the disk it writes: ``sandbox_limits``), a
seccomp filter against the system calls tests never need (``seccomp``) and, where the platform
allows, an unprivileged user, no network and a read-only view of the rest of the system.

The mode is picked once per process by probing in this order (``PATCHLOOP_SANDBOX=bwrap|unshare|rlimits``
or ``mode=`` forces one); docs/EVAL.md ("The sandbox") has the table of what each guarantees.
``bwrap`` (bubblewrap): new network, PID, IPC and UTS namespaces; the host's file system read-only,
the home and temp folders hidden, only two size-limited tmpfs mounts writable (``/tmp``, which holds
the work directory, and ``/dev/shm``); an unprivileged uid; it dies with patchloop. ``unshare``:
network and PID namespaces, the host's file system as far as the user's rights go, the disk cap on
the work directory only. ``rlimits``: limits, a fresh directory and (as root) an unprivileged uid
only, with a warning. Under ``unshare`` and ``rlimits`` a guard (``procguard``) kills the run when
patchloop dies. As root the launcher (``sandbox_launcher``) drops to an unused high uid before the
code starts; where no interpreter is reachable by such a uid outside bwrap, the code runs as root
without capabilities, and a warning says so.

``check_tests`` runs the tests in a judge process apart from the solution's (``sandbox_judge``), which
calls the solution over a socket that carries plain data only (``sandbox_wire``): nothing the
solution does in its own process (patching ``compile``, reading frames, exiting early, a rigged
``__eq__``) can make a failing answer pass.

A run that breaks a limit is reported in ``SandboxResult`` (``ok`` false, ``killed_reason`` set);
it never raises. ``SandboxError`` is raised only when no sandbox can run at all.

The memory cap is held by the kernel where it can be: a cgroup v2 per run where one is usable, else
per-process address-space and process-count limits derived from the cap (``sandbox_limits``:
``plan_memory``); ``SandboxInfo.memory_mechanism`` says which, and the monitor polls in every mode.
Known limits: where the code keeps root's uid (without capabilities) the memory cap is only polled
(it can overshoot by what the code allocates in one poll); under ``unshare`` and ``rlimits`` the disk
cap is polled too and sees only the work directory.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import procguard, sandbox_cgroup, seccomp, tempdirs
from .sandbox_commands import (  # UID_SLOTS and UNPRIVILEGED_UID: part of this module's interface too
    INNER_IN,
    INNER_WORK,
    UID_SLOTS,  # noqa: F401
    UNPRIVILEGED_UID,  # noqa: F401
    base_python,
    bwrap_prefix,
    code_env,
    is_root,
    resource_limits,
    unshare_prefix,
)
from .sandbox_commands import UidPool as _UidPool
from .sandbox_limits import (
    DEFAULT_DISK_MB,
    DEFAULT_MEMORY_MB,
    DISK_REASON,
    FULL_SLACK,
    MEMORY_REASON,
    MemoryPlan,
    MiB,
    RunMonitor,
    disk_layout,
    plan_memory,
    process_table,
    tree,
)

log = logging.getLogger(__name__)

MODES = ("bwrap", "unshare", "rlimits")
_UID_BUSY = 75  # the launcher's exit status when the uid has no room for even the launcher's fork
_UID_BUSY_MARK = "patchloop-sandbox: uid busy"
_UID_TRIES = 4
_DISK_FULL = 76  # the launcher's exit status when the run's capped mounts were full as the code ended
_DISK_FULL_MARK = "patchloop-sandbox: disk quota exceeded"

# What a mode guarantees; tests check each one that the resolved mode claims.
ALWAYS = frozenset({"separate_process", "clean_env", "cpu_limit", "wall_limit", "memory_limit",
                    "file_size_limit", "fresh_dir"})

_MAX_OUTPUT = 1_000_000
_TAIL = 4096
_HARNESS = ("sandbox_judge.py", "sandbox_server.py", "sandbox_wire.py")  # check_tests' in-sandbox scripts
_WRAPPERS = 4  # processes of the sandbox itself in a run's cgroup: its shell-then-guard, unshare, bwrap's two


class SandboxError(RuntimeError):
    """No sandbox can run here (no mode passed its probe); the message says what to install."""


@dataclass
class SandboxResult:
    """What happened to one sandboxed run. ``ok``: exit status 0 within every limit (for
    ``check_tests`` also: the tests ran to the end)."""

    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    killed_reason: str | None = None  # "wall time limit", "memory cap exceeded", "disk quota exceeded", ...
    seconds: float = 0.0
    mode: str = ""
    peak_memory: int = 0  # bytes: the most the run's processes held together (the cgroup's peak, or at one poll)
    disk_used: int = 0  # bytes, the most the run had written at one poll
    memory_mechanism: str = ""  # what held the memory cap: "cgroup", "rlimits" or "poll" (sandbox_limits)


@dataclass(frozen=True)
class SandboxInfo:
    """The resolved way this process runs sandboxes."""

    mode: str
    python: str  # interpreter that runs the code
    drop_uid: bool  # root drops to an unprivileged uid before the code starts
    guarantees: frozenset[str] = field(default_factory=frozenset)
    warning: str | None = None
    seccomp: bool = False  # the syscall filter is installed
    memory_mechanism: str = "poll"  # how the memory cap is held: "cgroup", "rlimits" or "poll" (sandbox_limits)


@functools.cache
def _script(name: str) -> str:
    """The source of one of the scripts that run inside the sandbox (beside this module)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


# -- choosing a mode ----------------------------------------------------------------------------

def _others_can_reach(path: str) -> bool:
    """True when a uid that is neither owner nor group can traverse to ``path`` and read it."""
    p = Path(path).resolve()
    try:
        for parent in reversed(p.parents):
            if not parent.stat().st_mode & 0o001:
                return False
        return bool(p.stat().st_mode & 0o005)
    except OSError:
        return False


def _same_version_pythons() -> list[str]:
    """Other interpreters of this Python's version that an unprivileged uid may reach."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = []
    for name in (version, "python3"):
        for directory in ("/usr/bin", "/usr/local/bin", "/bin"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                real = os.path.realpath(candidate)
                if real not in found and real != base_python():
                    found.append(real)
    return found


_uids = _UidPool()


@dataclass(frozen=True)
class _Run:
    """One run's inputs. ``files`` are copied into the work directory; ``harness`` files stay in the
    read-only input folder; ``command`` follows the interpreter, ``{in}`` standing for that folder."""

    files: dict[str, str]
    command: tuple[str, ...]
    stdin: str = ""
    harness: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 32
    max_output: int = _MAX_OUTPUT
    disk_mb: int = DEFAULT_DISK_MB
    total_memory_mb: int = DEFAULT_MEMORY_MB


def _execute(info: SandboxInfo, run: _Run) -> SandboxResult:
    """One sandboxed run. When the launcher finds its uid already full of processes (left by another
    sandbox, or another container's on a shared kernel) it exits before the code starts, and the
    run is retried on another uid."""
    for _ in range(_UID_TRIES if info.drop_uid else 1):
        uid = _uids.take() if info.drop_uid else None
        try:
            result = _execute_once(info, uid, run)
        finally:
            _uids.give(uid)
        if not (result.returncode == _UID_BUSY and _UID_BUSY_MARK in result.stderr):
            return result
        log.warning("sandbox uid %s is busy with other processes; retrying on another uid", uid)
    result.killed_reason = "sandbox busy: every uid tried was full of other processes"
    return result


def _execute_once(info: SandboxInfo, uid: int | None, run: _Run) -> SandboxResult:
    started = time.monotonic()
    if info.drop_uid and uid is None:
        uid = _uids.uids[0]  # more concurrent runs than slots: share one
    layout = disk_layout(run.disk_mb, run.file_size_mb)
    bwrap = info.mode == "bwrap"
    top = tempdirs.make_dir("sandbox")
    seccomp_fd: int | None = None
    try:
        in_dir = os.path.join(top, "in")
        os.mkdir(in_dir, 0o755)
        for name, text in {**run.files, **run.harness}.items():
            path = Path(in_dir, name)
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)  # readable by the sandbox uid, writable by nobody in the sandbox
        if bwrap:
            inner_in, work = INNER_IN, INNER_WORK
        else:
            inner_in, work = in_dir, os.path.join(top, "work")
            os.mkdir(work, 0o700)
            if uid is not None:
                os.chown(work, uid, uid)
        if uid is not None:
            os.chmod(top, 0o711)  # the sandbox uid may pass through to in/ and work/, not list top/
        env = code_env(work)
        plan, group = _memory_plan(info, run)
        nproc = plan.processes if "process_limit" in info.guarantees else None
        if nproc is not None and info.mode == "rlimits" and not is_root():
            # The limit counts every process of the user; without /proc to count them, none is set.
            nproc = nproc + _processes_of(os.getuid()) if os.path.isdir("/proc") else None
        program = seccomp.build_filter() if info.seccomp else None
        config = {
            "limits": resource_limits(run.timeout, plan.process_bytes, layout.file_bytes, nproc),
            "uid": uid,
            "busy_status": _UID_BUSY,
            "busy_mark": _UID_BUSY_MARK,
            "cwd": work,
            "make_cwd": bwrap,  # under bwrap the work directory is made inside the capped /tmp
            "copy": [[f"{inner_in}/{name}", name] for name in run.files],
            "disk_check": [["/tmp", layout.tmp_bytes], ["/dev/shm", layout.shm_bytes]] if bwrap else [],
            "max_files": layout.max_files,
            "full_slack": FULL_SLACK,
            "disk_status": _DISK_FULL,
            "disk_mark": _DISK_FULL_MARK,
            "argv": [info.python, *(arg.replace("{in}", inner_in) for arg in run.command)],
            "env": env,
            "seccomp": program.hex() if program and not bwrap else None,  # bwrap installs its own copy
        }
        cmd = [info.python, "-I", "-S", "-c", _script("sandbox_launcher.py"), json.dumps(config)]
        if bwrap:
            if program:
                seccomp_fd, write_end = os.pipe()
                os.write(write_end, program)  # a few hundred bytes: fits in the pipe
                os.close(write_end)
            cmd = bwrap_prefix(info.python, in_dir, layout, seccomp_fd) + cmd
        elif info.mode == "unshare":
            cmd = unshare_prefix() + cmd
        if not bwrap and procguard.available():  # bwrap dies with patchloop by itself (--die-with-parent)
            cmd = procguard.guarded(cmd, remove=[top])
        if group is not None:  # first of all, so that every process of the run is born inside
            cmd = group.enter_prefix() + cmd
        out_path, err_path = os.path.join(top, "stdout"), os.path.join(top, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as errf:  # write-only for the code
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=errf, env=env, cwd=top,
                                    start_new_session=True, close_fds=True,
                                    pass_fds=() if seccomp_fd is None else (seccomp_fd,))
        if seccomp_fd is not None:
            os.close(seccomp_fd)
            seccomp_fd = None
        monitor = RunMonitor(proc.pid, memory_bytes=run.total_memory_mb * MiB, layout=layout,
                             kill=lambda: _kill_tree(proc, group),
                             tmpfs={"/tmp": layout.tmp_bytes, "/dev/shm": layout.shm_bytes} if bwrap else None,
                             work_dir=None if bwrap else work)
        if os.path.isdir("/proc"):
            monitor.start()
        timed_out = False
        try:
            proc.communicate(run.stdin.encode("utf-8"), timeout=run.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BrokenPipeError:  # the code exited without reading its stdin
            try:
                proc.wait(timeout=run.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
        finally:
            _kill_group(proc, group)
            if os.path.isdir("/proc"):
                monitor.stop()
        usage = group.usage() if group is not None else None
        with open(out_path, "rb") as out, open(err_path, "rb") as errf:
            stdout, stderr = _read_capped(out, run.max_output), _read_capped(errf, run.max_output)
        seconds = time.monotonic() - started
        returncode = proc.returncode
        reason = monitor.reason or _killed_reason(info.mode, returncode, stderr, timed_out, run.timeout)
        over_cap = usage is not None and usage.oom_kills > 0
        if returncode == _DISK_FULL and _DISK_FULL_MARK in stderr:
            reason = DISK_REASON
        elif over_cap or (plan.cut and reason == "memory limit"):
            # the kernel killed the run over memory.max, or a process ran out of an address space
            # that was cut to hold the cap: either way it is the cap
            reason = MEMORY_REASON
        return SandboxResult(
            ok=returncode == 0 and not timed_out and monitor.reason is None and not over_cap,
            returncode=None if timed_out else returncode, stdout=stdout, stderr=stderr, timed_out=timed_out,
            killed_reason=reason, seconds=seconds, mode=info.mode,
            peak_memory=max(monitor.peak_memory, usage.peak_bytes if usage else 0), disk_used=monitor.peak_disk,
            memory_mechanism=plan.mechanism,
        )
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        if group is not None:
            group.remove()
        shutil.rmtree(top, ignore_errors=True)


def _memory_plan(info: SandboxInfo, run: _Run) -> tuple[MemoryPlan, sandbox_cgroup.RunCgroup | None]:
    """The run's memory plan and, under the cgroup mechanism, its cgroup. A cgroup that cannot be made
    for this run (say, the parent was removed) leaves the run to the next mechanism, logged."""
    mechanism = info.memory_mechanism
    if mechanism == "cgroup":
        parent = sandbox_cgroup.availability().parent
        try:
            if parent is None:
                raise OSError("no cgroup parent")
            group = sandbox_cgroup.RunCgroup(parent, run.total_memory_mb * MiB, run.max_processes + _WRAPPERS)
            return plan_memory("cgroup", run.total_memory_mb, run.memory_mb, run.max_processes), group
        except OSError as exc:
            mechanism = _fallback_mechanism(info.mode, info.guarantees)
            log.warning("sandbox cgroup unavailable for this run (%s); memory cap by %s", exc, mechanism)
    return plan_memory(mechanism, run.total_memory_mb, run.memory_mb, run.max_processes), None


def _processes_of(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            with status.open() as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        count += line.split()[1] == str(uid)
                        break
        except OSError:
            continue
    return count


def _kill_tree(proc: subprocess.Popen, group: sandbox_cgroup.RunCgroup | None = None) -> None:
    """SIGKILL to the run's process group and to every process still under it (a process that left
    the group with ``setsid`` but is still a descendant, or re-parented to the guard), and to its
    whole cgroup where it has one."""
    if group is not None:
        group.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if os.path.isdir("/proc"):
        for pid in tree(proc.pid, process_table())[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _kill_group(proc: subprocess.Popen, group: sandbox_cgroup.RunCgroup | None = None) -> None:
    """Kill the sandbox's whole process tree (namespaced modes take their PID namespace with it)."""
    _kill_tree(proc, group)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        log.error("sandbox process %s survived SIGKILL", proc.pid)


def _read_capped(fh, limit: int) -> str:
    size = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    head = fh.read(limit)
    text = head.decode("utf-8", errors="replace")
    if size > limit:
        fh.seek(max(limit, size - _TAIL))
        tail = fh.read().decode("utf-8", errors="replace")
        text += f"\n[... {size - limit - len(tail):,} bytes cut ...]\n" + tail
    return text


def _signal_of(mode: str, returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if mode == "bwrap" and returncode > 128:  # bwrap reports a signalled child as 128 + signal
        return returncode - 128
    return None


def _killed_reason(mode: str, returncode: int | None, stderr: str, timed_out: bool, timeout: float) -> str | None:
    if timed_out:
        return f"wall time limit ({timeout:g}s)"
    sig = _signal_of(mode, returncode)
    if sig == signal.SIGXCPU:
        return "cpu time limit"
    if sig == signal.SIGXFSZ or "File too large" in stderr:
        return "file size limit"
    if returncode and ("No space left on device" in stderr or "[Errno 28]" in stderr):
        # Under bwrap the only writable mounts are the run's capped tmpfs: a full one is the cap.
        return DISK_REASON if mode == "bwrap" else "no space left on device"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory limit"
    if "BlockingIOError" in stderr or "Resource temporarily unavailable" in stderr:
        return "process limit"
    if sig == signal.SIGKILL:
        return "killed (SIGKILL)"
    if sig is not None:
        return f"killed by signal {signal.Signals(sig).name}"
    return None


_PROBE = ("import os\nstatus = open('/proc/self/status').read() if os.path.exists('/proc/self/status') else ''\n"
          "mode = [l.split()[1] for l in status.splitlines() if l.startswith('Seccomp:')]\n"
          "print('ok', os.getuid(), mode[0] if mode else '-')\n")


def _probe(info: SandboxInfo) -> bool:
    try:
        result = _execute(info, _Run({"main.py": _PROBE}, ("-I", "main.py"), timeout=20, file_size_mb=1,
                                     max_output=10_000, disk_mb=16))
    except OSError:
        return False
    if not result.ok or not result.stdout.startswith("ok"):
        log.debug("sandbox probe %s failed: %s", info, result.stderr[-500:])
        return False
    _, uid, filtered = result.stdout.split()[:3]
    if info.seccomp and filtered != "2":  # a filter that is not in place must not be promised
        return False
    # A drop that silently failed (still uid 0) must not pass for an unprivileged sandbox.
    return not (info.drop_uid and uid == "0")


def _guarantees(mode: str, drop_uid: bool, filtered: bool = False) -> frozenset[str]:
    """What a resolved sandbox promises; the hostile-code tests check each promise it makes."""
    found = set(ALWAYS)
    linux = os.path.isdir("/proc") and sys.platform.startswith("linux")
    userns = mode != "rlimits" and not is_root()  # unprivileged user: bwrap and unshare map it in a user ns
    if mode != "rlimits":
        found |= {"no_network", "private_pids", "parent_protected"}
    if mode == "bwrap":
        found |= {"readonly_fs", "private_tmp", "hidden_home", "disk_quota", "dies_with_parent"}
    if drop_uid or userns:
        found |= {"process_limit", "parent_protected"}
    if mode == "rlimits" and not is_root():
        found |= {"process_limit"}  # the user's current process count plus the sandbox's allowance
    if drop_uid or (mode == "bwrap"):
        found |= {"unprivileged"}
    if linux:
        # The monitor reads /proc; the judge makes itself non-dumpable with prctl.
        found |= {"memory_cap", "work_dir_quota", "tests_isolated"}
        if procguard.available():
            found |= {"dies_with_parent"}
    if filtered:
        found |= {"syscall_filter"}
    if linux and _memory_mechanism(mode, found) != "poll":
        found |= {"memory_cap_hard"}
    return frozenset(found)


def _cgroup_usable() -> bool:
    return sys.platform.startswith("linux") and sandbox_cgroup.availability().parent is not None


def _fallback_mechanism(mode: str, guarantees: frozenset[str] | set[str]) -> str:
    """How the memory cap is held without a cgroup: per-process limits derived from it, where the
    process count is the sandbox's own (its uid or user namespace, not the user's other programs)."""
    own_count = "process_limit" in guarantees and not (mode == "rlimits" and not is_root())
    return "rlimits" if own_count else "poll"


def _memory_mechanism(mode: str, guarantees: frozenset[str] | set[str]) -> str:
    return "cgroup" if _cgroup_usable() else _fallback_mechanism(mode, guarantees)


def _candidates(only: str | None) -> list[SandboxInfo]:
    root = is_root()
    python = base_python()
    filtered = seccomp.supported()
    out: list[SandboxInfo] = []
    for mode in [only] if only else list(MODES):
        if mode in ("bwrap", "unshare") and not shutil.which(mode):
            continue
        weak = ("sandbox mode 'rlimits': network and file-system access of generated code are NOT isolated "
                "(install bubblewrap for full isolation)") if mode == "rlimits" else None
        if mode == "bwrap":
            # bwrap binds the interpreter back into its tmpfs mounts, so the dropped uid always reaches it.
            out.append(SandboxInfo(mode, python, root, _guarantees(mode, root, filtered), seccomp=filtered))
            continue
        if not root:
            out.append(SandboxInfo(mode, python, False, _guarantees(mode, False, filtered), weak, filtered))
            continue
        pythons = [p for p in [python, *_same_version_pythons()] if _others_can_reach(p)]
        for candidate in pythons:
            out.append(SandboxInfo(mode, candidate, True, _guarantees(mode, True, filtered), weak, filtered))
        as_root = ("generated code runs as root (without capabilities): no interpreter an unprivileged uid can "
                   "reach was found, so the process-count limit does not hold")
        out.append(SandboxInfo(mode, python, False, _guarantees(mode, False, filtered),
                               "; ".join(filter(None, [weak, as_root])), filtered))
    return [replace(info, memory_mechanism=_memory_mechanism(info.mode, info.guarantees)) for info in out]


def _without_filter(info: SandboxInfo) -> SandboxInfo:
    note = "no seccomp filter could be installed: generated code may use every system call"
    return replace(info, seccomp=False, guarantees=info.guarantees - {"syscall_filter"},
                   warning="; ".join(filter(None, [info.warning, note])))


@functools.cache
def sandbox_info(mode: str | None = None) -> SandboxInfo:
    """The best sandbox this machine can run (probed once per process and mode)."""
    mode = mode or os.environ.get("PATCHLOOP_SANDBOX") or None
    if mode is not None and mode not in MODES:
        raise SandboxError(f"unknown sandbox mode {mode!r}: use one of {', '.join(MODES)}")
    if os.name != "posix":
        raise SandboxError("generated code can only be sandboxed on Linux or another POSIX system")
    tried = []
    for info in _candidates(mode):
        for variant in [info, _without_filter(info)] if info.seccomp else [info]:
            if _probe(variant):
                if variant.warning:
                    log.warning(variant.warning)
                return variant
        tried.append(f"{info.mode} ({'unprivileged uid' if info.drop_uid else 'own uid'}, {info.python})")
    raise SandboxError(
        "no sandbox works here" + (f" (tried: {'; '.join(tried)})" if tried else f" (mode {mode} is not installed)")
        + ": install bubblewrap (apt-get install bubblewrap) or run on Linux"
    )


# -- public API ---------------------------------------------------------------------------------

def run_python(
    code: str,
    *,
    stdin: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    file_size_mb: int = 16,
    max_processes: int = 32,
    max_output: int = _MAX_OUTPUT,
    files: dict[str, str] | None = None,
    disk_mb: int = DEFAULT_DISK_MB,
    total_memory_mb: int = DEFAULT_MEMORY_MB,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox and report what happened (never raises for
    anything the code does). ``files`` are extra files written next to it. ``memory_mb`` limits
    each process's address space, ``total_memory_mb`` the memory of all the run's processes together,
    ``disk_mb`` everything the run writes (stdout and stderr included)."""
    info = sandbox_info(mode)
    return _execute(info, _Run({**(files or {}), "main.py": code}, ("-I", "main.py"), stdin=stdin, timeout=timeout,
                               memory_mb=memory_mb, file_size_mb=file_size_mb, max_processes=max_processes,
                               max_output=max_output, disk_mb=disk_mb, total_memory_mb=total_memory_mb))


def check_tests(
    code: str,
    test_code: str,
    entry_point: str | None = None,
    *,
    setup_code: str = "",
    prelude: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    disk_mb: int = DEFAULT_DISK_MB,
    total_memory_mb: int = DEFAULT_MEMORY_MB,
    mode: str | None = None,
) -> SandboxResult:
    """Run ``test_code`` against ``code`` in the sandbox, then ``check(entry_point)`` when an entry
    point is given (HumanEval); ``ok`` means every test ran to the end without an exception, within
    every limit. The tests run in a judge process and call the solution, which runs in a process of
    its own, through references; only plain data crosses (``sandbox_judge``). The tests' globals are
    the solution's top-level names (built-in names excepted), then ``prelude`` (the benchmark's own
    helpers, e.g. HumanEval's prompt, which then judge the answer in place of the solution's copies;
    the entry point stays the solution's), then ``setup_code`` (MBPP's, which builds its fixtures
    from the solution's classes)."""
    marker = f"patchloop-tests-passed-{secrets.token_hex(16)}"
    spec = {"marker": marker, "tests": test_code, "setup": setup_code, "prelude": prelude,
            "entry_point": entry_point or ""}
    info = sandbox_info(mode)
    run = _Run({"solution.py": code}, ("-I", "-S", "{in}/sandbox_judge.py"), stdin=json.dumps(spec) + "\n",
               harness={name: _script(name) for name in _HARNESS}, timeout=timeout, memory_mb=memory_mb,
               disk_mb=disk_mb, total_memory_mb=total_memory_mb)
    result = _execute(info, run)
    finished = marker in result.stdout[-(_TAIL + len(marker) + 2):]
    result.ok = result.ok and finished
    result.stdout = result.stdout.replace(marker, "").rstrip("\n")
    return result
