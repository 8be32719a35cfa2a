"""A backend that answers every task with the benchmark's own reference solution.

Scoring the reference solutions through exactly the path a model's answers take (code-block
extraction, analyzers, sandboxed tests, metrics, log) checks the harness itself: HumanEval's
canonical solutions must reach pass@1 = 100 %, and their EFR shows what the analyzers flag in
code that is known to be correct. It is a real evaluation subject (like a model), not a test
double: its runs are logged and can serve as "chosen" answers in preference pairs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..backends.base import Backend, ModelError
from ..types import BackendInfo, GenStats, Message
from .datasets import Task


def reference_answer(task: Task) -> str:
    """The reference solution as a model would answer: one fenced code block."""
    if task.reference is None:
        raise ModelError(f"{task.task_id} has no reference solution")
    return f"```{task.language}\n{task.reference.rstrip()}\n```\n"


class ReferenceBackend(Backend):
    """Answers each task's prompt with its reference solution (a patch request gets it again)."""

    def __init__(self, tasks: Sequence[Task], benchmark: str):
        self._answers = {task.prompt: reference_answer(task) for task in tasks if task.reference is not None}
        self.info = BackendInfo(backend="reference", model=f"reference:{benchmark}", device="cpu")

    def _answer(self, messages: Sequence[Message]) -> str:
        prompt = next((m["content"] for m in messages if m["role"] == "user"), None)
        if prompt is None or prompt not in self._answers:
            raise ModelError("no reference solution for this prompt")
        return self._answers[prompt]

    def generate(self, messages, params, cancel=None, stats=None) -> Iterator[str]:
        # The arguments' types are the protocol's (Backend.generate).
        answer = self._answer(messages)
        if stats is not None:
            stats.completion_tokens = len(answer.split())
        yield answer

    def generate_batch(self, conversations, params, cancel=None, *, errors="return"):
        out: list[tuple[str, GenStats] | ModelError] = []
        for messages in conversations:
            try:
                answer = self._answer(messages)
            except ModelError as exc:
                out.append(exc)  # run_loops reports a per-item error as that task's model error
                continue
            out.append((answer, GenStats(completion_tokens=len(answer.split()))))
        return out
