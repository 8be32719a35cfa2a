"""Progress of a long command over N tasks: a live bar on a terminal, plain lines elsewhere.

On a terminal (stderr is a TTY) a rich bar per job moves with every finished task, with the
elapsed time and an ETA; a note such as "repair v2" shows what the job is doing now. Piped or
redirected stderr (CI logs, ``nohup``) gets one line per finished task instead, the way pip and
git report without a terminal::

    eval 4 humaneval: 12/164 tasks (7%)  HumanEval/11 clean  elapsed 1:02  ETA 13:08

The ETA is the mean time per task finished so far times the tasks left, from the first task on;
rich's own estimate waits for a window of samples, which an evaluation of slow tasks fills late.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def clock(seconds: float) -> str:
    """1:02, 13:08, 2:05:00."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class Job:
    """One counted job (an evaluation of one subject)."""

    label: str
    total: int
    done: int = 0  # finished before this process started (a resume) count as done, not as speed
    started: float = field(default_factory=time.monotonic)
    finished_here: int = 0

    def eta(self, now: float | None = None) -> float | None:
        if not self.finished_here:
            return None
        elapsed = (now or time.monotonic()) - self.started
        return elapsed / self.finished_here * max(0, self.total - self.done)


class _EtaColumn(ProgressColumn):
    def __init__(self, jobs: dict[TaskID, Job]):
        super().__init__()
        self.jobs = jobs

    def render(self, task) -> Text:
        job = self.jobs.get(task.id)
        eta = job.eta() if job else None
        return Text(f"ETA {clock(eta)}" if eta is not None else "ETA -:--", style="progress.remaining")


class TaskProgress:
    """``with TaskProgress(console) as progress: bar = progress.add(label, total, done); ...``"""

    def __init__(self, console: Console, *, quiet: bool = False, live: bool | None = None):
        self.console, self.quiet = console, quiet
        self.live = console.is_terminal if live is None else live
        self.jobs: dict[TaskID, Job] = {}
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            _EtaColumn(self.jobs),
            console=console,
            disable=quiet or not self.live,
            transient=False,
        )

    def __enter__(self) -> Self:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def add(self, label: str, total: int, done: int = 0) -> TaskID:
        bar = self._bar.add_task(label, total=total, completed=done)
        self.jobs[bar] = Job(label, total, done)
        return bar

    def note(self, bar: TaskID, note: str | None) -> None:
        """What the job is doing now ("repair v2"); shown on the live bar only."""
        job = self.jobs[bar]
        self._bar.update(bar, description=f"{job.label} · {note}" if note else job.label)

    def advance(self, bar: TaskID, what: str = "") -> None:
        """One task finished; ``what`` says which and how ("HumanEval/11 clean")."""
        job = self.jobs[bar]
        job.done += 1
        job.finished_here += 1
        self._bar.update(bar, advance=1, description=job.label)
        if self.quiet or self.live:
            return
        now = time.monotonic()
        eta = job.eta(now)
        percent = f" ({100 * job.done // job.total}%)" if job.total else ""
        line = (
            f"{job.label}: {job.done}/{job.total} tasks{percent}{'  ' + what if what else ''}"
            f"  elapsed {clock(now - job.started)}  ETA {clock(eta) if eta is not None else '-:--'}"
        )
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)
