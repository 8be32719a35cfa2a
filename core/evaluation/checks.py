"""Running a task's tests on a solution, always inside the sandbox.

HumanEval: the model answers with the whole function (or, now and then, only its body). The
program under test is the task's prompt (imports, helper functions, the signature with its
docstring) followed by the model's code, so a whole-function answer redefines the entry point
and a body-only answer completes it; then ``check(entry_point)`` runs the task's tests.
MBPP: the solution, then ``test_setup_code``, then the three asserts of ``test_list``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .. import sandbox
from ..sandbox.limits import DEFAULT_DISK_MB, DEFAULT_MEMORY_MB
from .datasets import Task

TestsFn = Callable[[str], bool]


def humaneval_program(source_prompt: str, code: str, entry_point: str) -> str:
    if re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        return source_prompt.rstrip() + "\n\n\n" + code
    return source_prompt + code  # a body completion: it continues the signature's docstring


@dataclass
class CheckOutcome:
    """Why a solution's tests passed or failed (kept for the per-task JSON)."""

    passed: bool
    reason: str  # "passed", "failed: AssertionError", "wall time limit (10s)", ...
    seconds: float


def run_task_tests(
    task: Task,
    code: str,
    *,
    timeout: float = 10.0,
    memory_mb: int = 512,
    disk_mb: int = DEFAULT_DISK_MB,
    total_memory_mb: int = DEFAULT_MEMORY_MB,
) -> CheckOutcome:
    """``memory_mb``: each process's address space; ``total_memory_mb`` and ``disk_mb``: the whole run's."""
    if task.test_code is None:
        raise ValueError(f"{task.task_id} has no tests")
    caps = {
        "timeout": timeout,
        "memory_mb": memory_mb,
        "disk_mb": disk_mb,
        "total_memory_mb": total_memory_mb,
    }
    if task.benchmark == "humaneval" and task.entry_point:
        program = humaneval_program(task.source_prompt, code, task.entry_point)
        # The prompt's own helpers (poly, encode_cyclic, ...) judge the answer, not the answer's copies.
        result = sandbox.check_tests(
            program, task.test_code, task.entry_point, prelude=task.source_prompt, **caps
        )
    else:
        result = sandbox.check_tests(code, task.test_code, setup_code=task.setup_code, **caps)
    return CheckOutcome(result.ok, "passed" if result.ok else _failure_reason(result), result.seconds)


def _failure_reason(result: sandbox.SandboxResult) -> str:
    if result.killed_reason:
        return result.killed_reason
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if result.returncode == 0:
        return "failed: the program ended before the tests finished"
    return f"failed: {last[:200]}" if last else f"failed: exit status {result.returncode}"


class TaskTester:
    """Makes the ``tests`` callables the loop calls, and remembers each outcome by (task, code),
    so the per-task report can say why a solution failed."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        memory_mb: int = 512,
        disk_mb: int = DEFAULT_DISK_MB,
        total_memory_mb: int = DEFAULT_MEMORY_MB,
    ):
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.disk_mb, self.total_memory_mb = disk_mb, total_memory_mb
        self._lock = threading.Lock()
        self._outcomes: dict[tuple[str, str], CheckOutcome] = {}

    def for_task(self, task: Task) -> TestsFn | None:
        if not task.has_tests:
            return None

        def tests(code: str) -> bool:
            outcome = run_task_tests(
                task,
                code,
                timeout=self.timeout,
                memory_mb=self.memory_mb,
                disk_mb=self.disk_mb,
                total_memory_mb=self.total_memory_mb,
            )
            with self._lock:
                self._outcomes[(task.task_id, code)] = outcome
            return outcome.passed

        return tests

    def outcome(self, task_id: str, code: str | None) -> CheckOutcome | None:
        if code is None:
            return None
        with self._lock:
            return self._outcomes.get((task_id, code))
