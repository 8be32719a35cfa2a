"""Caps on a whole sandboxed run, all its processes together: the disk it writes, the memory it holds.

The per-process limits (RLIMIT_AS, RLIMIT_FSIZE) do not add up to a cap on a run: 32 processes of
512 MB each, or one process writing file after file. Two caps do:

Disk (``disk_layout``). Under bwrap the only writable places are two size-limited tmpfs mounts, ``/tmp``
(which holds the work directory) and ``/dev/shm``, plus stdout and stderr on the host, each capped
at the per-file limit; their sizes add up to the cap, so the kernel refuses the write that would go
over (``ENOSPC``), and the monitor stops the run as "disk quota exceeded" when the mounts are full or
hold more files than the cap allows (each file counts at least ``BYTES_PER_FILE``: tmpfs inodes cost
memory the size limit does not see). The other modes write into a work directory on the host: the
monitor sums its blocks at every poll (every 4th once it holds many entries), and a last time when
the run ends, and stops or fails the run over the cap. That can overshoot by what the code writes
between two polls (each file stays within the per-file limit), and it does not see writes elsewhere
(``/tmp``, ``/dev/shm``, under ``unshare`` and ``rlimits``).

Memory (``plan_memory``, ``RunMonitor``), hard where the platform allows, by one of:

- ``cgroup``: the run in a cgroup v2 of its own (``cgroup``): ``memory.max`` is the cap on
  everything the run's processes hold (page cache and tmpfs pages they write included), ``pids.max``
  their number; over the cap the kernel kills the whole run.
- ``rlimits``: where no cgroup is usable but RLIMIT_NPROC counts the sandbox's own processes (its own
  uid or user namespace), the process count and each process's address space (RLIMIT_AS, which holds
  RLIMIT_DATA's heap and every mapping) are derived from the cap so that count x limit <= cap: no
  set of processes can hold more. It costs headroom: address space is more than resident memory,
  and threads count as processes.
- ``poll`` only: where neither holds (code left as root without capabilities, or the user's own
  uid in ``rlimits`` mode), the cap is as soft as the monitor below.

In every mechanism the monitor polls as a second line: every ``POLL_SECONDS`` it sums the resident
memory of the run's process tree and kills the tree over the cap ("memory cap exceeded"). On its
own a poll can miss what the code allocates within one interval (tens of MB on two cores). tmpfs
pages are not process memory: under bwrap the disk cap bounds them apart.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_DISK_MB = 256
DEFAULT_MEMORY_MB = 1024
POLL_SECONDS = 0.05
# A host work directory is walked at every poll while it is small, at every 4th once it holds many
# entries (a walk costs more than a statvfs).
WORK_DIR_POLLS = 4
SMALL_DIR = 512
BYTES_PER_FILE = 16 * 1024
FULL_SLACK = 256 * 1024  # free space below this on a capped mount counts as full
DISK_REASON = "disk quota exceeded"
MEMORY_REASON = "memory cap exceeded"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class DiskLayout:
    """How a run's disk cap is split; every size is a multiple of the page size."""

    cap_bytes: int
    file_bytes: int  # RLIMIT_FSIZE: any one file, stdout and stderr included
    tmp_bytes: int  # bwrap: the /tmp tmpfs (the work directory is in it)
    shm_bytes: int  # bwrap: the /dev/shm tmpfs
    max_files: int


def _pages(size: int) -> int:
    return size // _PAGE * _PAGE


def disk_layout(disk_mb: int, file_size_mb: int) -> DiskLayout:
    """stdout and stderr (host files, each up to the per-file limit) come out of the cap first; what
    is left is split between /tmp and a small /dev/shm."""
    if disk_mb < 1 or file_size_mb < 1:
        raise ValueError(f"disk cap and file size must be at least 1 MB, not {disk_mb} and {file_size_mb}")
    cap = disk_mb * MiB
    file_bytes = _pages(min(file_size_mb * MiB, cap // 4))
    rest = cap - 2 * file_bytes
    shm = _pages(min(16 * MiB, rest // 8))
    return DiskLayout(cap, file_bytes, _pages(rest - shm), shm, max(64, cap // BYTES_PER_FILE))


# -- memory -------------------------------------------------------------------------------------

MEMORY_MECHANISMS = ("cgroup", "rlimits", "poll")
PROCESS_SHARE = (
    128 * MiB
)  # the address space each process gets under the rlimits mechanism, where the cap allows
MIN_PROCESS_BYTES = (
    32 * MiB
)  # an interpreter holds 16.5 MB of address space before the code allocates (measured)
MIN_PROCESSES = 4  # launcher, judge, solution and one more


@dataclass(frozen=True)
class MemoryPlan:
    """How one run's memory cap is held (see the module's docstring)."""

    mechanism: str  # one of MEMORY_MECHANISMS
    cap_bytes: int
    process_bytes: int  # RLIMIT_AS of each process
    processes: int  # RLIMIT_NPROC (rlimits) or pids.max (cgroup): how many processes (threads too) at once
    cut: bool  # the per-process limit was lowered to hold the cap: running out of it is the cap

    @property
    def hard(self) -> bool:
        return self.mechanism != "poll"


def plan_memory(mechanism: str, cap_mb: int, memory_mb: int, max_processes: int) -> MemoryPlan:
    """The per-process limits of one run: as asked under ``cgroup`` and ``poll``; under ``rlimits``
    at most ``max_processes`` of at most ``memory_mb`` each, fewer and smaller as needed so that
    processes x address space <= the cap (``PROCESS_SHARE`` each where the cap allows, never
    fewer than ``MIN_PROCESSES`` unless that would leave each less than ``MIN_PROCESS_BYTES``)."""
    if mechanism not in MEMORY_MECHANISMS:
        raise ValueError(f"unknown memory mechanism {mechanism!r}")
    cap, asked = cap_mb * MiB, memory_mb * MiB
    if mechanism != "rlimits":
        return MemoryPlan(mechanism, cap, asked, max_processes, False)
    processes = min(max_processes, max(MIN_PROCESSES, cap // PROCESS_SHARE))
    if cap // processes < MIN_PROCESS_BYTES:
        processes = max(1, min(max_processes, cap // MIN_PROCESS_BYTES))
    share = _pages(cap // processes)
    return MemoryPlan(mechanism, cap, min(asked, share), processes, share < asked)


# -- the process tree ---------------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident bytes) of every process (one pass over /proc/PID/stat, which
    anyone may read; /proc/PID/task/*/children is not built into every kernel)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        table[int(name)] = (int(fields[1]), int(fields[21]) * _PAGE)
    return table


def tree(root: int, table: dict[int, tuple[int, int]]) -> list[int]:
    """``root`` and its descendants present in ``table`` (root first)."""
    if root not in table:
        return []
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def dir_usage(path: str, max_entries: int) -> tuple[int, int]:
    """(bytes allocated, entries) under ``path``; stops counting past ``max_entries``. Blocks, not
    sizes: a sparse file of 10 GB takes no disk."""
    used, entries, todo = 0, 0, [path]
    while todo and entries <= max_entries:
        try:
            scan = os.scandir(todo.pop())
        except OSError:
            continue
        with scan:
            for entry in scan:
                entries += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                used += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
    return used, entries


# -- the monitor --------------------------------------------------------------------------------


class RunMonitor:
    """Watches one run from the host; ``reason`` says which cap it stopped the run for, if any.

    ``tmpfs``: the run's writable mounts (inner path -> size in bytes), seen through
    ``/proc/PID/root`` of any process of the run; ``work_dir``: a host directory to measure instead.
    """

    def __init__(
        self,
        root_pid: int,
        *,
        memory_bytes: int,
        layout: DiskLayout,
        kill: Callable[[], None],
        tmpfs: dict[str, int] | None = None,
        work_dir: str | None = None,
    ) -> None:
        self.root_pid, self.memory_bytes, self.layout = root_pid, memory_bytes, layout
        self.tmpfs, self.work_dir, self._kill = tmpfs or {}, work_dir, kill
        self.reason: str | None = None
        self.peak_memory = 0
        self.peak_disk = 0
        self._inside: int | None = None  # a process whose root is the sandbox's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sandbox-monitor-{root_pid}", daemon=True)
        self._polls = 0
        self._entries = 0  # in the work directory at the last walk

    def start(self) -> RunMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the run is over); a work directory gets one last measure."""
        self._stop.set()
        self._thread.join()
        if self.work_dir and self.reason is None:
            self._check_work_dir()

    def _trip(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            log.info("sandbox run %s stopped: %s", self.root_pid, reason)
            self._kill()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS) and self.reason is None:
            try:
                self.check()
            except Exception:
                log.exception("sandbox monitor failed; the run goes on under its per-process limits")
                return

    def check(self) -> None:
        self._polls += 1
        pids = tree(self.root_pid, table := process_table())
        memory = sum(table[p][1] for p in pids)
        self.peak_memory = max(self.peak_memory, memory)
        if memory > self.memory_bytes:
            self._trip(MEMORY_REASON)
            return
        if self.tmpfs:
            self._check_tmpfs(pids)
        elif self.work_dir and (self._entries <= SMALL_DIR or self._polls % WORK_DIR_POLLS == 0):
            self._check_work_dir()

    def _check_work_dir(self) -> None:
        assert self.work_dir is not None
        used, entries = dir_usage(self.work_dir, self.layout.max_files)
        self.peak_disk, self._entries = max(self.peak_disk, used), entries
        # stdout and stderr are capped apart (the per-file limit), outside the work directory
        if used > self.layout.cap_bytes - 2 * self.layout.file_bytes or entries > self.layout.max_files:
            self._trip(DISK_REASON)

    def _statvfs(self, pid: int, path: str) -> os.statvfs_result | None:
        try:
            return os.statvfs(f"/proc/{pid}/root{path}")
        except OSError:
            return None

    def _check_tmpfs(self, pids: list[int]) -> None:
        first_path, first_size = next(iter(self.tmpfs.items()))
        if self._inside not in pids:
            self._inside = None
            for pid in pids:  # before bwrap's pivot_root a process still sees the host's mounts
                st = self._statvfs(pid, first_path)
                if st is not None and st.f_blocks * st.f_frsize == first_size:
                    self._inside = pid
                    break
            if self._inside is None:
                return
        used = files = 0
        full = False
        for path, size in self.tmpfs.items():
            st = self._statvfs(self._inside, path)
            if st is None or st.f_blocks * st.f_frsize != size:
                return  # the process left (or is not inside yet): next poll
            used += (st.f_blocks - st.f_bfree) * st.f_frsize
            files += st.f_files - st.f_ffree
            full = full or st.f_bavail * st.f_frsize < min(FULL_SLACK, size // 4)
        self.peak_disk = max(self.peak_disk, used)
        if full or files > self.layout.max_files:
            self._trip(DISK_REASON)
