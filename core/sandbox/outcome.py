"""What a finished run's output and exit status say: the output as read back (capped), and the limit
that stopped the run, if one did."""

from __future__ import annotations

import os
import signal

from .limits import DISK_REASON

MAX_OUTPUT = 1_000_000  # bytes of stdout (and of stderr) read back; more keeps its last TAIL bytes
TAIL = 4096


def read_capped(fh, limit: int) -> str:
    size = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    head = fh.read(limit)
    text = head.decode("utf-8", errors="replace")
    if size > limit:
        fh.seek(max(limit, size - TAIL))
        tail = fh.read().decode("utf-8", errors="replace")
        text += f"\n[... {size - limit - len(tail):,} bytes cut ...]\n" + tail
    return text


def signal_of(mode: str, returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if mode == "bwrap" and returncode > 128:  # bwrap reports a signalled child as 128 + signal
        return returncode - 128
    return None


def killed_reason(
    mode: str, returncode: int | None, stderr: str, timed_out: bool, timeout: float
) -> str | None:
    if timed_out:
        return f"wall time limit ({timeout:g}s)"
    sig = signal_of(mode, returncode)
    if sig == signal.SIGXCPU:
        return "cpu time limit"
    if sig == signal.SIGXFSZ or "File too large" in stderr:
        return "file size limit"
    if returncode and ("No space left on device" in stderr or "[Errno 28]" in stderr):
        # Under bwrap the only writable mounts are the run's capped tmpfs: a full one is the cap.
        return DISK_REASON if mode == "bwrap" else "no space left on device"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory limit"
    if "BlockingIOError" in stderr or "Resource temporarily unavailable" in stderr:
        return "process limit"
    if sig == signal.SIGKILL:
        return "killed (SIGKILL)"
    if sig is not None:
        return f"killed by signal {signal.Signals(sig).name}"
    return None
