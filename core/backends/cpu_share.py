"""How many threads llama.cpp should decode with, given what else the machine is doing.

ggml's threads meet at a spinning barrier after every operation of the graph (hundreds per token).
When another process holds one of the cores, the thread that waits for the descheduled one spins
away its whole time slice at each barrier: measured on a 2-core machine with one other busy process,
2 threads gave 1-2 tokens/s and 1 thread 24-31. patchloop shares the machine with its own analyzers
(and with whatever else runs), so the thread count follows the CPU left over: all cores minus what
other processes used since the last look, from /proc/stat (machine) less our own CPU time.
"""

from __future__ import annotations

import os
import time

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MIN_WINDOW_SECONDS = 0.25  # shorter windows are mostly noise


def _machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used (user, nice, system, irq, softirq, steal) since boot."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    # Steal is time the hypervisor gave our vCPUs to someone else: as bad as a busy neighbour.
    return (user + nice + system + irq + softirq + steal) / _TICKS


class CpuShare:
    """Suggests a thread count from the CPU other processes used over the last window."""

    def __init__(self, max_threads: int):
        self.max_threads = max(1, max_threads)
        self._last = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float | None]:
        return time.monotonic(), time.process_time(), _machine_busy_seconds()

    def others(self) -> float | None:
        """Cores' worth of CPU other processes used since the last call that returned a figure."""
        if time.monotonic() - self._last[0] < MIN_WINDOW_SECONDS:
            return None  # cheap way out: this is asked after every decode step
        now = self._now()
        wall, ours = now[0] - self._last[0], now[1] - self._last[1]
        busy = None if now[2] is None or self._last[2] is None else now[2] - self._last[2]
        if busy is None or wall < MIN_WINDOW_SECONDS:
            return None
        self._last = now
        return max(0.0, (busy - ours) / wall)

    def threads(self, current: int) -> int:
        """The thread count to use now (``current`` when the window is too short to tell)."""
        others = self.others()
        if others is None:
            return current
        return max(1, min(self.max_threads, round(self.max_threads - others)))
