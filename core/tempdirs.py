"""Temporary folders that say whose they are, and the sweep that removes those of dead processes.

A ``kill -9`` (or an out-of-memory kill) of patchloop skips every ``finally`` and leaves its analysis
and sandbox folders behind. Each folder's name therefore carries its owner:
``patchloop-<kind>-<pidns>.<pid>.<start>-<random>``, where ``start`` is the process's start time
(so a recycled pid is not mistaken for the owner) and ``pidns`` the inode of its PID namespace (so a
patchloop in another container sharing the same ``/tmp``, whose pids mean nothing here, is left
alone). The first folder a process makes sweeps away those whose owner is gone.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_NAME = re.compile(r"^patchloop-(?P<kind>[a-z]+)-(?P<ns>\d+)\.(?P<pid>\d+)\.(?P<start>\d+)-")


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); 0 where
    there is no /proc, None when the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return 0 if not os.path.isdir("/proc") else None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _alive(pid: int, start: int) -> bool:
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return start_time(pid) == start


@functools.cache
def owner_tag() -> str:
    """``<pidns>.<pid>.<start>`` of this process (cached: a fork gets its own through ``owner_tag.cache_clear``)."""
    return f"{_pid_namespace()}.{os.getpid()}.{start_time(os.getpid()) or 0}"


def _tag() -> str:
    tag = owner_tag()
    if tag.split(".")[1] != str(os.getpid()):  # a forked child: its own pid, its own folders
        owner_tag.cache_clear()
        tag = owner_tag()
    return tag


def make_dir(kind: str, root: str | None = None) -> str:
    """``mkdtemp`` with the owner in the name; the first call in a process sweeps stale folders."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lowercase letters, not {kind!r}")
    _sweep_once(root or tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"patchloop-{kind}-{_tag()}-", dir=root)


@contextlib.contextmanager
def temporary_dir(kind: str, *, ignore_cleanup_errors: bool = False) -> Iterator[str]:
    """Like ``tempfile.TemporaryDirectory``, named by ``make_dir``."""
    path = make_dir(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=ignore_cleanup_errors)


def stale_dirs(root: str | None = None) -> list[Path]:
    """patchloop folders in ``root`` whose owner (in this PID namespace, as this user) is gone."""
    root = root or tempfile.gettempdir()
    ns, uid = str(_pid_namespace()), os.geteuid() if hasattr(os, "geteuid") else None
    found = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match or match["ns"] != ns:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or (uid is not None and uid != 0 and st.st_uid != uid):
            continue
        if not _alive(int(match["pid"]), int(match["start"])):
            found.append(Path(entry.path))
    return found


def sweep(root: str | None = None) -> list[Path]:
    """Remove the stale folders; returns those removed."""
    removed = []
    for path in stale_dirs(root):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %d temp folder(s) left by patchloop processes that died", len(removed))
    return removed


@functools.cache
def _sweep_once(root: str) -> None:
    try:
        sweep(root)
    except OSError as exc:  # a sweep that fails must never stop the work that asked for a folder
        log.debug("temp folder sweep in %s failed: %s", root, exc)
