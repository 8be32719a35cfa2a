"""The generate -> analyze -> patch loop.

Iterations run from v0 (the first attempt) to v{t_max}. A run stops with one of the reasons in
``types.STOP_REASONS``: ``clean`` (no finding at or above the threshold), ``t_max``, ``repeated``
(at greedy decoding the model answered a patch request word for word as before: the next request
would be the same as the last one, and so would every answer after it), ``no_code``
(the model answered without a code block), ``model_error``, ``analyzer_error`` (an analyzer
crashed, timed out or is missing: never treated as clean) or ``cancelled``.

``run_loop`` streams one prompt (the CLI and the app); ``run_loops`` moves many prompts forward
together one iteration at a time through ``Backend.generate_batch`` (evaluation, pair harvesting),
because batched generation is several times faster per token on the same hardware.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from .analyzers import analyze_code
from .backends.base import Backend, ModelError
from .config import Config
from .extract import extract_code
from .feedback import first_messages, patch_messages, render_feedback
from .log import Log
from .types import Analysis, Cancelled, GenParams, GenStats, Iteration, Message, Run

AnalyzeFn = Callable[[str], Analysis]
TestsFn = Callable[[str], bool]


@dataclass
class LoopSettings:
    t_max: int = 3
    analyzers: str = "all"  # suite name: defects | security | all
    threshold: str = "note"  # only findings at or above it count and reach the model
    skip: tuple[str, ...] = ()
    language: str = "python"
    analyzer_timeout: float = 60.0
    prompts_dir: str | None = None
    gen: GenParams = field(default_factory=GenParams)


# -- events, for live views (the app) -----------------------------------------------------------


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
class IterationFinished:
    run: Run
    iteration: Iteration


@dataclass
class RunFinished:
    run: Run


LoopEvent = IterationStarted | TokenReceived | AnalysisStarted | IterationFinished | RunFinished
EventFn = Callable[[LoopEvent], None]


@dataclass
class LoopTask:
    """One prompt for ``run_loops``; ``tests`` (if any) runs the code in the sandbox."""

    prompt: str
    task_id: str | None = None
    tests: TestsFn | None = None


def settings_from_config(config: Config) -> LoopSettings:
    """The loop settings a config (file + CLI overrides) asks for."""
    return LoopSettings(
        t_max=config.loop.t_max, analyzers=config.loop.analyzers, threshold=config.loop.threshold,
        skip=tuple(config.loop.skip), analyzer_timeout=config.loop.analyzer_timeout,
        prompts_dir=config.loop.prompts_dir or None, gen=config.gen_params(),
    )


def default_analyze(settings: LoopSettings) -> AnalyzeFn:
    def analyze(code: str) -> Analysis:
        return analyze_code(
            code, settings.analyzers, language=settings.language, skip=settings.skip,
            timeout=settings.analyzer_timeout,
        )

    return analyze


def new_run(prompt: str, backend: Backend, settings: LoopSettings, source: str) -> Run:
    info = backend.info
    return Run(
        prompt=prompt, model=info.model, analyzers=settings.analyzers, t_max=settings.t_max,
        threshold=settings.threshold, language=settings.language, backend=info.backend,
        server=info.server, source=source,
    )


def validate_prompt(prompt: str, max_chars: int = 100_000) -> str:
    """Reject prompts the model cannot sensibly answer, before anything is logged."""
    text = prompt.strip()
    if not text:
        raise ValueError("the prompt is empty: say what code you want")
    if len(text) > max_chars:
        raise ValueError(f"the prompt is {len(text):,} characters; the limit is {max_chars:,}")
    return text


def _complete_iteration(
    run: Run,
    it: Iteration,
    settings: LoopSettings,
    analyze: AnalyzeFn,
    tests: TestsFn | None,
) -> str | None:
    """Extract, analyze and test one answer; return the stop reason, or None to go on patching."""
    it.code = extract_code(it.response, settings.language)
    if it.code is None:
        return "no_code"
    started = time.monotonic()
    analysis = analyze(it.code)
    it.analysis_seconds = time.monotonic() - started
    it.findings = analysis.findings
    it.analyzer_errors = analysis.errors
    if tests is not None:
        try:
            it.tests_passed = bool(tests(it.code))
        except Exception:  # noqa: BLE001 - a sandbox failure is a failed test, never a crashed run
            it.tests_passed = False
    if it.analyzer_errors:
        return "analyzer_error"
    if it.is_clean(settings.threshold):
        return "clean"
    if it.index >= settings.t_max:
        return "t_max"
    if settings.gen.temperature == 0 and it.index > 0 and it.response == run.iterations[it.index - 1].response:
        return "repeated"
    return None


def _next_messages(first: list[Message], it: Iteration, settings: LoopSettings) -> list[Message]:
    # Each patch request carries the original request, the last answer and its findings; the
    # history is not replayed in full, so the prompt stays bounded however many rounds run.
    feedback = render_feedback(
        it.code or "", it.findings, threshold=settings.threshold, language=settings.language,
        prompts_dir=settings.prompts_dir,
    )
    return patch_messages(first, it.response, feedback)


def _params_for(gen: GenParams, index: int) -> GenParams:
    # A seed makes a sampled run reproducible, but one seed for every iteration would make a patch
    # request that repeats the last one draw the same answer again: iteration i samples with seed + i.
    if gen.seed is None or gen.temperature == 0:
        return gen
    return replace(gen, seed=gen.seed + index)


def _finish(run: Run, reason: str, log: Log | None, emit: EventFn) -> Run:
    run.stop_reason = reason
    run.finished_at = time.time()
    if log is not None:
        log.finish_run(run)
    emit(RunFinished(run))
    return run


def run_loop(
    prompt: str,
    backend: Backend,
    settings: LoopSettings | None = None,
    *,
    log: Log | None = None,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    analyze: AnalyzeFn | None = None,
    tests: TestsFn | None = None,
    source: str = "cli",
    adapter: str = "",
) -> Run:
    """Run the loop for one prompt, streaming tokens to ``on_event``; Ctrl-C ends it as ``cancelled``."""
    settings = settings or LoopSettings()
    prompt = validate_prompt(prompt)
    emit = on_event or (lambda event: None)
    cancel = cancel or threading.Event()
    analyze = analyze or default_analyze(settings)
    run = new_run(prompt, backend, settings, source)
    if log is not None:
        log.start_run(run, adapter=adapter)
    first = first_messages(prompt, language=settings.language, prompts_dir=settings.prompts_dir)
    messages = first
    for index in range(settings.t_max + 1):
        it = Iteration(index=index, prompt=messages)
        run.iterations.append(it)
        emit(IterationStarted(run, index))
        stats = GenStats()
        started = time.monotonic()
        reason: str | None = None
        try:
            pieces: list[str] = []
            for piece in backend.generate(messages, _params_for(settings.gen, index), cancel, stats):
                pieces.append(piece)
                emit(TokenReceived(run, index, piece, "".join(pieces)))
            it.response = "".join(pieces)
        except (Cancelled, KeyboardInterrupt):
            cancel.set()
            it.response, it.error, reason = "".join(pieces), "cancelled", "cancelled"
        except ModelError as exc:
            it.error, run.error, reason = str(exc), str(exc), "model_error"
        it.gen_seconds = time.monotonic() - started
        it.prompt_tokens, it.completion_tokens = stats.prompt_tokens, stats.completion_tokens
        if reason is None:
            emit(AnalysisStarted(run, index, extract_code(it.response, settings.language) or ""))
            try:
                reason = _complete_iteration(run, it, settings, analyze, tests)
            except KeyboardInterrupt:
                cancel.set()
                it.error, reason = "cancelled", "cancelled"
        if log is not None:
            log.add_iteration(run.id, it)
        emit(IterationFinished(run, it))
        if reason is None and cancel.is_set():
            reason = "cancelled"
        if reason is not None:
            return _finish(run, reason, log, emit)
        messages = _next_messages(first, it, settings)
    raise AssertionError("unreachable: the last iteration always stops the run")


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
) -> list[Run]:
    """Run the loop for many prompts at once, one batched generation per iteration level.

    Returns the runs in task order. Every run is logged as it progresses, like ``run_loop``.
    """
    settings = settings or LoopSettings()
    emit = on_event or (lambda event: None)
    cancel = cancel or threading.Event()
    analyze = analyze or default_analyze(settings)
    runs: list[Run] = []
    firsts: list[list[Message]] = []
    for task in tasks:
        run = new_run(validate_prompt(task.prompt), backend, settings, source)
        if log is not None:
            log.start_run(run, adapter=adapter, task_id=task.task_id, eval_run_id=eval_run_id)
        runs.append(run)
        firsts.append(first_messages(run.prompt, language=settings.language, prompts_dir=settings.prompts_dir))
    pending = {i: firsts[i] for i in range(len(tasks))}  # task index -> messages for the next iteration
    with ThreadPoolExecutor(max_workers=max(1, analysis_workers)) as pool:
        for index in range(settings.t_max + 1):
            if not pending:
                break
            order = list(pending)
            for i in order:
                emit(IterationStarted(runs[i], index))
            started = time.monotonic()
            try:
                answers = backend.generate_batch([pending[i] for i in order], _params_for(settings.gen, index), cancel,
                                                 errors="return")
                failure: BaseException | None = None
            except (Cancelled, KeyboardInterrupt) as exc:
                cancel.set()
                answers, failure = [], exc
            except ModelError as exc:
                answers, failure = [], exc
            elapsed = (time.monotonic() - started) / max(1, len(order))
            if failure is not None:
                reason = "cancelled" if not isinstance(failure, ModelError) else "model_error"
                for i in order:
                    it = Iteration(index=index, prompt=pending[i], error=str(failure) or reason)
                    runs[i].iterations.append(it)
                    if reason == "model_error":
                        runs[i].error = str(failure)
                    if log is not None:
                        log.add_iteration(runs[i].id, it)
                    _finish(runs[i], reason, log, emit)
                pending.clear()
                break

            def step(i: int, answer, index: int = index, elapsed: float = elapsed) -> tuple[int, Iteration, str | None]:
                it = Iteration(index=index, prompt=pending[i], gen_seconds=elapsed)
                if isinstance(answer, Exception):  # a backend that reports per-item errors
                    it.error = str(answer)
                    runs[i].error = str(answer)
                    return i, it, "model_error"
                it.response, stats = answer
                it.prompt_tokens, it.completion_tokens = stats.prompt_tokens, stats.completion_tokens
                return i, it, _complete_iteration(runs[i], it, settings, analyze, tasks[i].tests)

            results = list(pool.map(lambda pair: step(*pair), zip(order, answers)))
            for i, it, reason in results:
                runs[i].iterations.append(it)
                if log is not None:
                    log.add_iteration(runs[i].id, it)
                emit(IterationFinished(runs[i], it))
                if reason is None and cancel.is_set():
                    reason = "cancelled"
                if reason is not None:
                    _finish(runs[i], reason, log, emit)
                    del pending[i]
                else:
                    pending[i] = _next_messages(firsts[i], it, settings)
    return runs
