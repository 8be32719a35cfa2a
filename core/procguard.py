"""A guard between patchloop and a child process tree: the tree dies when patchloop does.

``kill -9`` of patchloop runs no cleanup, so the analyzers it started (basedpyright's node, a slow
pylint) and a sandbox's processes would run on. ``guarded(argv)`` puts a small Python guard in front
of the command: it asks the kernel for ``SIGTERM`` when its parent dies (``PR_SET_PDEATHSIG``), runs
the command as its child in its own process group (the caller starts it with
``start_new_session=True``) and relays the exit status. On the death signal it kills the whole
group with ``SIGKILL``, removes the given folders and exits. It is a child subreaper, so a process that double-forks out of the group is
re-parented to the guard, not to init, and is killed with the rest when the command ends.

Linux only (the death signal needs ``prctl``); elsewhere the guard just runs the command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

# Runs as `python -I -S -c GUARD CONFIG ARGV...`: stdlib only, nothing of patchloop importable.
GUARD = r"""
import json, os, signal, sys, time
cfg = json.loads(sys.argv[1])
argv = sys.argv[2:]

def children():
    me, found = str(os.getpid()), []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as fh:
                    stat = fh.read()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2:].split()[1] == me:
                found.append(int(name))
    return found

def kill_tree():
    for pid in children():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(0, signal.SIGKILL) if cfg["group"] else None
    except OSError:
        pass

def reap():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                return True
        except ChildProcessError:
            return False

def remove(path):
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                full = os.path.join(root, name)
                os.unlink(full) if os.path.islink(full) else os.rmdir(full)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass

def on_parent_death(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group kill below must not stop the cleanup
    group, cfg["group"] = cfg["group"], False
    for _ in range(50):
        kill_tree()
        reap()
        if not children():
            break
        time.sleep(0.02)
    for path in cfg["remove"]:
        remove(path)
    if group:
        try:
            os.killpg(0, signal.SIGKILL)
        except OSError:
            pass
    os._exit(137)

signal.signal(signal.SIGTERM, on_parent_death)
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except (ImportError, OSError, AttributeError):
    pass
if os.getppid() != cfg["parent"]:  # the parent died before the death signal was armed
    on_parent_death(signal.SIGTERM, None)
try:
    pid = os.fork()
except OSError as exc:
    os.write(2, ("patchloop-guard: cannot fork: %s\n" % exc).encode())
    os._exit(126)
if pid == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        os.write(2, ("patchloop-guard: cannot run %s: %s\n" % (argv[0], exc.strerror or exc)).encode())
        os._exit(cfg["exec_failed"])
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except InterruptedError:
        continue
# The command is done; whatever it left behind (re-parented here) goes with it.
if cfg["reap"]:
    for _ in range(50):
        if not children():
            break
        for child in children():
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        reap()
        time.sleep(0.01)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
os._exit(os.waitstatus_to_exitcode(status))
"""


EXEC_FAILED = 127  # the guard's exit status when the command could not be started (as a shell's)
EXEC_FAILED_MARK = b"patchloop-guard: cannot run "


def available() -> bool:
    """The guard can arm a death signal here (Linux)."""
    return sys.platform.startswith("linux")


def guarded(
    argv: Sequence[str],
    *,
    python: str | None = None,
    remove: Sequence[str] = (),
    group: bool = True,
    reap: bool = True,
) -> list[str]:
    """``argv`` behind the guard. ``argv[0]`` must be a path (the guard execs it without a PATH
    search). ``remove``: folders it deletes when patchloop dies;
    ``group``: kill the guard's process group then (the caller starts the guard as a session leader);
    ``reap``: kill what the command leaves behind when it exits."""
    config = {
        "parent": os.getpid(),
        "remove": list(remove),
        "group": group,
        "reap": reap,
        "exec_failed": EXEC_FAILED,
    }
    return [python or sys.executable, "-I", "-S", "-c", GUARD, json.dumps(config), *argv]
