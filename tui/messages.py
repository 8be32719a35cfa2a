"""Messages that worker threads post to the app (Textual's post_message is thread-safe).

Each run and each live analysis carries the token of the run it belongs to, so a late message from
a cancelled or replaced run is recognised and dropped instead of painting over the current one.

Dataclasses, as Textual's own messages are: the generated ``__init__`` sets the fields and calls
``Message.__post_init__``, which does what ``Message.__init__`` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patchloop.core.loop_events import LoopEvent
from patchloop.core.types import Analysis, Run
from textual.message import Message


@dataclass
class LoopEventMessage(Message):
    event: LoopEvent
    token: int


@dataclass
class RunCrashed(Message):
    """The loop raised (the log became unusable, a bug): the run is over; the app stays up."""

    error: str
    token: int


@dataclass
class ModelProgress(Message):
    stage: str
    spec: str


@dataclass
class ModelLoaded(Message):
    backend: Any
    spec: str


@dataclass
class ModelLoadFailed(Message):
    error: str
    spec: str


@dataclass
class LiveAnalysisDone(Message):
    """Findings on the code streamed so far (the fast suite); ``error`` when the analysis failed."""

    token: int
    index: int
    code: str
    analysis: Analysis | None = None
    error: str | None = None


@dataclass
class RunLoaded(Message):
    """A past run read from the log, for replay."""

    run: Run
    labels: dict[int, str]


@dataclass
class LogFailed(Message):
    """A log read or write from a worker failed (locked, corrupt, missing row)."""

    what: str
    error: str


@dataclass
class LabelSaved(Message):
    run_id: int
    index: int
    label: str | None
