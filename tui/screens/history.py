"""Past runs from the log, found by full-text search over prompts, code and findings (best match
first); open one to replay it, or run its prompt again."""

from __future__ import annotations

from typing import ClassVar

from patchloop.core import times
from patchloop.core.log import LogError, RunSummary
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from .. import bindings
from ..format import first_line

SEARCH_DELAY = 0.25  # seconds of typing pause before the log is searched


def _when(created: str) -> str:
    # ISO 8601 UTC from the log ("2025-11-24T01:45:00+00:00"), shown to the minute.
    return times.display(created)


def _findings(summary: RunSummary) -> str:
    if summary.first_findings is None:
        return ""
    if summary.n_iterations <= 1 or summary.last_findings == summary.first_findings:
        return str(summary.first_findings)
    return f"{summary.first_findings} → {summary.last_findings}"


class HistoryScreen(Screen):
    DEFAULT_CSS = """
    HistoryScreen {
        #history-title { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
        #history-search { margin: 0 1; }
        #history-runs { height: 1fr; margin: 0 1; }
        #history-empty { height: auto; padding: 1 2; color: $text-muted; display: none; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.HISTORY

    def __init__(self, limit: int = 500) -> None:
        super().__init__()
        self.limit = limit
        self.rows: list[RunSummary] = []
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("History · enter: replay (read-only) · r: run again · esc: back", id="history-title")
        yield Input(placeholder="Search prompts, code, findings…", id="history-search")
        yield DataTable(id="history-runs", cursor_type="row", zebra_stripes=True)
        yield Static("No runs yet: send a prompt from the main screen.", id="history-empty")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("run", key="id")
        table.add_column("when (UTC)", key="when")
        table.add_column("prompt", key="prompt")
        table.add_column("stop", key="stop")
        table.add_column("its", key="its")
        table.add_column("findings", key="findings")
        table.add_column("best", key="best")
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        table.focus()
        self.load("")

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load(self, search: str) -> None:
        log = getattr(self.app, "log_store", None)
        try:
            rows = log.list_runs(limit=self.limit, search=search or None) if log is not None else []
        except LogError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot read the log", severity="error")
            return
        self.app.call_from_thread(self._fill, rows, search)

    def _fill(self, rows: list[RunSummary], search: str) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        width = max(20, self.size.width - 60)
        for r in rows:
            table.add_row(
                str(r.id),
                _when(r.created),
                first_line(r.prompt, width),
                r.stop_reason or "unfinished",
                str(r.n_iterations),
                _findings(r),
                f"v{r.best_index}" if r.best_index is not None else "",
                key=str(r.id),
            )
        empty = self.query_one("#history-empty", Static)
        empty.display = not rows
        empty.update(
            f"No run's prompt, code or findings match {search!r}."
            if search
            else "No runs yet: send a prompt from the main screen."
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value
        self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self.load(value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.load(event.value)
        self.query_one(DataTable).focus()

    def _selected(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        summary = self._selected()
        if summary is not None:
            self.app.open_run(summary.id)  # type: ignore[attr-defined]
            self.dismiss()

    def action_rerun(self) -> None:
        summary = self._selected()
        if summary is not None:
            self.dismiss()
            self.app.rerun(summary.prompt)  # type: ignore[attr-defined]

    def action_search(self) -> None:
        self.query_one(Input).focus()

    def action_close(self) -> None:
        self.dismiss()
