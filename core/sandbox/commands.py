"""How a sandboxed run is started: the command line of each mode, the limits and the environment.
``run`` starts it; ``launcher`` applies it inside."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .limits import DiskLayout, MiB
from .uids import UNPRIVILEGED_UID

HIDDEN_DIRS = ("/tmp", "/var/tmp", "/run", "/home", "/root")
INNER_IN = "/tmp/.patchloop-in"  # bwrap: the run's files, bound read-only
INNER_WORK = "/tmp/work"  # bwrap: the work directory, inside the size-limited /tmp


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def base_python() -> str:
    return os.path.realpath(sys.executable)


def python_prefixes(python: str) -> list[str]:
    """Folders the interpreter needs: its own prefix (and the one it was installed in)."""
    prefixes = {sys.base_prefix, sys.prefix} if os.path.realpath(python) == base_python() else set()
    prefixes.add(str(Path(python).resolve().parent.parent))
    return sorted(p for p in prefixes if p and p != "/")


def resource_limits(timeout: float, address_bytes: int, file_bytes: int, max_processes: int | None) -> list:
    cpu = max(1, int(timeout + 0.999))
    limits = [
        ("RLIMIT_CPU", (cpu, cpu + 1)),
        ("RLIMIT_AS", (address_bytes,) * 2),
        ("RLIMIT_FSIZE", (file_bytes,) * 2),
        ("RLIMIT_CORE", (0, 0)),
        ("RLIMIT_NOFILE", (256, 256)),
    ]
    if max_processes is not None:
        # Only where it counts the sandbox's own processes (its own uid or user namespace); set on a
        # shared uid it would count the user's other programs too.
        limits.append(("RLIMIT_NPROC", (max_processes,) * 2))
    return limits


def code_env(home: str) -> dict[str, str]:
    # Built from nothing, never copied from os.environ: API keys and tokens stay outside.
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "TMPDIR": home,
    }


def bwrap_prefix(python: str, in_dir: str, layout: DiskLayout, seccomp_fd: int | None) -> list[str]:
    """Everything read-only but two size-limited tmpfs mounts (``/tmp``, ``/dev/shm``), whose sizes
    with stdout and stderr add up to the disk cap; the hidden folders are empty and read-only."""
    root = is_root()
    cmd = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden: list[str] = list(HIDDEN_DIRS)
    home = os.environ.get("HOME")
    if home and home != "/" and not any(home == h or home.startswith(h + "/") for h in hidden):
        hidden.append(home)
    hidden = [d for d in hidden if os.path.isdir(d) and not os.path.islink(d)]
    for directory in hidden:
        if directory == "/tmp":
            cmd += ["--perms", "1777", "--size", str(layout.tmp_bytes), "--tmpfs", "/tmp"]
        else:
            cmd += ["--perms", "0755", "--size", str(MiB), "--tmpfs", directory]
    for prefix in python_prefixes(python):
        under = next((h for h in hidden if prefix == h or prefix.startswith(h + "/")), None)
        if under is None:
            continue
        # Recreate the path to the interpreter inside the tmpfs, traversable by the sandbox uid.
        parts = Path(prefix).relative_to(under).parts
        for depth in range(1, len(parts)):
            cmd += ["--perms", "0755", "--dir", str(Path(under, *parts[:depth]))]
        cmd += ["--ro-bind", prefix, prefix]
    cmd += [
        "--ro-bind",
        in_dir,
        INNER_IN,
        "--perms",
        "1777",
        "--size",
        str(layout.shm_bytes),
        "--tmpfs",
        "/dev/shm",
        # /dev's own tmpfs has no size limit (and belongs to the sandbox user in a user namespace)
        "--remount-ro",
        "/dev",
    ]
    for directory in hidden:
        if directory != "/tmp":
            cmd += ["--remount-ro", directory]
    cmd += [
        "--chdir",
        "/tmp",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    if not root:
        cmd += ["--unshare-user", "--uid", str(UNPRIVILEGED_UID), "--gid", str(UNPRIVILEGED_UID)]
    return cmd


def unshare_prefix() -> list[str]:
    cmd = [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if not is_root():
        cmd[1:1] = ["--user", "--map-root-user"]
    return cmd
