"""The findings pane: one row per analyzer finding (tool, rule, severity, line, message).

Findings below the severity threshold are shown dimmed (they do not count and are not sent back to
the model); an analyzer that failed is a row of its own, never silently "clean".
"""

from __future__ import annotations

from collections.abc import Sequence

from patchloop.core.types import SEVERITY_RANK, Finding, severity_at_least
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from .pane import pane_css

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


class FindingsTable(DataTable):
    DEFAULT_CSS = pane_css("FindingsTable")

    class LineChosen(Message):
        """A finding was selected (enter/click: ``jump``) or highlighted (cursor moved: preview)."""

        def __init__(self, table: FindingsTable, line: int, jump: bool) -> None:
            super().__init__()
            self.table = table
            self.line = line
            self.jump = jump

        @property
        def control(self) -> FindingsTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._lines: list[int] = []

    def on_mount(self) -> None:
        if not self.columns:  # show() may have run first (a parent's on_mount)
            self._add_columns()

    def _add_columns(self) -> None:
        self.add_column("tool", key="tool")
        self.add_column("rule", key="rule")
        self.add_column("sev", key="severity")
        self.add_column("line", key="line")
        self.add_column("message", key="message")

    def show(self, findings: Sequence[Finding], errors: Sequence[str] = (), threshold: str = "note") -> None:
        """Replace the rows: analyzer errors first, then findings by line."""
        self.clear(columns=True)  # columns re-fit to these rows (widths never shrink otherwise)
        self._add_columns()
        self._lines = []
        for error in errors:
            tool, _, message = error.partition(": ")
            self.add_row(
                tool, "failed", Text("error", style="bold red"), "", Text(message or error, style="red")
            )
            self._lines.append(0)
        ordered = sorted(
            findings, key=lambda f: (f.line, -SEVERITY_RANK.get(f.severity, 0), f.tool, f.rule_id)
        )
        for f in ordered:
            counts = severity_at_least(f.severity, threshold)
            dim = "" if counts else "dim"
            self.add_row(
                Text(f.tool, style=dim),
                Text(f.rule_id, style=dim),
                Text(f.severity, style=_SEVERITY_STYLE.get(f.severity, "") if counts else "dim"),
                Text(str(f.line), style=dim, justify="right"),
                Text(f.message, style=dim),
            )
            self._lines.append(f.line)

    def line_at(self, row: int) -> int:
        return self._lines[row] if 0 <= row < len(self._lines) else 0

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if line := self.line_at(event.cursor_row):
            self.post_message(self.LineChosen(self, line, jump=True))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.has_focus and (line := self.line_at(event.cursor_row)):
            self.post_message(self.LineChosen(self, line, jump=False))
