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

``run_loop`` streams one prompt (the CLI and the app); ``run_loops`` moves many prompts forward
together one iteration at a time through ``Backend.generate_batch`` (evaluation, pair harvesting),
because batched generation is several times faster per token on the same hardware.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from . import times
from .analyzers import analyze_code
from .backends.base import Backend, ModelError, generate_each
from .config import Config
from .extract import extract_code, fence_language
from .feedback import first_messages, rewrite_messages
from .languages import ANALYZED, language_in_prompt
from .log import Log
from .repair import (
    AnalyzeFn,
    TestsFn,
    as_candidate,
    autofix_iteration,
    candidate_params,
    candidate_request,
    check_code,
    choose,
    needs_candidates,
    new_candidate,
    repair_base,
    request_messages,
    stop_reason,
    tried_codes,
)
from .sandbox_limits import DEFAULT_DISK_MB, DEFAULT_MEMORY_MB
from .types import Analysis, Cancelled, Candidate, GenParams, GenStats, Iteration, Message, Run


@dataclass
class LoopSettings:
    t_max: int = 3
    analyzers: str = "all"  # suite name: defects | security | all
    threshold: str = "note"  # only findings at or above it count and reach the model
    skip: tuple[str, ...] = ()
    language: str = "python"  # or "auto": see resolve_language
    analyzer_timeout: float = 60.0
    prompts_dir: str | None = None
    gen: GenParams = field(default_factory=GenParams)
    autofix: bool = True  # deterministic rewrites before each repair request
    feedback: str = "fresh"  # fresh | chat (see core.repair.request_messages)
    candidates: int = 4  # sampled repairs when the greedy one brings nothing new; 0: off
    candidate_min_temperature: float = 0.3
    candidate_max_temperature: float = 1.0
    sandbox_disk_mb: int = DEFAULT_DISK_MB  # caps on one sandboxed test run (core/sandbox_limits.py)
    sandbox_memory_mb: int = DEFAULT_MEMORY_MB


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


LoopEvent = IterationStarted | TokenReceived | AnalysisStarted | CandidatesStarted | IterationFinished | RunFinished
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
        language=config.loop.language, skip=tuple(config.loop.skip), analyzer_timeout=config.loop.analyzer_timeout,
        prompts_dir=config.loop.prompts_dir or None, gen=config.gen_params(), autofix=config.loop.autofix,
        feedback=config.loop.feedback, candidates=config.loop.candidates,
        candidate_min_temperature=config.loop.candidate_min_temperature,
        candidate_max_temperature=config.loop.candidate_max_temperature,
        sandbox_disk_mb=config.loop.sandbox_disk_mb, sandbox_memory_mb=config.loop.sandbox_memory_mb,
    )


def resolve_language(settings: LoopSettings, prompt: str) -> tuple[LoopSettings, bool]:
    """``settings`` with a language to write and analyze in: "auto" becomes the language the prompt
    names ("Write a C function ...", "... in Java"), else Python. The flag is True when the prompt
    named none, so the first answer's code fence tag may still decide it (``fence_switch``)."""
    if settings.language != "auto":
        return settings, False
    named = language_in_prompt(prompt)
    return replace(settings, language=named or "python"), named is None


def fence_switch(settings: LoopSettings, response: str) -> LoopSettings | None:
    """New settings when an answer to a prompt that named no language is fenced as another language
    patchloop analyzes (```java); None when it stays as it is."""
    tag = fence_language(response)
    if tag in ANALYZED and tag != settings.language:
        return replace(settings, language=tag)
    return None


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


def _finish(run: Run, reason: str, log: Log | None, emit: EventFn) -> Run:
    run.stop_reason = reason
    run.finished_at = times.now()
    if log is not None:
        log.finish_run(run)
    emit(RunFinished(run))
    return run




def _params_for(gen: GenParams, round_: int) -> GenParams:
    # A seed makes a sampled run reproducible, but one seed for every request would make a repair
    # request that repeats the last one draw the same answer again: request r samples with seed + r.
    if gen.seed is None or gen.temperature == 0:
        return gen
    return replace(gen, seed=gen.seed + round_)


@dataclass
class _State:
    """One prompt's progress through the loop."""

    run: Run
    first: list[Message]
    tests: TestsFn | None = None
    rounds: int = 0  # repair requests sent to the model so far
    messages: list[Message] = field(default_factory=list)  # the pending request
    answer: Iteration | None = None  # the greedy answer to it, once generated and checked
    base: Iteration | None = None  # the iteration the pending request repairs
    # The answer being streamed sits in run.iterations (live views show it) until it is
    # recorded or dropped (a repeat, or a candidate that won instead).
    streaming: Iteration | None = None
    checking: Future[None] | None = None  # the answer's check, started as soon as it was generated
    position: int = 0  # in run_loops' task list

    def drop_streaming(self) -> None:
        if self.streaming is not None:
            self.run.iterations[:] = [it for it in self.run.iterations if it is not self.streaming]
            self.streaming = None


class _Driver:
    """Moves a set of runs through the loop one step at a time. ``run_loop`` (one prompt,
    streamed) and ``run_loops`` (many, batched) differ only in how the greedy answers are made."""

    def __init__(self, backend: Backend, settings: LoopSettings, log: Log | None, emit: EventFn,
                 cancel: threading.Event, analyze: AnalyzeFn, pool: ThreadPoolExecutor,
                 on_finished: Callable[[int, Run], None] | None = None):
        self.backend, self.settings, self.log, self.emit = backend, settings, log, emit
        self.cancel, self.analyze, self.pool, self.on_finished = cancel, analyze, pool, on_finished

    # -- recording

    def record(self, state: _State, it: Iteration) -> None:
        state.drop_streaming()
        it.index = len(state.run.iterations)
        state.run.iterations.append(it)
        if self.log is not None:
            self.log.add_iteration(state.run.id, it)
        self.emit(IterationFinished(state.run, it))

    def finish(self, state: _State, reason: str) -> None:
        state.drop_streaming()
        _finish(state.run, reason, self.log, self.emit)
        if self.on_finished is not None:
            self.on_finished(state.position, state.run)

    # -- steps

    def check(self, state: _State, it: Iteration) -> None:
        it.analysis_seconds = check_code(it, self.analyze, state.tests, self.settings.language,
                                         self.settings.gen.max_new_tokens)

    def start_check(self, state: _State) -> None:
        """Check ``state.answer`` in the pool now (the batch's other answers may still be decoding)."""
        if not state.answer.error:
            state.checking = self.pool.submit(self.check, state, state.answer)

    def checked(self, states: list[_State]) -> None:
        """Every answer of ``states`` checked: those whose check started as they were generated are
        waited for, the rest (a streamed answer) are checked now."""
        for state in states:
            if state.checking is None:
                self.start_check(state)
        wait([st.checking for st in states if st.checking is not None])
        for state in states:
            future, state.checking = state.checking, None
            if future is not None:
                future.result()  # an exception in a check is a bug: let it surface

    def stop_on_error(self, state: _State, it: Iteration) -> bool:
        """Record a failed answer (model error or cancel) and end its run; False if it did not fail."""
        if not it.error:
            return False
        self.record(state, it)
        if it.error != "cancelled":
            state.run.error = it.error
        self.finish(state, "cancelled" if it.error == "cancelled" else "model_error")
        return True

    def after_first(self, states: list[_State]) -> list[_State]:
        """Check and record the first attempts; return the runs still going."""
        self.checked(states)
        going = []
        for state in states:
            if not self.stop_on_error(state, state.answer):
                self.record(state, state.answer)
                going.append(state)
        return going

    def after_answer(self, states: list[_State]) -> list[_State]:
        """Stop the runs whose last iteration ends them; autofix the rest; those that remain
        flagged and have budget get their next repair request. Returns the runs still going."""
        s = self.settings
        going = []
        for state in states:
            reason = stop_reason(state.run.iterations[-1], s.threshold)
            if reason is None and self.cancel.is_set():
                reason = "cancelled"
            if reason is not None:
                self.finish(state, reason)
            else:
                going.append(state)
        if s.autofix and going:
            fixed = list(self.pool.map(
                lambda st: autofix_iteration(st.run, st.run.iterations[-1], self.analyze, st.tests,
                                             language=s.language, threshold=s.threshold), going))
            still = []
            for state, it in zip(going, fixed, strict=True):
                if it is not None:
                    self.emit(IterationStarted(state.run, len(state.run.iterations)))
                    self.record(state, it)
                    reason = stop_reason(it, s.threshold)
                    if reason is not None:
                        self.finish(state, reason)
                        continue
                still.append(state)
            going = still
        ready = []
        for state in going:
            if state.rounds >= s.t_max:
                self.finish(state, "t_max")
                continue
            state.rounds += 1
            state.base = repair_base(state.run)
            state.messages = request_messages(
                state.run, state.base, state.first, feedback=s.feedback, language=s.language,
                threshold=s.threshold, prompts_dir=s.prompts_dir,
            )
            ready.append(state)
        return ready

    def after_greedy(self, states: list[_State]) -> list[_State]:
        """Check the greedy answers (already in ``state.answer``), sample candidates where they
        bring nothing new, record the chosen iterations; return the runs still going."""
        s = self.settings
        self.checked(states)
        wanting = [st for st in states
                   if needs_candidates(st.run, st.base, st.answer, s.threshold, s.candidates, exclude=st.answer)]
        pools = self.sample_candidates(wanting) if wanting else {}
        going = []
        for state in states:
            answer = state.answer
            if self.stop_on_error(state, answer):  # model_error or cancelled: record what there is
                continue
            index = len([it for it in state.run.iterations if it is not state.streaming])
            if id(state) in pools:
                pool, seconds = pools[id(state)]
                chosen = choose(state.run, state.base, pool, state.messages, threshold=s.threshold, index=index,
                                exclude=answer)
                if chosen is not None:
                    chosen.gen_seconds = answer.gen_seconds + seconds
                    chosen.analysis_seconds = answer.analysis_seconds
            elif answer.code is not None and answer.code in tried_codes(state.run, exclude=answer):
                chosen = None
            else:
                chosen = answer
            if chosen is None:
                if answer.code is None:  # no candidate had code either
                    self.record(state, answer)
                    self.finish(state, "no_code")
                elif s.gen.temperature == 0 or s.candidates > 0:
                    self.finish(state, "repeated")  # every answer was code already tried
                else:
                    state.drop_streaming()  # sampling: not recorded; the next round draws anew
                    going.append(state)
                continue
            self.record(state, chosen)
            going.append(state)
        return going

    def sample_candidates(self, states: list[_State]) -> dict[int, tuple[list[Candidate], float]]:
        """One batched generation of N candidates for every run in ``states``; returns id(state) ->
        (the pool: the greedy answer as candidate 0, then the sampled ones, checked; the seconds
        of generation per run)."""
        s = self.settings
        index = {id(st): len(st.run.iterations) for st in states}
        params = {id(st): candidate_params(s.gen, s.candidates, st.rounds, s.candidate_min_temperature,
                                           s.candidate_max_temperature) for st in states}
        for state in states:
            self.emit(CandidatesStarted(state.run, index[id(state)], s.candidates))
        conversations, item_params, owners = [], [], []
        for state in states:
            rewrite = rewrite_messages(state.run.prompt, state.base.findings, threshold=s.threshold,
                                       language=s.language, prompts_dir=s.prompts_dir)
            for k, p in enumerate(params[id(state)], 1):
                conversations.append(rewrite if candidate_request(k) == "rewrite" else state.messages)
                item_params.append(p)
                owners.append((state, k))
        pools = {
            id(st): [as_candidate(st.answer, 0, s.candidates, _params_for(s.gen, st.rounds))] for st in states
        }
        checks: dict[int, tuple[Candidate, Future[float]]] = {}

        def arrived(n: int, answer: tuple[str, GenStats] | Exception) -> None:
            if isinstance(answer, Exception):
                return  # a failed candidate is no candidate; the greedy answer still stands
            (state, k), (text, stats) = owners[n], answer
            candidate = new_candidate(text, stats, k, s.candidates, params[id(state)][k - 1], candidate_request(k))
            checks[n] = candidate, self.pool.submit(check_code, candidate, self.analyze, state.tests, s.language,
                                                    s.gen.max_new_tokens)

        started = time.monotonic()
        try:
            generate_each(self.backend, conversations, item_params, self.cancel, arrived)
        except (Cancelled, KeyboardInterrupt):
            self.cancel.set()
        except ModelError:
            pass  # every candidate failed: the greedy answers stand
        seconds = (time.monotonic() - started) / max(1, len(states))
        wait([future for _, future in checks.values()])
        for n in sorted(checks):  # in request order, whatever order they ended in
            candidate, future = checks[n]
            future.result()
            pools[id(owners[n][0])].append(candidate)
        return {key: (pool, seconds) for key, pool in pools.items()}


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
    state = _State(run, first, tests, messages=first)
    with ThreadPoolExecutor(max_workers=2) as pool:
        driver = _Driver(backend, settings, log, emit, cancel, analyze, pool)
        while True:
            index = len(run.iterations)
            state.answer = _stream(backend, state, index, settings, emit, cancel)
            switched = fence_switch(settings, state.answer.response) if by_fence and index == 0 else None
            if switched is not None:  # the prompt named no language; the answer's fence does
                settings = driver.settings = switched
                driver.analyze = default_analyze(settings) if own_analyze else driver.analyze
                run.language = settings.language
                if log is not None:
                    log.set_language(run.id, run.language)
            if not state.answer.error:
                emit(AnalysisStarted(run, index, extract_code(state.answer.response, settings.language) or ""))
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


def _stream(backend: Backend, state: _State, index: int, settings: LoopSettings, emit: EventFn,
            cancel: threading.Event) -> Iteration:
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
        for piece in backend.generate(state.messages, _params_for(settings.gen, state.rounds), cancel, stats):
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
    states: list[_State] = []
    for task in tasks:
        run = new_run(validate_prompt(task.prompt), backend, settings, source)
        if log is not None:
            log.start_run(run, adapter=adapter, task_id=task.task_id, eval_run_id=eval_run_id)
        first = first_messages(run.prompt, language=settings.language, prompts_dir=settings.prompts_dir)
        states.append(_State(run, first, task.tests, messages=first, position=len(states)))
    with ThreadPoolExecutor(max_workers=max(1, analysis_workers)) as pool:
        driver = _Driver(backend, settings, log, emit, cancel, analyze, pool, on_finished)
        pending = list(states)
        first_round = True
        while pending:
            _generate_batch(driver, pending)
            pending = driver.after_first(pending) if first_round else driver.after_greedy(pending)
            first_round = False
            pending = driver.after_answer(pending)
    return [state.run for state in states]


def _generate_batch(driver: _Driver, states: list[_State]) -> None:
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
    params = _params_for(settings.gen, min(st.rounds for st in states))

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
            state.answer = Iteration(index=index[id(state)], prompt=state.messages, error=failure or "model_error")
        state.answer.gen_seconds = elapsed
