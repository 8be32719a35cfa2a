"""A cgroup v2 per sandboxed run: the kernel's own cap on the memory (``memory.max``) and the number of
processes (``pids.max``) of everything the run starts.

Usable only where this process may create a child cgroup with the memory and pids controllers
enabled: the root of a cgroup v2 hierarchy as root (a VM, a container with its own cgroup namespace
whose root holds no processes), or a cgroup delegated to the user and named in
``PATCHLOOP_SANDBOX_CGROUP`` (e.g. a systemd unit with ``Delegate=yes``). A cgroup that holds
processes cannot hand controllers to children ("no internal processes"), so patchloop never moves
itself: where none is usable the sandbox falls back to per-process limits (``limits``).

A run's process enters its cgroup before anything else runs (``enter_prefix``: a shell writes its
own pid into ``cgroup.procs`` and execs the sandbox), so every later fork is born inside. Over
``memory.max`` the kernel reclaims, then kills the whole group (``memory.oom.group``); the count shows
in ``memory.events`` and the run is reported as over its memory cap.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENV_PARENT = "PATCHLOOP_SANDBOX_CGROUP"
PREFIX = "patchloop-sandbox-"
CONTROLLERS = ("memory", "pids")
_SHELL = "/bin/sh"
# $0 is cgroup.procs, "$@" the sandbox's command: the shell moves itself, then becomes the command.
_ENTER = 'echo $$ > "$0" && exec "$@"'


@dataclass(frozen=True)
class CgroupUsage:
    """What the kernel counted for one run."""

    peak_bytes: int  # memory.peak (0 where the kernel has no such file)
    oom_kills: int  # processes the kernel killed over memory.max
    over_pids: int  # forks refused at pids.max


@dataclass(frozen=True)
class Availability:
    parent: Path | None  # where run cgroups are created; None: no usable cgroup
    why: str  # what was found (for doctor-style reports and the docs)


def cgroup2_mount() -> Path | None:
    """The first cgroup v2 mount point (``/proc/self/mountinfo``)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            return Path(left.split()[4])
    return None


def own_cgroup() -> str | None:
    """This process's cgroup v2 path (the ``0::`` line of ``/proc/self/cgroup``)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    return next((line[3:] for line in lines if line.startswith("0::")), None)


def _controllers(folder: Path, name: str) -> set[str]:
    try:
        return set((folder / name).read_text().split())
    except OSError:
        return set()


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _enable_controllers(parent: Path) -> str | None:
    """Make sure children of ``parent`` get memory and pids; None when they do, else why not."""
    missing = [c for c in CONTROLLERS if c not in _controllers(parent, "cgroup.subtree_control")]
    if not missing:
        return None
    offered = _controllers(parent, "cgroup.controllers")
    if any(c not in offered for c in missing):
        return (
            f"{parent} offers {', '.join(sorted(offered)) or 'no controllers'}, "
            f"not {', '.join(c for c in missing if c not in offered)}"
        )
    try:
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except OSError as exc:  # EBUSY: the cgroup holds processes; EACCES: not delegated to us
        return f"cannot enable {', '.join(missing)} in {parent}: {exc.strerror}"
    return None


def candidates() -> list[Path]:
    """The folders run cgroups may go under: the delegated one named in the environment, else the
    root of this process's cgroup v2 hierarchy when this process sits in that root."""
    named = os.environ.get(ENV_PARENT)
    if named:
        return [Path(named)]
    mount, own = cgroup2_mount(), own_cgroup()
    if mount is None or own is None:
        return []
    return [mount] if own == "/" else []


def sweep(parent: Path) -> None:
    """Remove run cgroups whose patchloop is gone (``kill -9`` runs no cleanup); an empty cgroup is
    removed with rmdir, a populated one stays."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        owner = entry.name[len(PREFIX) :].split("-", 1)[0]
        if entry.name.startswith(PREFIX) and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                entry.rmdir()
            except OSError:
                pass


class RunCgroup:
    """One run's cgroup: made with its limits, entered by the run's first process, removed after."""

    def __init__(self, parent: Path, memory_bytes: int, max_pids: int) -> None:
        self.path = parent / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.path.mkdir(mode=0o755)
        try:
            _write(self.path / "memory.max", str(memory_bytes))
            if (self.path / "memory.swap.max").exists():
                _write(self.path / "memory.swap.max", "0")  # swap would let the run hold more than the cap
            if (self.path / "memory.oom.group").exists():
                _write(self.path / "memory.oom.group", "1")  # the whole run goes, not one random process
            _write(self.path / "pids.max", str(max_pids))
        except OSError:
            self.remove()
            raise

    def enter_prefix(self) -> list[str]:
        return [_SHELL, "-c", _ENTER, str(self.path / "cgroup.procs")]

    def _events(self, name: str) -> dict[str, int]:
        try:
            return {
                k: int(v) for k, v in (line.split() for line in (self.path / name).read_text().splitlines())
            }
        except (OSError, ValueError):
            return {}

    def usage(self) -> CgroupUsage:
        try:
            peak = int((self.path / "memory.peak").read_text())
        except (OSError, ValueError):
            peak = 0
        return CgroupUsage(
            peak, self._events("memory.events").get("oom_kill", 0), self._events("pids.events").get("max", 0)
        )

    def kill(self) -> None:
        """SIGKILL to every process in the cgroup (``cgroup.kill``, Linux 5.14+; else one by one)."""
        try:
            _write(self.path / "cgroup.kill", "1")
            return
        except OSError:
            pass
        try:
            pids = (self.path / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, PermissionError, ValueError):
                pass

    def remove(self, wait: float = 5.0) -> None:
        """Kill what is left and remove the cgroup (it can be removed once its last process is gone)."""
        self.kill()
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    log.warning("sandbox cgroup %s could not be removed", self.path)
                    return
                time.sleep(0.01)


def _try(parent: Path) -> str | None:
    """None when a run cgroup under ``parent`` can be made, limited and entered; else why not."""
    if not (parent / "cgroup.procs").exists():
        return f"{parent} is not a cgroup v2 folder"
    why = _enable_controllers(parent)
    if why:
        return why
    sweep(parent)
    try:
        group = RunCgroup(parent, 64 << 20, 8)
    except OSError as exc:
        return f"cannot create a limited cgroup under {parent}: {exc.strerror}"
    try:
        probe = subprocess.run(
            [*group.enter_prefix(), _SHELL, "-c", "cat /proc/self/cgroup"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        inside = group.path.name in probe.stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        probe, inside = None, False
        log.debug("cgroup probe failed: %s", exc)
    finally:
        group.remove()
    if not inside:
        detail = probe.stderr.strip()[-200:] if probe is not None else ""
        return f"cannot move a process into a cgroup under {parent}" + (f": {detail}" if detail else "")
    return None


@functools.cache
def availability() -> Availability:
    """Where this process can make run cgroups (probed once per process)."""
    found = candidates()
    if not found:
        mount = cgroup2_mount()
        if mount is None:
            return Availability(None, "no cgroup v2 mounted")
        return Availability(
            None,
            f"this process is in cgroup {own_cgroup()!r}, not the root of {mount}, "
            f"and {ENV_PARENT} names no delegated cgroup",
        )
    reasons = []
    for parent in found:
        why = _try(parent)
        if why is None:
            return Availability(parent, f"cgroup v2 under {parent}")
        reasons.append(why)
    return Availability(None, "; ".join(reasons))
