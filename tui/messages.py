"""Messages that worker threads post to the app (Textual's post_message is thread-safe).

Each run and each live analysis carries the token of the run it belongs to, so a late message from
a cancelled or replaced run is recognised and dropped instead of painting over the current one.
"""

from __future__ import annotations

from typing import Any

from patchloop.core.loop import LoopEvent
from patchloop.core.types import Analysis, Run
from textual.message import Message


class LoopEventMessage(Message):
    def __init__(self, event: LoopEvent, token: int) -> None:
        super().__init__()
        self.event = event
        self.token = token


class RunCrashed(Message):
    """The loop raised (the log became unusable, a bug): the run is over; the app stays up."""

    def __init__(self, error: str, token: int) -> None:
        super().__init__()
        self.error = error
        self.token = token


class ModelProgress(Message):
    def __init__(self, stage: str, spec: str) -> None:
        super().__init__()
        self.stage = stage
        self.spec = spec


class ModelLoaded(Message):
    def __init__(self, backend: Any, spec: str) -> None:
        super().__init__()
        self.backend = backend
        self.spec = spec


class ModelLoadFailed(Message):
    def __init__(self, error: str, spec: str) -> None:
        super().__init__()
        self.error = error
        self.spec = spec


class LiveAnalysisDone(Message):
    """Findings on the code streamed so far (the fast suite); ``error`` when the analysis failed."""

    def __init__(self, token: int, index: int, code: str, analysis: Analysis | None = None,
                 error: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.index = index
        self.code = code
        self.analysis = analysis
        self.error = error


class RunLoaded(Message):
    """A past run read from the log, for replay."""

    def __init__(self, run: Run, labels: dict[int, str]) -> None:
        super().__init__()
        self.run = run
        self.labels = labels


class LogFailed(Message):
    """A log read or write from a worker failed (locked, corrupt, missing row)."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class LabelSaved(Message):
    def __init__(self, run_id: int, index: int, label: str | None) -> None:
        super().__init__()
        self.run_id = run_id
        self.index = index
        self.label = label
