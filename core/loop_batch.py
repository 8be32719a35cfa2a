"""``run_loops``: the loop for many prompts at once (evaluation, pair harvesting).

Every step makes one batched generation for all the runs still going (and one for all their
candidates), checking each answer as soon as it ends while the others decode; the steps between are
``loop_driver.Driver``'s, the same as ``loop.run_loop``'s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from .backends.base import Backend, ModelError, continues_answers, generate_each, with_answer_start
from .feedback import first_messages
from .log import Log
from .loop_driver import Driver, LoopState, new_run, params_for, validate_prompt
from .loop_events import EventFn, IterationStarted
from .loop_settings import LoopSettings, default_analyze
from .repair import AnalyzeFn, TestsFn
from .types import Cancelled, GenStats, Iteration, Run


@dataclass
class LoopTask:
    """One prompt for ``run_loops``; ``tests`` (if any) runs the code in the sandbox."""

    prompt: str
    task_id: str | None = None
    tests: TestsFn | None = None
    # The start of the answer, which the model continues where its backend can (HumanEval: the
    # signature and docstring, read as prompt in one pass instead of restated token by token).
    answer_start: str = ""


def run_loops(
    tasks: Sequence[LoopTask],
    backend: Backend,
    settings: LoopSettings | None = None,
    *,
    log: Log | None = None,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    analyze: AnalyzeFn | None = None,
    source: str = "eval",
    adapter: str = "",
    eval_run_id: int | None = None,
    analysis_workers: int = 2,
    on_finished: Callable[[int, Run], None] | None = None,
) -> list[Run]:
    """Run the loop for many prompts at once: one batched generation per step for all of them
    (and one for all their candidates). Returns the runs in task order; each is logged as it
    progresses, like ``run_loop``, and ``on_finished(i, run)`` is called as task i's run ends."""
    # One language for the whole batch (the driver's): "auto" cannot follow each prompt here, so
    # callers with prompts in several languages (the CyberSecEval runner) call once per language.
    settings = settings or LoopSettings()
    settings = replace(settings, language="python") if settings.language == "auto" else settings
    emit = on_event or (lambda event: None)
    cancel = cancel or threading.Event()
    analyze = analyze or default_analyze(settings)
    states: list[LoopState] = []
    for task in tasks:
        run = new_run(validate_prompt(task.prompt), backend, settings, source)
        if log is not None:
            log.start_run(run, adapter=adapter, task_id=task.task_id, eval_run_id=eval_run_id)
        first = first_messages(run.prompt, language=settings.language, prompts_dir=settings.prompts_dir)
        asked = first
        if task.answer_start and continues_answers(backend):
            asked = with_answer_start(first, task.answer_start)
        states.append(LoopState(run, first, task.tests, messages=asked, position=len(states)))
    with ThreadPoolExecutor(max_workers=max(1, analysis_workers)) as pool:
        driver = Driver(backend, settings, log, emit, cancel, analyze, pool, on_finished)
        pending = list(states)
        first_round = True
        while pending:
            _generate_batch(driver, pending)
            pending = driver.after_first(pending) if first_round else driver.after_greedy(pending)
            first_round = False
            pending = driver.after_answer(pending)
    return [state.run for state in states]


def _generate_batch(driver: Driver, states: list[LoopState]) -> None:
    """Every state's greedy answer to its pending request, in one batched generation; each answer
    is checked as soon as it ends, while the others decode. A failure of the whole batch becomes
    each answer's error."""
    settings, emit, cancel = driver.settings, driver.emit, driver.cancel
    index = {id(st): len(st.run.iterations) for st in states}
    for state in states:
        state.answer = None
        emit(IterationStarted(state.run, index[id(state)]))
    started = time.monotonic()
    # Runs of one batch can be at different rounds (a resumed eval); all share the settings of
    # the lowest, so a batch is one generation call.
    params = params_for(settings.gen, min(st.rounds for st in states))

    def arrived(n: int, answer: tuple[str, GenStats] | Exception) -> None:
        state = states[n]
        it = Iteration(index=index[id(state)], prompt=state.messages)
        if isinstance(answer, Exception):  # a backend that reports per-item errors
            it.error = str(answer) or "model_error"
        else:
            it.response, stats = answer
            it.prompt_tokens, it.completion_tokens = stats.prompt_tokens, stats.completion_tokens
        state.answer = it
        driver.start_check(state)

    failure: str | None = None
    try:
        generate_each(driver.backend, [st.messages for st in states], params, cancel, arrived)
    except (Cancelled, KeyboardInterrupt):
        cancel.set()
        failure = "cancelled"
    except ModelError as exc:
        failure = str(exc) or "model_error"
    elapsed = (time.monotonic() - started) / max(1, len(states))
    for state in states:
        if state.answer is None:  # it never ended: the batch failed or was cancelled first
            state.answer = Iteration(
                index=index[id(state)], prompt=state.messages, error=failure or "model_error"
            )
        state.answer.gen_seconds = elapsed
