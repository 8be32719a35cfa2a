"""The app and the log: labels written on iterations, past runs read back for replay, and a past prompt run again.

A mixin of ``PatchloopApp`` (it runs as the app: ``self`` is the App). Log reads and writes run in
thread workers and report back with messages, so a locked database never freezes the UI.
"""

from __future__ import annotations

from patchloop.core.log import Log, LogError
from textual import work

from .host import AppMixin
from .messages import LabelSaved, LogFailed, RunLoaded
from .screens.main import MainScreen
from .session import Session
from .widgets.code_view import CodeView
from .widgets.prompt import PromptEditor


class LogActions(AppMixin):
    # Set by the app's __init__ and on_mount.
    log_store: Log | None
    session: Session
    main: MainScreen

    # -- labels -----------------------------------------------------------------------------------

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

    # -- replay and rerun -------------------------------------------------------------------------

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
        self.session = Session(
            run=run,
            labels=dict(message.labels),
            replay=True,
            token=self.session.token + 1,
            finished={it.index for it in run.iterations},
        )
        main = self.main
        main.mark, main.follow = None, False
        main.view = (
            run.best_index
            if run.best_index is not None
            else (len(run.iterations) - 1 if run.iterations else None)
        )
        main.query_one(PromptEditor).load_text(run.prompt)
        self.refresh_placeholder()
        main.redraw()
        main.query_one(CodeView).focus()
        self.refresh_status()

    def rerun(self, prompt: str) -> None:
        self.main.query_one(PromptEditor).load_text(prompt)
        self.submit(prompt)
