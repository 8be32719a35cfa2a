"""Test doubles. They live here, never in core/."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from patchloop.core.types import (
    Analysis,
    AnalyzerResult,
    BackendInfo,
    Cancelled,
    Finding,
    GenParams,
    GenStats,
    Message,
    Run,
)

if TYPE_CHECKING:  # the evaluation package is loaded only by the tests that build a report
    from patchloop.core.evaluation.metrics import TaskResult
    from patchloop.core.evaluation.report import EvalReport


class ScriptedBackend:
    """Answers each generate() call with the next scripted response, streamed in small pieces.

    A response that is an Exception instance is raised instead (a model error).
    ``delay`` sleeps between pieces so cancellation and UI responsiveness can be tested.
    """

    def __init__(self, responses: Sequence[str | Exception], delay: float = 0.0, piece: int = 4):
        self.responses = list(responses)
        self.delay = delay
        self.piece = piece
        self.calls: list[list[Message]] = []
        self.params: list[GenParams] = []
        self.info = BackendInfo(backend="scripted", model="scripted-test-model", device="cpu")

    def generate(
        self, messages: Sequence[Message], params: GenParams, cancel=None, stats=None
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.params.append(params)
        response = self.responses[min(len(self.calls), len(self.responses)) - 1]
        if isinstance(response, Exception):
            raise response
        if stats is not None:
            stats.prompt_tokens = sum(len(m["content"].split()) for m in messages)
        for start in range(0, len(response), self.piece):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay)
            if stats is not None:
                stats.completion_tokens += 1
            yield response[start : start + self.piece]

    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        from patchloop.core.backends.base import per_item_params

        out = []
        for messages, item in zip(conversations, per_item_params(params, len(conversations)), strict=True):
            stats = GenStats()
            out.append(("".join(self.generate(messages, item, cancel, stats)), stats))
        return out


def fake_analyze(code: str) -> Analysis:
    """Flags eval (error), an unused `y` (warning) and os.system (error): enough to drive the loop and
    the app deterministically, and instantly."""
    findings = []
    for number, line in enumerate(code.splitlines(), 1):
        if "eval(" in line:
            findings.append(
                Finding("bandit", "B307", "error", "Use of possibly insecure function eval", number)
            )
        if "y = 1" in line:
            findings.append(
                Finding("ruff", "F841", "warning", "Local variable `y` is assigned to but never used", number)
            )
        if "os.system" in line:
            findings.append(Finding("bandit", "B605", "error", "Starting a process with a shell", number))
    return Analysis(findings=findings, results=[AnalyzerResult("fake", findings)])


def a_run(prompt: str = "x", *, t_max: int = 3, threshold: str = "note", **fields) -> Run:
    """A run with the settings a test does not look at unless it names them: model "m", every
    analyzer, up to three patches, every finding counted."""
    return Run(prompt=prompt, model="m", analyzers="all", t_max=t_max, threshold=threshold, **fields)


def eval_report(results: list[TaskResult], *, model: str = "m", eval_run_id: int | None = 1) -> EvalReport:
    """A finished evaluation of ``results`` on cyberseceval: suite "all", one iteration, threshold "note"."""
    from patchloop.core.evaluation.report import EvalReport

    return EvalReport(eval_run_id, "cyberseceval", model, "", "all", 1, "note", results)


def cli_with(*groups):
    """patchloop's command line with ``groups`` added (a copy: the real one is left as it is)."""
    import click

    from patchloop.cli import cli

    root = click.Group(
        name=cli.name,
        commands=dict(cli.commands),
        params=cli.params,
        callback=cli.callback,
        invoke_without_command=True,
    )
    for group in groups:
        root.add_command(group)
    return root
