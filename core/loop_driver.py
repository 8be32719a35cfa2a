"""The steps both loops share: a run's start, its progress, and the ``Driver`` that moves runs forward.

``loop.run_loop`` (one prompt, streamed) and ``loop_batch.run_loops`` (many prompts, batched) differ
only in how the greedy answers are made; checking, recording, autofix, the repair request, sampling
and ranking candidates, and stopping are the ``Driver``'s, the same for both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from . import times
from .backends.base import Backend, ModelError, generate_each
from .feedback import rewrite_messages
from .log import Log
from .loop_events import CandidatesStarted, EventFn, IterationFinished, IterationStarted, RunFinished
from .loop_settings import LoopSettings
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
from .types import Cancelled, Candidate, GenParams, GenStats, Iteration, Message, Run, StopReason


def new_run(prompt: str, backend: Backend, settings: LoopSettings, source: str) -> Run:
    info = backend.info
    return Run(
        prompt=prompt,
        model=info.model,
        analyzers=settings.analyzers,
        t_max=settings.t_max,
        threshold=settings.threshold,
        language=settings.language,
        backend=info.backend,
        server=info.server,
        source=source,
    )


def validate_prompt(prompt: str, max_chars: int = 100_000) -> str:
    """Reject prompts the model cannot sensibly answer, before anything is logged."""
    text = prompt.strip()
    if not text:
        raise ValueError("the prompt is empty: say what code you want")
    if len(text) > max_chars:
        raise ValueError(f"the prompt is {len(text):,} characters; the limit is {max_chars:,}")
    return text


def _finish(run: Run, reason: StopReason, log: Log | None, emit: EventFn) -> Run:
    run.stop_reason = reason
    run.finished_at = times.now()
    if log is not None:
        log.finish_run(run)
    emit(RunFinished(run))
    return run


def params_for(gen: GenParams, round_: int) -> GenParams:
    # A seed makes a sampled run reproducible, but one seed for every request would make a repair
    # request that repeats the last one draw the same answer again: request r samples with seed + r.
    if gen.seed is None or gen.temperature == 0:
        return gen
    return replace(gen, seed=gen.seed + round_)


@dataclass
class LoopState:
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

    def generated(self) -> Iteration:
        """``answer``, for the steps that come after it was generated."""
        assert self.answer is not None, "the step runs after the answer was generated"
        return self.answer

    def repaired(self) -> Iteration:
        """``base``, for the steps of a repair round (which always has one)."""
        assert self.base is not None, "a repair round has the iteration it repairs"
        return self.base

    def drop_streaming(self) -> None:
        if self.streaming is not None:
            self.run.iterations[:] = [it for it in self.run.iterations if it is not self.streaming]
            self.streaming = None


class Driver:
    """Moves a set of runs through the loop one step at a time. ``run_loop`` (one prompt,
    streamed) and ``run_loops`` (many, batched) differ only in how the greedy answers are made."""

    def __init__(
        self,
        backend: Backend,
        settings: LoopSettings,
        log: Log | None,
        emit: EventFn,
        cancel: threading.Event,
        analyze: AnalyzeFn,
        pool: ThreadPoolExecutor,
        on_finished: Callable[[int, Run], None] | None = None,
    ):
        self.backend, self.settings, self.log, self.emit = backend, settings, log, emit
        self.cancel, self.analyze, self.pool, self.on_finished = cancel, analyze, pool, on_finished

    # -- recording

    def record(self, state: LoopState, it: Iteration) -> None:
        state.drop_streaming()
        it.index = len(state.run.iterations)
        state.run.iterations.append(it)
        if self.log is not None:
            assert state.run.id is not None, "the log gave the run its id when it started"
            self.log.add_iteration(state.run.id, it)
        self.emit(IterationFinished(state.run, it))

    def finish(self, state: LoopState, reason: StopReason) -> None:
        state.drop_streaming()
        _finish(state.run, reason, self.log, self.emit)
        if self.on_finished is not None:
            self.on_finished(state.position, state.run)

    # -- steps

    def check(self, state: LoopState, it: Iteration) -> None:
        it.analysis_seconds = check_code(
            it, self.analyze, state.tests, self.settings.language, self.settings.gen.max_new_tokens
        )

    def start_check(self, state: LoopState) -> None:
        """Check ``state.answer`` in the pool now (the batch's other answers may still be decoding)."""
        answer = state.generated()
        if not answer.error:
            state.checking = self.pool.submit(self.check, state, answer)

    def checked(self, states: list[LoopState]) -> None:
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

    def stop_on_error(self, state: LoopState, it: Iteration) -> bool:
        """Record a failed answer (model error or cancel) and end its run; False if it did not fail."""
        if not it.error:
            return False
        self.record(state, it)
        if it.error != "cancelled":
            state.run.error = it.error
        self.finish(state, "cancelled" if it.error == "cancelled" else "model_error")
        return True

    def after_first(self, states: list[LoopState]) -> list[LoopState]:
        """Check and record the first attempts; return the runs still going."""
        self.checked(states)
        going = []
        for state in states:
            if not self.stop_on_error(state, state.generated()):
                self.record(state, state.generated())
                going.append(state)
        return going

    def after_answer(self, states: list[LoopState]) -> list[LoopState]:
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
            fixed = list(
                self.pool.map(
                    lambda st: autofix_iteration(
                        st.run,
                        st.run.iterations[-1],
                        self.analyze,
                        st.tests,
                        language=s.language,
                        threshold=s.threshold,
                    ),
                    going,
                )
            )
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
                state.run,
                state.base,
                state.first,
                feedback=s.feedback,
                language=s.language,
                threshold=s.threshold,
                prompts_dir=s.prompts_dir,
            )
            ready.append(state)
        return ready

    def after_greedy(self, states: list[LoopState]) -> list[LoopState]:
        """Check the greedy answers (already in ``state.answer``), sample candidates where they
        bring nothing new, record the chosen iterations; return the runs still going."""
        s = self.settings
        self.checked(states)
        wanting = [
            st
            for st in states
            if needs_candidates(
                st.run, st.repaired(), st.generated(), s.threshold, s.candidates, exclude=st.answer
            )
        ]
        pools = self.sample_candidates(wanting) if wanting else {}
        going = []
        for state in states:
            answer = state.generated()
            if self.stop_on_error(state, answer):  # model_error or cancelled: record what there is
                continue
            index = len([it for it in state.run.iterations if it is not state.streaming])
            if id(state) in pools:
                pool, seconds = pools[id(state)]
                chosen = choose(
                    state.run,
                    state.repaired(),
                    pool,
                    state.messages,
                    threshold=s.threshold,
                    index=index,
                    exclude=answer,
                )
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

    def sample_candidates(self, states: list[LoopState]) -> dict[int, tuple[list[Candidate], float]]:
        """One batched generation of N candidates for every run in ``states``; returns id(state) ->
        (the pool: the greedy answer as candidate 0, then the sampled ones, checked; the seconds
        of generation per run)."""
        s = self.settings
        index = {id(st): len(st.run.iterations) for st in states}
        params = {
            id(st): candidate_params(
                s.gen, s.candidates, st.rounds, s.candidate_min_temperature, s.candidate_max_temperature
            )
            for st in states
        }
        for state in states:
            self.emit(CandidatesStarted(state.run, index[id(state)], s.candidates))
        conversations, item_params, owners = [], [], []
        for state in states:
            rewrite = rewrite_messages(
                state.run.prompt,
                state.repaired().findings,
                threshold=s.threshold,
                language=s.language,
                prompts_dir=s.prompts_dir,
            )
            for k, p in enumerate(params[id(state)], 1):
                conversations.append(rewrite if candidate_request(k) == "rewrite" else state.messages)
                item_params.append(p)
                owners.append((state, k))
        pools = {
            id(st): [as_candidate(st.generated(), 0, s.candidates, params_for(s.gen, st.rounds))]
            for st in states
        }
        checks: dict[int, tuple[Candidate, Future[float]]] = {}

        def arrived(n: int, answer: tuple[str, GenStats] | Exception) -> None:
            if isinstance(answer, Exception):
                return  # a failed candidate is no candidate; the greedy answer still stands
            (state, k), (text, stats) = owners[n], answer
            candidate = new_candidate(
                text, stats, k, s.candidates, params[id(state)][k - 1], candidate_request(k)
            )
            checks[n] = (
                candidate,
                self.pool.submit(
                    check_code, candidate, self.analyze, state.tests, s.language, s.gen.max_new_tokens
                ),
            )

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
