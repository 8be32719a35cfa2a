"""The events a run of the loop emits as it goes, for live views (the app, the CLI's progress)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .types import Iteration, Run


@dataclass
class IterationStarted:
    run: Run
    index: int


@dataclass
class TokenReceived:
    run: Run
    index: int
    text: str  # the new piece
    so_far: str  # the whole response so far


@dataclass
class AnalysisStarted:
    run: Run
    index: int
    code: str


@dataclass
class CandidatesStarted:
    """N candidate repairs are being sampled for iteration ``index`` (no token stream)."""

    run: Run
    index: int
    count: int


@dataclass
class IterationFinished:
    run: Run
    iteration: Iteration


@dataclass
class RunFinished:
    run: Run


LoopEvent = (
    IterationStarted | TokenReceived | AnalysisStarted | CandidatesStarted | IterationFinished | RunFinished
)
EventFn = Callable[[LoopEvent], None]
