"""Two iterations of a run side by side: the diff (changed lines highlighted) and each one's findings."""

from __future__ import annotations

from typing import ClassVar

from patchloop.core.types import Run
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, Select

from .. import bindings
from ..format import verdict
from ..widgets.diff_view import DiffView
from ..widgets.findings import FindingsTable


class CompareScreen(Screen):
    DEFAULT_CSS = """
    CompareScreen {
        #compare-pickers { height: 1; padding: 0 1; }
        #compare-pickers Label { padding: 0 1; color: $text-muted; }
        #compare-pickers Select { width: 1fr; }
        #compare-diff { height: 2fr; }
        #compare-findings { height: 1fr; min-height: 6; }
        #compare-findings FindingsTable { width: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.COMPARE

    def __init__(
        self, run: Run, labels: dict[int, str], left: int, right: int, *, finished: set[int] | None = None
    ) -> None:
        super().__init__()
        self.run = run
        self.labels = labels
        # Only finished iterations can be compared (a streaming one has no verdict yet).
        done = finished if finished is not None else {it.index for it in run.iterations}
        self.indices = [it.index for it in run.iterations if it.index in done]
        self.left = left if left in self.indices else (self.indices[0] if self.indices else 0)
        self.right = right if right in self.indices else (self.indices[-1] if self.indices else 0)

    def _option(self, index: int) -> str:
        it = self.run.iterations[index]
        text = f"v{index} · {verdict(it, self.run.threshold)}"
        if index == self.run.best_index:
            text += " · best ★"
        if index in self.labels:
            text += f" · {self.labels[index]}"
        return text

    def compose(self) -> ComposeResult:
        options = [(self._option(i), i) for i in self.indices]
        with Horizontal(id="compare-pickers"):
            yield Label("left")
            yield Select(options, value=self.left, allow_blank=False, id="compare-left", compact=True)
            yield Label("right")
            yield Select(options, value=self.right, allow_blank=False, id="compare-right", compact=True)
        yield DiffView(language=self.run.language, id="compare-diff")
        with Horizontal(id="compare-findings"):
            yield FindingsTable(id="compare-left-findings")
            yield FindingsTable(id="compare-right-findings")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        self.query_one(DiffView).focus()
        # After the first layout: the tables and the diff need their sizes to draw the rows.
        self.call_after_refresh(self.show)

    def show(self) -> None:
        run = self.run
        if not self.indices:
            self.query_one(DiffView).border_title = "Nothing finished to compare yet"
            return
        left, right = run.iterations[self.left], run.iterations[self.right]
        diff = self.query_one(DiffView)
        removed, added = diff.set_pair(
            left.code if left.code is not None else left.response,
            right.code if right.code is not None else right.response,
            left_flagged={f.line for f in left.flagged(run.threshold)},
            right_flagged={f.line for f in right.flagged(run.threshold)},
        )
        diff.border_title = f"v{self.left} ⇄ v{self.right}"
        diff.border_subtitle = f"−{removed} +{added} lines · ● line with findings"
        for side, it in (("left", left), ("right", right)):
            table = self.query_one(f"#compare-{side}-findings", FindingsTable)
            table.show(it.findings, it.analyzer_errors, run.threshold)
            table.border_title = f"v{it.index} findings"
            table.border_subtitle = verdict(it, run.threshold)
        with self.prevent(Select.Changed):
            self.query_one("#compare-left", Select).value = self.left
            self.query_one("#compare-right", Select).value = self.right

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        if event.select.id == "compare-left":
            self.left = int(event.value)  # type: ignore[arg-type]
        else:
            self.right = int(event.value)  # type: ignore[arg-type]
        self.show()

    def action_step(self, delta: int) -> None:
        """Move both sides together: (v0, v1) -> (v1, v2), keeping their distance."""
        if not self.indices:
            return
        gap = self.right - self.left
        last = self.indices[-1]
        left = max(0, min(last - max(gap, 0), self.left + delta))
        self.left, self.right = left, min(last, left + gap)
        self.show()

    def action_left(self, delta: int) -> None:
        if self.indices:
            self.left = max(0, min(self.indices[-1], self.left + delta))
            self.show()

    def action_close(self) -> None:
        self.dismiss()
