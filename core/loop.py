"""The generate -> analyze -> repair loop.

v0 is the model's first attempt. While the best code so far is flagged, each repair step runs
cheapest first (``core.repair``): deterministic rewrites (an ``autofix`` iteration, no model call),
then a repair request to the model; when its greedy answer repeats code already tried or does not
lower the findings, N candidates are sampled in one batch and the best becomes the iteration.
``t_max`` bounds the repair requests to the model; autofix iterations come on top. A byte-for-byte
repeat is never recorded as a new iteration.

A run stops with one of the reasons in ``types.STOP_REASONS``: ``clean`` (no finding at or above
the threshold), ``t_max``, ``repeated`` (every answer to a repair request was code already tried),
``no_code`` (the model answered without a code block), ``model_error``, ``analyzer_error`` (an
analyzer crashed, timed out or is missing: never treated as clean) or ``cancelled``.

``run_loop`` (here) streams one prompt (the CLI and the app); ``loop_batch.run_loops`` moves many
prompts forward together one iteration at a time through ``Backend.generate_batch`` (evaluation, pair
harvesting), because batched generation is several times faster per token on the same hardware. Both
drive the same steps (``loop_driver.Driver``); the settings are ``loop_settings``'s, the events for
live views ``loop_events``'s.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .backends.base import Backend, ModelError
from .extract import extract_code
from .feedback import first_messages
from .log import Log
from .loop_driver import Driver, LoopState, new_run, params_for, validate_prompt
from .loop_events import AnalysisStarted, EventFn, IterationStarted, TokenReceived
from .loop_settings import LoopSettings, default_analyze, fence_switch, resolve_language
from .repair import AnalyzeFn, TestsFn
from .types import Cancelled, GenStats, Iteration, Run


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
    prompt = validate_prompt(prompt)
    settings, by_fence = resolve_language(settings or LoopSettings(), prompt)
    emit = on_event or (lambda event: None)
    cancel = cancel or threading.Event()
    own_analyze = analyze is None
    analyze = analyze or default_analyze(settings)
    run = new_run(prompt, backend, settings, source)
    if log is not None:
        log.start_run(run, adapter=adapter)
    first = first_messages(prompt, language=settings.language, prompts_dir=settings.prompts_dir)
    state = LoopState(run, first, tests, messages=first)
    with ThreadPoolExecutor(max_workers=2) as pool:
        driver = Driver(backend, settings, log, emit, cancel, analyze, pool)
        while True:
            index = len(run.iterations)
            state.answer = _stream(backend, state, index, settings, emit, cancel)
            switched = fence_switch(settings, state.answer.response) if by_fence and index == 0 else None
            if switched is not None:  # the prompt named no language; the answer's fence does
                settings = driver.settings = switched
                driver.analyze = default_analyze(settings) if own_analyze else driver.analyze
                run.language = settings.language
                if log is not None:
                    assert run.id is not None, "the log gave the run its id when it started"
                    log.set_language(run.id, run.language)
            if not state.answer.error:
                emit(
                    AnalysisStarted(run, index, extract_code(state.answer.response, settings.language) or "")
                )
            try:
                going = driver.after_first([state]) if index == 0 else driver.after_greedy([state])
                going = driver.after_answer(going) if going else going
            except KeyboardInterrupt:
                cancel.set()
                if state.streaming is not None:  # interrupted while checking it: keep what was generated
                    state.answer.error = "cancelled"
                    driver.record(state, state.answer)
                driver.finish(state, "cancelled")
                return run
            if not going:
                return run


def _stream(
    backend: Backend,
    state: LoopState,
    index: int,
    settings: LoopSettings,
    emit: EventFn,
    cancel: threading.Event,
) -> Iteration:
    """The model's greedy (or configured) answer to ``state.messages``, streamed to ``emit``."""
    run = state.run
    it = Iteration(index=index, prompt=state.messages)
    run.iterations.append(it)
    state.streaming = it
    emit(IterationStarted(run, index))
    stats = GenStats()
    started = time.monotonic()
    pieces: list[str] = []
    try:
        for piece in backend.generate(state.messages, params_for(settings.gen, state.rounds), cancel, stats):
            pieces.append(piece)
            emit(TokenReceived(run, index, piece, "".join(pieces)))
        it.response = "".join(pieces)
    except (Cancelled, KeyboardInterrupt):
        cancel.set()
        it.response, it.error = "".join(pieces), "cancelled"
    except ModelError as exc:
        it.error = str(exc)
    it.gen_seconds = time.monotonic() - started
    it.prompt_tokens, it.completion_tokens = stats.prompt_tokens, stats.completion_tokens
    return it
