"""Choosing how this process runs sandboxes: each mode that is installed, with an unprivileged uid and
an interpreter it can reach where patchloop is root, with the seccomp filter and then without,
probed in order (``MODES``) by running a small program in it; the first that works is the one
(``sandbox_info``), with what it guarantees.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from .. import procguard
from . import seccomp
from .commands import base_python, is_root
from .memory import memory_mechanism
from .results import SandboxError, SandboxInfo
from .run import RunSpec, execute, script

log = logging.getLogger(__name__)

MODES = ("bwrap", "unshare", "rlimits")

# What a mode guarantees; tests check each one that the resolved mode claims.
ALWAYS = frozenset(
    {
        "separate_process",
        "clean_env",
        "cpu_limit",
        "wall_limit",
        "memory_limit",
        "file_size_limit",
        "fresh_dir",
    }
)


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


def _probe(info: SandboxInfo) -> bool:
    try:
        spec = RunSpec(
            {"main.py": script("probe.py")},
            ("-I", "main.py"),
            timeout=20,
            file_size_mb=1,
            max_output=10_000,
            disk_mb=16,
        )
        result = execute(info, spec)
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
    if linux and memory_mechanism(mode, found) != "poll":
        found |= {"memory_cap_hard"}
    return frozenset(found)


def _candidates(only: str | None) -> list[SandboxInfo]:
    root = is_root()
    python = base_python()
    filtered = seccomp.supported()
    out: list[SandboxInfo] = []
    for mode in [only] if only else list(MODES):
        if mode in ("bwrap", "unshare") and not shutil.which(mode):
            continue
        weak = (
            (
                "sandbox mode 'rlimits': network and file-system access of generated code are NOT isolated "
                "(install bubblewrap for full isolation)"
            )
            if mode == "rlimits"
            else None
        )
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
        as_root = (
            "generated code runs as root (without capabilities): no interpreter an unprivileged uid can "
            "reach was found, so the process-count limit does not hold"
        )
        out.append(
            SandboxInfo(
                mode,
                python,
                False,
                _guarantees(mode, False, filtered),
                "; ".join(filter(None, [weak, as_root])),
                filtered,
            )
        )
    return [replace(info, memory_mechanism=memory_mechanism(info.mode, info.guarantees)) for info in out]


def _without_filter(info: SandboxInfo) -> SandboxInfo:
    note = "no seccomp filter could be installed: generated code may use every system call"
    return replace(
        info,
        seccomp=False,
        guarantees=info.guarantees - {"syscall_filter"},
        warning="; ".join(filter(None, [info.warning, note])),
    )


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
        "no sandbox works here"
        + (f" (tried: {'; '.join(tried)})" if tried else f" (mode {mode} is not installed)")
        + ": install bubblewrap (apt-get install bubblewrap) or run on Linux"
    )
