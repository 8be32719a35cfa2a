"""One sandboxed run: its work folder, the command of its mode with the launcher in front, the memory
plan (and cgroup) of its caps, the process watched by the monitor until it ends or is killed, and
what happened (``SandboxResult``). The programs that run inside are files of this package, read as
text (``script``) and handed to the interpreter there; nothing of patchloop is importable inside.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import procguard, tempdirs
from . import cgroup, seccomp
from .commands import INNER_IN, INNER_WORK, bwrap_prefix, code_env, is_root, resource_limits, unshare_prefix
from .limits import (
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
from .memory import fallback_mechanism
from .outcome import MAX_OUTPUT, killed_reason, read_capped
from .results import SandboxInfo, SandboxResult
from .uids import UidPool

log = logging.getLogger(__name__)

_UID_BUSY = 75  # the launcher's exit status when the uid has no room for even the launcher's fork
_UID_BUSY_MARK = "patchloop-sandbox: uid busy"
_UID_TRIES = 4
_DISK_FULL = 76  # the launcher's exit status when the run's capped mounts were full as the code ended
_DISK_FULL_MARK = "patchloop-sandbox: disk quota exceeded"
WRAPPERS = 4  # processes of the sandbox itself in a run's cgroup: its shell-then-guard, unshare, bwrap's two


@functools.cache
def script(name: str) -> str:
    """The source of one of the programs that run inside the sandbox (files of this package)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


uid_pool = UidPool()


@dataclass(frozen=True)
class RunSpec:
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
    max_output: int = MAX_OUTPUT
    disk_mb: int = DEFAULT_DISK_MB
    total_memory_mb: int = DEFAULT_MEMORY_MB


def execute(info: SandboxInfo, run: RunSpec) -> SandboxResult:
    """One sandboxed run. When the launcher finds its uid already full of processes (left by another
    sandbox, or another container's on a shared kernel) it exits before the code starts, and the
    run is retried on another uid."""
    result: SandboxResult | None = None
    for _ in range(_UID_TRIES if info.drop_uid else 1):
        uid = uid_pool.take() if info.drop_uid else None
        try:
            result = _execute_once(info, uid, run)
        finally:
            uid_pool.give(uid)
        if not (result.returncode == _UID_BUSY and _UID_BUSY_MARK in result.stderr):
            return result
        log.warning("sandbox uid %s is busy with other processes; retrying on another uid", uid)
    assert result is not None, "there is always at least one try"
    result.killed_reason = "sandbox busy: every uid tried was full of other processes"
    return result


def _execute_once(info: SandboxInfo, uid: int | None, run: RunSpec) -> SandboxResult:
    started = time.monotonic()
    if info.drop_uid and uid is None:
        uid = uid_pool.uids[0]  # more concurrent runs than slots: share one
    layout = disk_layout(run.disk_mb, run.file_size_mb)
    bwrap = info.mode == "bwrap"
    top = tempdirs.make_dir("sandbox")
    seccomp_fd: int | None = None
    group: cgroup.RunCgroup | None = None  # made below; the cleanup must see it even if that fails
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
        cmd = [info.python, "-I", "-S", "-c", script("launcher.py"), json.dumps(config)]
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
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=errf,
                env=env,
                cwd=top,
                start_new_session=True,
                close_fds=True,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
            )
        if seccomp_fd is not None:
            os.close(seccomp_fd)
            seccomp_fd = None
        monitor = RunMonitor(
            proc.pid,
            memory_bytes=run.total_memory_mb * MiB,
            layout=layout,
            kill=lambda: _kill_tree(proc, group),
            tmpfs={"/tmp": layout.tmp_bytes, "/dev/shm": layout.shm_bytes} if bwrap else None,
            work_dir=None if bwrap else work,
        )
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
            stdout, stderr = read_capped(out, run.max_output), read_capped(errf, run.max_output)
        seconds = time.monotonic() - started
        returncode = proc.returncode
        reason = monitor.reason or killed_reason(info.mode, returncode, stderr, timed_out, run.timeout)
        over_cap = usage is not None and usage.oom_kills > 0
        if returncode == _DISK_FULL and _DISK_FULL_MARK in stderr:
            reason = DISK_REASON
        elif over_cap or (plan.cut and reason == "memory limit"):
            # the kernel killed the run over memory.max, or a process ran out of an address space
            # that was cut to hold the cap: either way it is the cap
            reason = MEMORY_REASON
        return SandboxResult(
            ok=returncode == 0 and not timed_out and monitor.reason is None and not over_cap,
            returncode=None if timed_out else returncode,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            killed_reason=reason,
            seconds=seconds,
            mode=info.mode,
            peak_memory=max(monitor.peak_memory, usage.peak_bytes if usage else 0),
            disk_used=monitor.peak_disk,
            memory_mechanism=plan.mechanism,
        )
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        if group is not None:
            group.remove()
        shutil.rmtree(top, ignore_errors=True)


def _memory_plan(info: SandboxInfo, run: RunSpec) -> tuple[MemoryPlan, cgroup.RunCgroup | None]:
    """The run's memory plan and, under the cgroup mechanism, its cgroup. A cgroup that cannot be made
    for this run (say, the parent was removed) leaves the run to the next mechanism, logged."""
    mechanism = info.memory_mechanism
    if mechanism == "cgroup":
        parent = cgroup.availability().parent
        try:
            if parent is None:
                raise OSError("no cgroup parent")
            group = cgroup.RunCgroup(parent, run.total_memory_mb * MiB, run.max_processes + WRAPPERS)
            return plan_memory("cgroup", run.total_memory_mb, run.memory_mb, run.max_processes), group
        except OSError as exc:
            mechanism = fallback_mechanism(info.mode, info.guarantees)
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


def _kill_tree(proc: subprocess.Popen, group: cgroup.RunCgroup | None = None) -> None:
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


def _kill_group(proc: subprocess.Popen, group: cgroup.RunCgroup | None = None) -> None:
    """Kill the sandbox's whole process tree (namespaced modes take their PID namespace with it)."""
    _kill_tree(proc, group)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        log.error("sandbox process %s survived SIGKILL", proc.pid)
