"""What the app knows about the run on screen (streamed live or replayed from the log)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from patchloop.core.types import Analysis, Run


@dataclass
class Session:
    run: Run | None = None
    labels: dict[int, str] = field(default_factory=dict)  # iteration index -> chosen | rejected
    live: bool = False  # a run is in progress
    replay: bool = False  # the run came from the log
    token: int = 0  # bumped per run; late messages from an older run carry an older token
    cancel: threading.Event | None = None
    finished: set[int] = field(default_factory=set)  # iterations whose IterationFinished arrived
    streaming_index: int | None = None
    stream: str = ""  # the streaming iteration's answer so far
    stream_dirty: bool = False
    phase: str = ""  # generating | analyzing | sampling N candidate repairs
    tokens: int = 0  # pieces received in the streaming iteration
    run_started: float = 0.0  # app clock
    run_elapsed: float | None = None  # frozen when the run ends
    iteration_started: float = 0.0
    rate: str = ""
    live_findings: dict[int, Analysis] = field(default_factory=dict)
    error: str | None = None
