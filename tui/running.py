"""One run in the app: sending a prompt, the loop in a thread worker, its events drawn on the main
screen (tokens in batches, on a ticker), cancelling, and the live analysis of the code as it streams.

A mixin of ``PatchloopApp`` (it runs as the app: ``self`` is the App). Worker threads never touch
widgets: they post messages, and the handlers here update the session and ask the main screen to
redraw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from patchloop.core.config import Config
from patchloop.core.extract import partial_code
from patchloop.core.log import Log, LogError
from patchloop.core.loop import run_loop
from patchloop.core.loop_driver import validate_prompt
from patchloop.core.loop_events import (
    AnalysisStarted,
    CandidatesStarted,
    IterationFinished,
    IterationStarted,
    RunFinished,
    TokenReceived,
)
from patchloop.core.loop_settings import settings_from_config
from patchloop.core.types import Analysis
from textual.timer import Timer
from textual.worker import Worker, get_current_worker

from .format import rate_text
from .heap import freeze_heap
from .host import AppMixin
from .messages import LiveAnalysisDone, LoopEventMessage, RunCrashed
from .screens.main import MainScreen
from .session import Session
from .widgets.code_view import CodeView

AnalyzeFn = Callable[[str], Analysis]

LIVE_INTERVAL = 0.5  # seconds between live analyses of the streaming code (one at a time)
PARTIAL_CODE_RULES = frozenset({"invalid-syntax", "syntax-error", "E999"})
TICK = 0.1  # UI refresh period while a run streams: tokens are drawn in batches, not one by one


class RunControl(AppMixin):
    # Set by the app's __init__ and on_mount.
    config: Config
    backend: Any | None
    log_store: Log | None
    analyze: AnalyzeFn | None  # the loop's full analysis (None: the configured suite)
    live_analyze: AnalyzeFn  # the streaming preview
    clock: Callable[[], float]
    session: Session
    main: MainScreen
    model_state: str
    model_error: str
    queued_prompt: str | None
    _ticker: Timer
    _run_worker: Worker | None
    _run_finished: threading.Event | None  # set when the loop has returned (logged its stop reason)
    _reload_after_run: bool  # the model changed mid-run: load the new one when the run ends
    _live_busy: bool
    _live_code: str  # code last sent to live analysis
    _live_started: float

    # -- sending and running ----------------------------------------------------------------------

    def submit(self, text: str) -> None:
        """The prompt editor's send key."""
        try:
            prompt = validate_prompt(text)
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        if self.session.live:
            self.notify("A run is in progress: wait for it, or press Esc to cancel it.", severity="warning")
            return
        if self.model_state == "loading":
            self.queued_prompt = prompt
            self.notify(
                "The model is still loading; your prompt will run as soon as it is ready.",
                title="Model loading",
                timeout=6,
            )
            self.refresh_status()
            return
        if self.model_state == "failed" or self.backend is None:
            self.notify(
                f"No model: {self.model_error or 'not loaded'}. Pick a model in the settings (ctrl+o).",
                severity="error",
            )
            return
        self.start_run(prompt)

    def start_run(self, prompt: str) -> None:
        freeze_heap()
        self.session = Session(
            token=self.session.token + 1,
            live=True,
            labels={},
            run_started=self.clock(),
            iteration_started=self.clock(),
        )
        self.main.view, self.main.follow, self.main.mark = None, True, None
        settings = settings_from_config(self.config)
        backend, log, analyze, token = self.backend, self.log_store, self.analyze, self.session.token
        assert backend is not None, "a run starts only with the model loaded (submit, on_model_loaded)"
        adapter = self.config.model.adapter
        finished = threading.Event()

        def work() -> None:
            # The worker's own cancel event is the loop's: Esc, quitting, and Textual cancelling its
            # workers on any shutdown (a signal included) all stop the run between two tokens, and the
            # loop still logs the cut iteration and the stop reason.
            cancel = get_current_worker().cancelled_event

            def emit(event) -> None:
                self.post_message(LoopEventMessage(event, token))

            try:
                run_loop(
                    prompt,
                    backend,
                    settings,
                    log=log,
                    on_event=emit,
                    cancel=cancel,
                    analyze=analyze,
                    source="tui",
                    adapter=adapter,
                )
            except LogError as exc:
                self.post_message(RunCrashed(f"log: {exc}", token))
            except Exception as exc:  # noqa: BLE001 - any failure ends the run, never the app
                self.post_message(RunCrashed(f"{type(exc).__name__}: {exc}", token))
            finally:
                finished.set()

        self._live_busy, self._live_code = False, ""
        self._run_worker = self.run_worker(work, name="run", group="run", thread=True, exit_on_error=False)
        self._run_finished = finished
        self.session.cancel = self._run_worker.cancelled_event
        self._ticker.resume()
        self.refresh_placeholder()
        self.main.query_one(CodeView).focus()
        self.refresh_status()
        self.main.redraw()

    def cancel_run(self) -> None:
        if (
            self.session.live
            and self._run_worker is not None
            and not self._run_worker.cancelled_event.is_set()
        ):
            self._run_worker.cancel()
            self.refresh_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "interrupt":
            return self.session.live
        return super().check_action(action, parameters)

    def action_interrupt(self) -> None:
        self.cancel_run()

    def on_loop_event_message(self, message: LoopEventMessage) -> None:
        session = self.session
        if message.token != session.token:
            return
        event = message.event
        if isinstance(event, TokenReceived):
            # Drawn by the ticker in batches, so a fast model never floods the UI thread.
            session.stream, session.tokens, session.stream_dirty = event.so_far, session.tokens + 1, True
            return
        session.run = event.run
        if isinstance(event, IterationStarted):
            self._flush_stream()
            session.streaming_index, session.stream, session.tokens = event.index, "", 0
            session.phase, session.iteration_started = "generating", self.clock()
            if self.main.follow or self.main.view is None:
                self.main.view = event.index
            self.main.redraw()
        elif isinstance(event, AnalysisStarted):
            self._flush_stream()
            session.phase = "analyzing"
            self._update_rate()
            self.main.show_stream()
        elif isinstance(event, CandidatesStarted):
            session.phase = f"sampling {event.count} candidate repairs"
            self.main.show_view()
        elif isinstance(event, IterationFinished):
            session.finished.add(event.iteration.index)
            session.live_findings.pop(event.iteration.index, None)
            session.phase = ""
            self._update_rate(event.iteration.completion_tokens)
            self.main.redraw()
        elif isinstance(event, RunFinished):
            self._end_run()
            self.main.redraw()
        self.refresh_status()

    def on_run_crashed(self, message: RunCrashed) -> None:
        if message.token != self.session.token:
            return
        self.session.error = message.error
        self._end_run()
        self.main.redraw()
        self.refresh_status()
        self.notify(
            f"{message.error}\nFinished iterations are in the log.",
            title="The run stopped",
            severity="error",
            timeout=15,
        )

    def _end_run(self) -> None:
        session = self.session
        self._flush_stream()
        session.live, session.phase, session.streaming_index = False, "", None
        session.run_elapsed = self.clock() - session.run_started
        self._ticker.pause()
        if self._reload_after_run:
            self._reload_after_run = False
            self.load_model(self.config.model.name)

    def _update_rate(self, tokens: int | None = None) -> None:
        session = self.session
        count = tokens if tokens else session.tokens
        session.rate = rate_text(count, self.clock() - session.iteration_started)

    def _flush_stream(self) -> None:
        session = self.session
        if session.stream_dirty and session.run is not None:
            session.stream_dirty = False
            self.main.show_stream()

    def _tick(self) -> None:
        session = self.session
        if not session.live:
            return
        self._flush_stream()
        if session.phase == "generating":
            self._update_rate()
            self._maybe_live_analyze()
        self.refresh_status()

    # -- live analysis ----------------------------------------------------------------------------

    def _maybe_live_analyze(self) -> None:
        """Re-analyze the streamed code with the fast suite: one analysis at a time, at most every
        LIVE_INTERVAL seconds, only complete lines (a half-written line is always a syntax error)."""
        session = self.session
        if self._live_busy or session.streaming_index is None:
            return
        code = partial_code(session.stream) or ""
        code = code[: code.rfind("\n") + 1]
        if not code.strip() or code == self._live_code:
            return
        now = time.monotonic()
        if now - self._live_started < LIVE_INTERVAL:
            return
        self._live_busy, self._live_code, self._live_started = True, code, now
        token, index, analyze = session.token, session.streaming_index, self.live_analyze

        def work() -> None:
            try:
                self.post_message(LiveAnalysisDone(token, index, code, analysis=analyze(code)))
            except Exception as exc:  # noqa: BLE001
                self.post_message(LiveAnalysisDone(token, index, code, error=f"{type(exc).__name__}: {exc}"))

        self.run_worker(work, name="live-analysis", group="live", thread=True, exit_on_error=False)

    def _fast_analyze(self, code: str) -> Analysis:
        from patchloop.core.analyzers import analyze_code

        run = self.session.run
        if run is not None and run.language != "python":
            # The fast suite is Python's; other languages wait for the full suite's verdict.
            return Analysis([], [], 0.0)
        return analyze_code(
            code,
            "fast",
            language="python",
            skip=tuple(self.config.loop.skip),
            timeout=self.config.loop.analyzer_timeout,
        )

    def on_live_analysis_done(self, message: LiveAnalysisDone) -> None:
        if message.token != self.session.token:
            return
        self._live_busy = False
        session = self.session
        if message.index in session.finished or not session.live:
            return  # the full suite's verdict is already there
        if message.error:
            self.main.query_one("#findings").border_subtitle = f"live analysis failed: {message.error}"
            return
        # Code cut off mid-block never parses: syntax errors wait for the full analysis.
        analysis = message.analysis
        assert analysis is not None, "a live analysis reports its findings or its error"
        analysis = replace(
            analysis, findings=[f for f in analysis.findings if f.rule_id not in PARTIAL_CODE_RULES]
        )
        session.live_findings[message.index] = analysis
        if self.main.view == message.index:
            self.main.show_view()
