"""The unprivileged uids a root patchloop runs sandboxed code as, one per concurrent run."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

UNPRIVILEGED_UID = 65534  # "nobody" on Debian, Ubuntu, Fedora: the uid bwrap maps a normal user to
# Concurrent sandboxes get different uids: RLIMIT_NPROC counts every process of a uid, so a fork bomb in
# one sandbox would otherwise make a neighbour's fork fail. The count is kernel-wide, so it also takes
# in other containers on the same host (another patchloop's sandboxes, a daemon running as nobody):
# each process therefore draws a random block of high uids that no account uses, where the user
# namespace maps them, and falls back to 65534, 65533, ... (Debian reserves 65000-65533) where not.
UID_SLOTS = 16
_HIGH_UIDS = (1 << 24, 1 << 30)


def mapped_uid_ranges() -> list[tuple[int, int]]:
    """The uids this user namespace can switch to, as [start, end) ranges."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        inside, _outside, count = (int(x) for x in line.split())
        ranges.append((inside, inside + count))
    return ranges


def uid_block() -> list[int]:
    low, high = _HIGH_UIDS
    if any(start <= low and high <= end for start, end in mapped_uid_ranges()):
        base = low + secrets.randbelow(high - low - UID_SLOTS)
        return [base + i for i in range(UID_SLOTS)]
    return [UNPRIVILEGED_UID - i for i in range(UID_SLOTS)]


class UidPool:
    """Hands each concurrent sandbox its own unprivileged uid (see UID_SLOTS)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.uids = tuple(uid_block())
        self._free = list(self.uids)

    def take(self) -> int | None:
        with self._lock:
            return self._free.pop(0) if self._free else None

    def give(self, uid: int | None) -> None:
        # Back of the queue: a killed sandbox's processes may take a moment to vanish, and they
        # still count against their uid's process limit.
        if uid is not None:
            with self._lock:
                self._free.append(uid)
