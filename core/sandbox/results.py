"""What the sandbox reports: how this process runs sandboxes (``SandboxInfo``), what happened to
one run (``SandboxResult``), and the one error, no sandbox at all (``SandboxError``)."""

from __future__ import annotations

from dataclasses import dataclass, field


class SandboxError(RuntimeError):
    """No sandbox can run here (no mode passed its probe); the message says what to install."""


@dataclass
class SandboxResult:
    """What happened to one sandboxed run. ``ok``: exit status 0 within every limit (for
    ``check_tests`` also: the tests ran to the end)."""

    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    killed_reason: str | None = None  # "wall time limit", "memory cap exceeded", "disk quota exceeded", ...
    seconds: float = 0.0
    mode: str = ""
    peak_memory: int = (
        0  # bytes: the most the run's processes held together (the cgroup's peak, or at one poll)
    )
    disk_used: int = 0  # bytes, the most the run had written at one poll
    memory_mechanism: str = ""  # what held the memory cap: "cgroup", "rlimits" or "poll" (limits)


@dataclass(frozen=True)
class SandboxInfo:
    """The resolved way this process runs sandboxes."""

    mode: str
    python: str  # interpreter that runs the code
    drop_uid: bool  # root drops to an unprivileged uid before the code starts
    guarantees: frozenset[str] = field(default_factory=frozenset)
    warning: str | None = None
    seccomp: bool = False  # the syscall filter is installed
    memory_mechanism: str = "poll"  # how the memory cap is held: "cgroup", "rlimits" or "poll" (limits)
