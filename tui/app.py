"""The patchloop app: the face of the tool.

The app owns the engine side: the config, the model backend (loaded in a worker at start-up), the
log, and the workers that run the loop and the live analysis. Worker threads never touch widgets:
they post messages (``messages.py``), and the handlers here update the session and ask the main
screen to redraw. Everything slow (generation, analysis, log reads and writes, model loading) runs
off the UI thread, so the app stays responsive and Escape cancels at once.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from patchloop.core.config import Config, ConfigError, db_path, save_config
from patchloop.core.extract import partial_code
from patchloop.core.log import Log, LogError
from patchloop.core.loop import (
    AnalysisStarted,
    CandidatesStarted,
    IterationFinished,
    IterationStarted,
    RunFinished,
    TokenReceived,
    run_loop,
    settings_from_config,
    validate_prompt,
)
from patchloop.core.types import Analysis
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, get_current_worker

from .commands import PatchloopCommands
from .export import run_json, run_markdown
from .format import device_text, elapsed_text, rate_text
from .messages import (
    LabelSaved,
    LiveAnalysisDone,
    LogFailed,
    LoopEventMessage,
    ModelLoaded,
    ModelLoadFailed,
    ModelProgress,
    RunCrashed,
    RunLoaded,
)
from .screens.compare import CompareScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.main import MainScreen, shown_code
from .screens.path import PathScreen
from .screens.settings import SettingsScreen
from .session import Session
from .widgets.code_view import CodeView
from .widgets.prompt import PromptEditor
from .widgets.status_bar import StatusBar

AnalyzeFn = Callable[[str], Analysis]

LIVE_INTERVAL = 0.5  # seconds between live analyses of the streaming code (one at a time)
PARTIAL_CODE_RULES = frozenset({"invalid-syntax", "syntax-error", "E999"})
TICK = 0.1  # UI refresh period while a run streams: tokens are drawn in batches, not one by one


def freeze_heap() -> None:
    """Move everything alive now (imported modules, the loaded model, the widgets) out of the garbage
    collector's reach. With torch, transformers and pandas imported, a full collection walks millions
    of long-lived objects and holds the GIL for a hundred milliseconds or more: the UI would stutter
    mid-stream. Called at start-up, after the model loads and when a run starts (one short pause
    when the user presses send, instead of pauses while tokens stream in)."""
    gc.collect()
    gc.freeze()


class PatchloopApp(App[int]):
    TITLE = "patchloop"
    COMMANDS = App.COMMANDS | {PatchloopCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q", "quit", "Quit", priority=True,
            id="quit",
            tooltip="Quit (a run in progress is cancelled first; finished iterations stay in the log)",
        ),
        # Only while a run streams (see check_action); otherwise ctrl+c copies, as in any TextArea.
        Binding(
            "ctrl+c", "interrupt", "Cancel run", show=False, priority=True,
            id="interrupt",
            tooltip="Cancel the run (only while one runs; otherwise ctrl+c copies)",
        ),
        Binding(
            "ctrl+p", "command_palette", "Palette", priority=True,
            id="command_palette",
            tooltip="Command palette: settings, exports, labels, every action",
        ),
        Binding(
            "f1,question_mark", "help", "Help",
            id="help",
            tooltip="This list of keys",
        ),
        Binding(
            "ctrl+r", "history", "History", show=False,
            id="history",
            tooltip="History of past runs",
        ),
        Binding(
            "ctrl+o", "settings", "Settings", show=False,
            id="settings",
            tooltip="Settings: model, analyzer suite, t_max, severity threshold",
        ),
    ]

    def __init__(
        self,
        config: Config,
        *,
        backend: Any | None = None,
        log: Log | None = None,
        log_error: str | None = None,
        analyze: AnalyzeFn | None = None,
        live_analyze: AnalyzeFn | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_blink: bool = True,
    ) -> None:
        """``backend``, ``log``, ``analyze`` (the loop's full analysis), ``live_analyze`` (the
        streaming preview; defaults to ``analyze`` when that is given) and ``clock`` can be injected,
        for tests and embedding; without a backend the configured model loads in a worker."""
        super().__init__()
        self.config = config
        self.backend = backend
        self.backend_injected = backend is not None
        self.log_store = log
        self.log_error = log_error
        self.analyze = analyze
        self.live_analyze = live_analyze or analyze or self._fast_analyze
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.session = Session()
        self.model_state = "ready" if backend is not None else "loading"  # loading | ready | failed
        self.model_stage = ""
        self.model_error = ""
        self.loading_spec = ""
        self.queued_prompt: str | None = None
        self._run_worker: Worker | None = None
        self._run_finished: threading.Event | None = None
        self._live_busy = False
        self._live_code = ""  # code last sent to live analysis
        self._live_started = 0.0
        self._reload_after_run = False

    # -- start-up ---------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.main = MainScreen(cursor_blink=self.cursor_blink)
        self.push_screen(self.main)
        unknown = self.apply_keys(self.config.keys)
        if unknown:
            where = f" in {self.config.path}" if self.config.path else ""
            self.notify(f"Unknown key binding id(s) {', '.join(unknown)}{where}; see the help screen (F1) for ids.",
                        severity="warning", timeout=10)
        if self.log_store is None:
            self.notify(f"{self.log_error or 'The log is unavailable.'} Runs will not be saved.",
                        title="Log unavailable", severity="error", timeout=15)
        self._ticker = self.set_interval(TICK, self._tick, pause=True)
        self._handle_signals(add=True)
        if self.backend is None:
            self.load_model(self.config.model.name)
        self.refresh_status()
        self.refresh_placeholder()
        freeze_heap()

    # A SIGINT or SIGTERM from outside (kill, a supervisor; the terminal's ctrl+c is a key here)
    # ends the run cleanly and the app with the shell's code for it, so scripts see 130 or 143.
    _EXIT_SIGNALS = ((signal.SIGINT, 130), (signal.SIGTERM, 143))

    def _handle_signals(self, *, add: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
            for sig, code in self._EXIT_SIGNALS:
                if add:
                    loop.add_signal_handler(sig, self.exit, None, code)
                else:
                    loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # no Unix signals here, or the app runs outside the main thread

    def on_unmount(self) -> None:
        self._handle_signals(add=False)

    def apply_keys(self, keys: dict[str, str]) -> list[str]:
        """Remap bindings from the config's [keys] table; returns ids that match no binding."""
        from .keys import binding_ids

        self.set_keymap(keys)
        return sorted(set(keys) - binding_ids())

    # -- model ------------------------------------------------------------------------------------

    @work(group="model", exclusive=True, exit_on_error=False)
    async def load_model(self, spec: str) -> None:
        """Load the backend on a daemon thread (quitting mid-load must not wait for it)."""
        from patchloop.core.backends import ModelError, backend_options, load_backend

        self.model_state, self.model_stage, self.loading_spec = "loading", "starting", spec
        self.refresh_status()
        self.refresh_placeholder()
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        model_settings = replace(self.config.model, name=spec)

        def deliver(setter: Callable[[Any], None], value: Any) -> None:
            if not done.done():
                setter(value)

        def target() -> None:
            try:
                backend = load_backend(spec, **backend_options(
                    model_settings, progress=lambda stage: self.post_message(ModelProgress(str(stage), spec))))
            except BaseException as exc:  # noqa: BLE001 - reported in the app, never raised into it
                loop.call_soon_threadsafe(deliver, done.set_exception, exc)
            else:
                loop.call_soon_threadsafe(deliver, done.set_result, backend)

        threading.Thread(target=target, name="patchloop-model-load", daemon=True).start()
        try:
            backend = await done
        except ModelError as exc:
            self.post_message(ModelLoadFailed(str(exc), spec))
        except Exception as exc:  # noqa: BLE001
            self.post_message(ModelLoadFailed(f"{type(exc).__name__}: {exc}", spec))
        else:
            self.post_message(ModelLoaded(backend, spec))

    def on_model_progress(self, message: ModelProgress) -> None:
        if message.spec != self.loading_spec or self.model_state != "loading":
            return
        self.model_stage = message.stage
        self.refresh_status()
        self.refresh_placeholder()

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.spec != self.loading_spec:
            return
        self.backend = message.backend
        self.model_state, self.model_error = "ready", ""
        freeze_heap()
        self.refresh_status()
        self.refresh_placeholder()
        if self.queued_prompt is not None:
            prompt, self.queued_prompt = self.queued_prompt, None
            self.start_run(prompt)

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        if message.spec != self.loading_spec:
            return
        self.model_state, self.model_error = "failed", message.error
        self.queued_prompt = None
        self.refresh_status()
        self.refresh_placeholder()
        self.notify(f"{message.error}\nPick another model in the settings (ctrl+o).",
                    title=f"Model {message.spec} failed to load", severity="error", timeout=20)

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
            self.notify("The model is still loading; your prompt will run as soon as it is ready.",
                        title="Model loading", timeout=6)
            self.refresh_status()
            return
        if self.model_state == "failed" or self.backend is None:
            self.notify(f"No model: {self.model_error or 'not loaded'}. Pick a model in the settings (ctrl+o).",
                        severity="error")
            return
        self.start_run(prompt)

    def start_run(self, prompt: str) -> None:
        freeze_heap()
        self.session = Session(token=self.session.token + 1, live=True, labels={}, run_started=self.clock(),
                               iteration_started=self.clock())
        self.main.view, self.main.follow, self.main.mark = None, True, None
        settings = settings_from_config(self.config)
        backend, log, analyze, token = self.backend, self.log_store, self.analyze, self.session.token
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
                run_loop(prompt, backend, settings, log=log, on_event=emit, cancel=cancel, analyze=analyze,
                         source="tui", adapter=adapter)
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
        if self.session.live and self._run_worker is not None and not self._run_worker.cancelled_event.is_set():
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
        self.notify(f"{message.error}\nFinished iterations are in the log.", title="The run stopped",
                    severity="error", timeout=15)

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
        return analyze_code(code, "fast", language="python", skip=tuple(self.config.loop.skip),
                            timeout=self.config.loop.analyzer_timeout)

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
        analysis = replace(analysis, findings=[f for f in analysis.findings if f.rule_id not in PARTIAL_CODE_RULES])
        session.live_findings[message.index] = analysis
        if self.main.view == message.index:
            self.main.show_view()

    # -- labels, replay, compare, files ---------------------------------------------------------

    def set_label(self, index: int, label: str | None) -> None:
        session = self.session
        run = session.run
        if self.log_store is None:
            self.notify("The log is unavailable, so labels cannot be saved.", severity="error")
            return
        if run is None or index >= len(run.iterations):
            return
        it = run.iterations[index]
        if it.id is None or run.id is None:
            self.notify(f"v{index} is not finished yet; label it when it is.", severity="warning")
            return
        self._write_label(run.id, index, it.id, label)

    @work(thread=True, group="log-write", exit_on_error=False)
    def _write_label(self, run_id: int, index: int, iteration_id: int, label: str | None) -> None:
        try:
            self.log_store.set_label(iteration_id, label)  # type: ignore[union-attr]
        except (LogError, ValueError) as exc:
            self.post_message(LogFailed("label", str(exc)))
        else:
            self.post_message(LabelSaved(run_id, index, label))

    def on_label_saved(self, message: LabelSaved) -> None:
        session = self.session
        if session.run is None or session.run.id != message.run_id:
            return
        if message.label is None:
            session.labels.pop(message.index, None)
        else:
            session.labels[message.index] = message.label
        self.main.redraw()
        word = message.label or "unlabelled"
        self.notify(f"v{message.index} {word}", timeout=2)

    def on_log_failed(self, message: LogFailed) -> None:
        self.notify(message.error, title=f"Log {message.what} failed", severity="error", timeout=10)

    def open_run(self, run_id: int) -> None:
        if self.session.live:
            self.notify("A run is in progress: cancel it (Esc) before opening another.", severity="warning")
            return
        self._load_run(run_id)

    @work(thread=True, group="log-read", exclusive=True, exit_on_error=False)
    def _load_run(self, run_id: int) -> None:
        try:
            run = self.log_store.load_run(run_id)  # type: ignore[union-attr]
            labels = self.log_store.labels_for_run(run_id)  # type: ignore[union-attr]
        except LogError as exc:
            self.post_message(LogFailed("read", str(exc)))
        else:
            self.post_message(RunLoaded(run, labels))

    def on_run_loaded(self, message: RunLoaded) -> None:
        if self.session.live:
            return
        run = message.run
        self.session = Session(run=run, labels=dict(message.labels), replay=True, token=self.session.token + 1,
                               finished={it.index for it in run.iterations})
        main = self.main
        main.mark, main.follow = None, False
        main.view = run.best_index if run.best_index is not None else (len(run.iterations) - 1 if run.iterations else None)
        main.query_one(PromptEditor).load_text(run.prompt)
        self.refresh_placeholder()
        main.redraw()
        main.query_one(CodeView).focus()
        self.refresh_status()

    def rerun(self, prompt: str) -> None:
        self.main.query_one(PromptEditor).load_text(prompt)
        self.submit(prompt)

    def open_compare(self, left: int, right: int) -> None:
        run = self.session.run
        if run is None:
            return
        self.push_screen(CompareScreen(run, dict(self.session.labels), left, right,
                                       finished=set(self.session.finished)))

    def _code_for(self, index: int | None) -> tuple[int, str] | None:
        run = self.session.run
        if run is None or index is None or index >= len(run.iterations):
            self.notify("No code to copy or save yet.", severity="warning")
            return None
        it = run.iterations[index]
        streaming = self.session.live and index not in self.session.finished
        code = shown_code(it, self.session.stream if streaming else None)
        if not code:
            self.notify(f"v{index} has no code.", severity="warning")
            return None
        return it.index, code

    def copy_code(self, index: int | None) -> None:
        found = self._code_for(index)
        if found is None:
            return
        index, code = found
        self.copy_to_clipboard(code)
        self.notify(f"v{index} copied to the clipboard ({len(code.splitlines())} lines).", timeout=3)

    def save_code(self, index: int | None) -> None:
        found = self._code_for(index)
        if found is None:
            return
        index, code = found
        run_id = self.session.run.id if self.session.run else None
        default = f"patchloop-run{run_id}-v{index}.py" if run_id is not None else f"patchloop-v{index}.py"

        def write(path: Path | None) -> None:
            if path is not None:
                self._write_file(path, code, f"v{index}")

        self.push_screen(PathScreen(f"Save the code of v{index} to", default), write)

    def export_run(self, fmt: str | None = None) -> None:
        run = self.session.run
        if run is None:
            self.notify("No run to export yet.", severity="warning")
            return
        if self.session.live:
            self.notify("Wait for the run to finish (or cancel it) before exporting.", severity="warning")
            return
        stem = f"patchloop-run{run.id}" if run.id is not None else "patchloop-run"
        default = f"{stem}.{'md' if fmt == 'markdown' else 'json'}"
        labels = dict(self.session.labels)

        def write(path: Path | None) -> None:
            if path is None:
                return
            markdown = fmt == "markdown" or (fmt is None and path.suffix.lower() in (".md", ".markdown"))
            text = run_markdown(run, labels) if markdown else run_json(run, labels)
            self._write_file(path, text, f"run {run.id}")

        self.push_screen(PathScreen("Export the run (.json, or .md for Markdown) to", default), write)

    def _write_file(self, path: Path, text: str, what: str) -> None:
        try:
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite a file
                handle.write(text)
        except FileExistsError:
            self.notify(f"{path} already exists; nothing was written. Pick another name.", severity="error")
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
        else:
            self.notify(f"{what} saved to {path}", timeout=4)

    # -- settings ---------------------------------------------------------------------------------

    def apply_settings(self, *, model: str | None = None, engine: str | None = None, **loop: object) -> bool:
        """Change settings for the next run and save them to the config file. ``loop`` holds
        ``[loop]`` keys (analyzers, language, t_max, threshold, autofix, feedback, candidates); None leaves
        a setting as it is."""
        config = self.config
        model_fields = {k: v for k, v in (("name", model), ("engine", engine)) if v is not None}
        new_model = replace(config.model, **model_fields)
        new_loop = replace(config.loop, **{k: v for k, v in loop.items() if v is not None})
        candidate = replace(config, model=new_model, loop=new_loop)
        try:
            candidate.validate()
        except ConfigError as exc:
            self.notify(str(exc), title="Setting not changed", severity="error")
            return False
        model_changed = (new_model.name, new_model.engine) != (config.model.name, config.model.engine)
        config.model, config.loop = new_model, new_loop
        try:
            path = save_config(config)
        except (OSError, ConfigError) as exc:  # ConfigError: the file cannot be parsed or written
            self.notify(f"Applied for this session, but the config file could not be written: {exc}",
                        severity="error", timeout=10)
        else:
            self.notify(f"Saved to {path}; applies to the next run.", title="Settings", timeout=4)
        if model_changed:
            if self.session.live:
                self._reload_after_run = True
            else:
                self.backend = None
                self.load_model(new_model.name)
        self.refresh_status()
        return True

    # -- status -----------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        try:
            bar = self.main.query_one(StatusBar)
        except Exception:  # noqa: BLE001 - before the main screen is mounted
            return
        session = self.session
        run = session.run
        loop = self.config.loop
        state, tone = "ready", "ok"
        if self.model_state == "loading":
            state, tone = f"loading model: {self.model_stage or 'starting'}", "busy"
            if self.queued_prompt is not None:
                state += " (prompt queued)"
        elif self.model_state == "failed":
            state, tone = "model failed to load", "error"
        if session.live and run is not None and session.streaming_index is not None:
            index = session.streaming_index
            if session.cancel is not None and session.cancel.is_set():
                state, tone = f"cancelling v{index}…", "warn"
            elif session.phase == "analyzing":
                state, tone = f"analyzing v{index}", "busy"
            elif session.phase.startswith("sampling"):
                state, tone = f"v{index}: {session.phase}", "busy"
            else:
                state, tone = f"generating v{index}", "busy"
        elif session.live:
            state, tone = "starting the run", "busy"
        elif session.error:
            state, tone = f"error: {session.error}", "error"
        elif run is not None and run.stop_reason:
            best = run.best_index
            prefix = f"run {run.id}: " if session.replay and run.id is not None else ""
            state = f"{prefix}stop: {run.stop_reason}" + (f" · best v{best}" if best is not None else "")
            tone = {"clean": "ok", "t_max": "warn", "repeated": "warn", "cancelled": "warn"}.get(run.stop_reason, "error")
        info = getattr(self.backend, "info", None)
        if session.replay and run is not None:
            model = run.model
        else:
            model = info.model if info is not None else self.config.model.name
        elapsed = ""
        if session.live:
            elapsed = elapsed_text(self.clock() - session.run_started)
        elif session.run_elapsed is not None:
            elapsed = elapsed_text(session.run_elapsed)
        bar.update(
            state=state, tone=tone, model=model, device=device_text(info) if info is not None else "",
            rate=session.rate, elapsed=elapsed,
            settings=f"{loop.analyzers} · t_max {loop.t_max} · ≥{loop.threshold}",
        )

    def refresh_placeholder(self) -> None:
        """The empty code pane doubles as the welcome screen and the model-loading progress."""
        try:
            code = self.main.query_one(CodeView)
        except Exception:  # noqa: BLE001
            return
        if self.session.run is not None:
            code.placeholder = "Waiting for the model's answer…" if self.session.live else "(no code)"
            return
        paragraphs = [
            ("Welcome to patchloop: a local model writes the code, static analyzers check it, and their "
            "findings go back to the model as a patch request until the code is clean."),
            ("Type a prompt above and press ctrl+j (or alt+enter) to send. F1 lists every key; ctrl+r opens "
            "the history of past runs, ctrl+o the settings, ctrl+p the command palette."),
        ]
        name = self.loading_spec or self.config.model.name
        if self.model_state == "loading":
            paragraphs.append(
                f"Loading the model {name}: {self.model_stage or 'starting'}… The first start assembles and "
                "caches the model (a minute or two); you can type and send now: the prompt runs as soon as "
                "the model is ready."
            )
        elif self.model_state == "failed":
            paragraphs.append(f"The model {name} failed to load: {self.model_error} "
                              "Open the settings (ctrl+o) to pick another model.")
        code.placeholder = "\n\n".join(paragraphs)

    # -- screens ----------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_history(self) -> None:
        if self.log_store is None:
            self.notify(self.log_error or "The log is unavailable.", severity="error")
            return
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen())

    def action_settings(self) -> None:
        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(self.config))

    async def action_quit(self) -> None:
        """Quit; a run in progress is cancelled first, so its finished iterations stay in the log."""
        if self.session.live and self._run_finished is not None:
            self.cancel_run()
            self.notify("Cancelling the run…", timeout=3)
            # The loop logs the cut iteration and the stop reason; quit anyway if that takes long.
            deadline = time.monotonic() + 15
            while not self._run_finished.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        self.exit(0)

    def exit(self, result: int | None = None, return_code: int = 0, message: Any | None = None) -> None:
        self.cancel_run()  # whatever ends the app also ends the run cleanly
        super().exit(result, return_code, message)


def run_app(config: Config, *, backend: Any | None = None, log: Log | None = None) -> int:
    """Open the app; returns the process exit code (130 when interrupted with a signal)."""
    own_log: Log | None = None
    log_error = None
    if log is None:
        try:
            log = own_log = Log(db_path(config))
        except LogError as exc:
            log_error = str(exc)
    app = PatchloopApp(config, backend=backend, log=log, log_error=log_error)
    try:
        app.run()
    except KeyboardInterrupt:
        app.cancel_run()
        return 130
    finally:
        if own_log is not None:
            own_log.close()
    return app.return_code or 0
