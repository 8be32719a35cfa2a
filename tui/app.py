"""The patchloop app: the face of the tool.

The app owns the engine side: the config, the model backend (loaded in a worker at start-up), the
log, and the workers that run the loop and the live analysis. Each job is a module of its own, mixed
in here: the model's loading (``model_loading.py``), the run and its live analysis (``running.py``),
labels and replay from the log (``log_actions.py``), copy, save and export (``outputs.py``); the
status texts are plain functions (``status.py``). Worker threads never touch widgets: they post
messages (``messages.py``), and the handlers update the session and ask the main screen to redraw.
Everything slow (generation, analysis, log reads and writes, model loading) runs off the UI thread,
so the app stays responsive and Escape cancels at once.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from patchloop.core.config import Config, ConfigError, db_path
from patchloop.core.config_edit import save_config
from patchloop.core.log import Log, LogError
from textual.app import App
from textual.binding import BindingType
from textual.worker import Worker

from . import bindings
from .commands import PatchloopCommands
from .format import device_text
from .heap import freeze_heap
from .keys import binding_ids
from .log_actions import LogActions
from .model_loading import ModelLoading
from .outputs import RunOutputs
from .running import TICK, AnalyzeFn, RunControl
from .screens.compare import CompareScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.main import MainScreen
from .screens.settings import SettingsScreen
from .session import Session
from .status import model_shown, placeholder_text, run_state, run_time, settings_text
from .widgets.code_view import CodeView
from .widgets.status_bar import StatusBar


class PatchloopApp(ModelLoading, RunControl, LogActions, RunOutputs, App[int]):
    TITLE = "patchloop"
    COMMANDS = App.COMMANDS | {PatchloopCommands}

    BINDINGS: ClassVar[list[BindingType]] = bindings.APP

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
            self.notify(
                f"Unknown key binding id(s) {', '.join(unknown)}{where}; see the help screen (F1) for ids.",
                severity="warning",
                timeout=10,
            )
        if self.log_store is None:
            self.notify(
                f"{self.log_error or 'The log is unavailable.'} Runs will not be saved.",
                title="Log unavailable",
                severity="error",
                timeout=15,
            )
        self._ticker = self.set_interval(TICK, self._tick, pause=True)
        self._handle_signals(add=True)
        if self.backend is None:
            self.load_model(self.config.model.name)
        if self.config.loop.prewarm and self.analyze is None:  # the loop's own analysis, not a test's
            # Started while the model loads and the user types: the first verdict is then a warm one.
            # No prompt yet: "auto" is the language of a prompt that names none.
            from patchloop.core.analyzers import start_tools
            from patchloop.core.loop_settings import resolve_language, settings_from_config

            settings = resolve_language(settings_from_config(self.config), "")[0]
            start_tools(settings.analyzers, settings.language)
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
        self.set_keymap(keys)
        return sorted(set(keys) - binding_ids())

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
            self.notify(
                f"Applied for this session, but the config file could not be written: {exc}",
                severity="error",
                timeout=10,
            )
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
        state, tone = run_state(
            self.session,
            model_state=self.model_state,
            model_stage=self.model_stage,
            prompt_queued=self.queued_prompt is not None,
        )
        info = getattr(self.backend, "info", None)
        bar.update(
            state=state,
            tone=tone,
            model=model_shown(self.session, info, self.config.model.name),
            device=device_text(info) if info is not None else "",
            rate=self.session.rate,
            elapsed=run_time(self.session, self.clock()),
            settings=settings_text(self.config.loop),
        )

    def refresh_placeholder(self) -> None:
        try:
            code = self.main.query_one(CodeView)
        except Exception:  # noqa: BLE001
            return
        code.placeholder = placeholder_text(
            self.session,
            model_state=self.model_state,
            model_stage=self.model_stage,
            model_error=self.model_error,
            model_name=self.loading_spec or self.config.model.name,
        )

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

    def open_compare(self, left: int, right: int) -> None:
        run = self.session.run
        if run is None:
            return
        self.push_screen(
            CompareScreen(run, dict(self.session.labels), left, right, finished=set(self.session.finished))
        )

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
