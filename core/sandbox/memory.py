"""Which mechanism holds a sandbox's memory cap: a cgroup where one is usable, else per-process
limits where the process count is the sandbox's own, else the monitor's polls (``limits``)."""

from __future__ import annotations

import sys

from . import cgroup
from .commands import is_root


def cgroup_usable() -> bool:
    return sys.platform.startswith("linux") and cgroup.availability().parent is not None


def fallback_mechanism(mode: str, guarantees: frozenset[str] | set[str]) -> str:
    """How the memory cap is held without a cgroup: per-process limits derived from it, where the
    process count is the sandbox's own (its uid or user namespace, not the user's other programs)."""
    own_count = "process_limit" in guarantees and not (mode == "rlimits" and not is_root())
    return "rlimits" if own_count else "poll"


def memory_mechanism(mode: str, guarantees: frozenset[str] | set[str]) -> str:
    return "cgroup" if cgroup_usable() else fallback_mechanism(mode, guarantees)
