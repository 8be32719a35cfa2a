"""Short human texts the app shows: device, speed, time, one iteration's verdict."""

from __future__ import annotations

from patchloop.core.types import BackendInfo, Iteration


def device_text(info: BackendInfo) -> str:
    """'CPU', 'GPU · 4-bit', 'server' ... for the status bar."""
    device = {"cpu": "CPU", "cuda": "GPU", "mps": "GPU", "server": "server"}.get(info.device, info.device)
    quant = info.quantization.lower()
    if quant in ("nf4", "fp4", "4bit", "4-bit", "int4"):
        return f"{device} · 4-bit"
    if quant:
        return f"{device} · {info.quantization}"
    return device


def rate_text(tokens: int, seconds: float) -> str:
    if tokens <= 0 or seconds <= 0:
        return "– tok/s"
    return f"{tokens / seconds:.1f} tok/s"


def elapsed_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def verdict(it: Iteration, threshold: str) -> str:
    """One word or count for an iteration: 'clean', '3 findings', 'analyzer error', 'no code' ..."""
    if it.error == "cancelled":
        return "cancelled"
    if it.error:
        return "model error"
    if it.code is None:
        return "no code"
    if it.analyzer_errors:
        return "analyzer error"
    flagged = len(it.flagged(threshold))
    if not flagged:
        return "clean"
    return f"{flagged} finding{'s' if flagged != 1 else ''}"


def first_line(text: str, width: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
