"""Run a suite's analyzers side by side, each under its own deadline.

Each analyzer gets a daemon thread (the work is waiting on subprocesses, so threads are enough
and the GIL is no obstacle). External tools enforce ``timeout`` themselves by killing their
process group; the runner additionally stops waiting ``GRACE`` seconds after the deadline, so an
in-process analyzer that hangs, or a plug-in that ignores its timeout, becomes a "timed out"
error instead of a hung suite. A daemon thread that is given up on cannot block interpreter exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..types import AnalyzerResult
from .base import Analyzer

GRACE = 2.0  # seconds past the deadline for a tool to be killed and its output parsed


def run_analyzers(
    analyzers: Sequence[Analyzer], path: Path, language: str, timeout: float
) -> list[AnalyzerResult]:
    """Results in the order of ``analyzers``; every analyzer yields exactly one result."""
    slots: list[AnalyzerResult | None] = [None] * len(analyzers)
    starts = [0.0] * len(analyzers)

    def work(index: int, analyzer: Analyzer) -> None:
        starts[index] = time.monotonic()
        try:
            result = analyzer.analyze(path, language, timeout)
            if not isinstance(result, AnalyzerResult):
                raise TypeError(f"analyze() returned {type(result).__name__}, not AnalyzerResult")
        except Exception as exc:  # noqa: BLE001 - a plug-in crash is reported, never raised
            result = AnalyzerResult(_name(analyzer), error=f"crashed: {type(exc).__name__}: {exc}")
        if not result.seconds:
            result.seconds = time.monotonic() - starts[index]
        slots[index] = result

    threads = []
    for index, analyzer in enumerate(analyzers):
        thread = threading.Thread(
            target=work, args=(index, analyzer), name=f"analyzer-{_name(analyzer)}", daemon=True
        )
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout + GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))

    results = []
    for index, analyzer in enumerate(analyzers):
        result = slots[index]
        if result is None:
            elapsed = time.monotonic() - starts[index] if starts[index] else 0.0
            result = AnalyzerResult(_name(analyzer), error=f"timed out after {timeout:g} s", seconds=elapsed)
        results.append(result)
    return results


def _name(analyzer: object) -> str:
    return str(getattr(analyzer, "name", type(analyzer).__name__))
