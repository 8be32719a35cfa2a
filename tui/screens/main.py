"""The main screen: prompt, iteration timeline with label buttons, code pane, findings pane.

It only draws what the app's session holds (the run being streamed or replayed) and keeps one
piece of view state of its own: which iteration is shown, and whether to follow the live one.
"""

from __future__ import annotations

from typing import ClassVar

from patchloop.core.extract import partial_code
from patchloop.core.types import Iteration
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer

from .. import bindings
from ..diffing import change_counts, side_by_side
from ..format import verdict
from ..host import AppHost
from ..widgets.code_view import CodeView
from ..widgets.findings import FindingsTable
from ..widgets.prompt import PromptEditor
from ..widgets.status_bar import StatusBar
from ..widgets.timeline import Chip, Timeline


def iteration_status(it: Iteration, threshold: str, finished: bool) -> tuple[str, int]:
    if not finished:
        return "running", 0
    if it.error == "cancelled":
        return "cancelled", 0
    if it.error or it.code is None or it.analyzer_errors:
        return "error", 0
    flagged = len(it.flagged(threshold))
    return ("flagged", flagged) if flagged else ("clean", 0)


def shown_code(it: Iteration, streamed: str | None = None) -> str:
    """The code of an iteration; while streaming (or when cut off) the code so far, else the raw answer."""
    if it.code is not None:
        return it.code
    text = streamed if streamed is not None else it.response
    return partial_code(text) or text


class MainScreen(Screen):
    DEFAULT_CSS = """
    MainScreen {
        layout: vertical;
        #toolbar { height: 1; padding: 0 1; }
        #toolbar Button { margin-left: 1; min-width: 10; }
        #panes { layout: horizontal; height: 1fr; }
        #code { width: 3fr; }
        #findings { width: 2fr; }
        &.-narrow #panes { layout: vertical; }
        &.-narrow #code { width: 1fr; height: 3fr; }
        &.-narrow #findings { width: 1fr; height: 2fr; min-height: 5; }
        &.-short PromptEditor { height: 4; }
    }
    """

    # Class variables, as in textual's Screen; there they are spelled ClassVar[...] | None, which the
    # type checker reads as an instance variable, hence the ignores.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]  # pyright: ignore[reportIncompatibleVariableOverride]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (30, "-tall")]  # pyright: ignore[reportIncompatibleVariableOverride]

    BINDINGS: ClassVar[list[BindingType]] = bindings.MAIN

    def __init__(self, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink
        self.view: int | None = None  # iteration shown in the panes
        self.follow = True  # show each new iteration as it starts
        self.mark: int | None = None  # left side for the next comparison

    @property
    def papp(self) -> AppHost:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield PromptEditor(cursor_blink=self.cursor_blink, id="prompt")
        with Horizontal(id="toolbar"):
            yield Timeline(id="timeline")
            yield Button("✓ chosen", id="chosen", variant="success", compact=True)
            yield Button("✗ rejected", id="rejected", variant="error", compact=True)
            yield Button("⇄ compare", id="compare", compact=True)
        with Container(id="panes"):
            yield CodeView(id="code")
            yield FindingsTable(id="findings")
        yield StatusBar(id="status")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.can_focus = False  # c / x / d do the same from the keyboard; keep tab order short
        self.query_one(CodeView).border_title = "Code"
        self.query_one(FindingsTable).border_title = "Findings"
        self.query_one(PromptEditor).focus()
        self.papp.refresh_status()
        self.papp.refresh_placeholder()
        self.redraw()

    _NEEDS_RUN = frozenset({"step", "label", "mark", "compare", "copy_code", "save_code", "export"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that act on a run are hidden (and do nothing) until there is one; Esc only while running."""
        session = self.papp.session
        if action == "cancel":
            return session.live
        if action in self._NEEDS_RUN:
            return session.run is not None and bool(session.run.iterations)
        return True

    # -- drawing ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Timeline, code and findings from the session (after any change but a new token)."""
        self.refresh_timeline()
        self.show_view()
        has_run = self.papp.session.run is not None and bool(self.papp.session.run.iterations)
        for button in self.query(Button):
            button.disabled = not has_run
        self.refresh_bindings()

    def refresh_timeline(self) -> None:
        session = self.papp.session
        run = session.run
        chips: list[Chip] = []
        if run is not None:
            best = (
                run.best_index
                if session.finished == {it.index for it in run.iterations} or not session.live
                else None
            )
            for it in run.iterations:
                status, count = iteration_status(it, run.threshold, it.index in session.finished)
                chips.append(
                    Chip(
                        it.index,
                        status,
                        count,
                        best=it.index == best,
                        label=session.labels.get(it.index),
                        marked=it.index == self.mark,
                        origin=it.origin_label,
                    )
                )
        self.query_one(Timeline).set_chips(chips, self.view)

    def select(self, index: int | None, *, user: bool = False) -> None:
        run = self.papp.session.run
        if run is None or index is None or not 0 <= index < len(run.iterations):
            return
        self.view = index
        if user:
            self.follow = self.papp.session.live and index == run.iterations[-1].index
        self.refresh_timeline()
        self.show_view()

    def show_view(self) -> None:
        session = self.papp.session
        code_view = self.query_one(CodeView)
        table = self.query_one(FindingsTable)
        run = session.run
        if run is None or self.view is None or self.view >= len(run.iterations):
            code_view.border_title, code_view.border_subtitle = "Code", ""
            table.border_title, table.border_subtitle = "Findings", ""
            return
        it = run.iterations[self.view]
        finished = it.index in session.finished
        streaming = session.live and not finished
        code = shown_code(it, session.stream if streaming else None)
        code_view.show_code(code, follow=streaming)
        total = run.t_max + 1
        code_view.border_title = f"Code · v{it.index} of up to v{total - 1}"
        if streaming:
            code_view.border_subtitle = _phase_text(session)
        else:
            parts = [it.origin_label, verdict(it, run.threshold)]
            change = _change_from_previous(run.iterations, it)
            if change:
                parts.append(change)
            if run.stop_reason and it.index == run.iterations[-1].index:
                parts.append(f"stop: {run.stop_reason}")
            if it.index == run.best_index and run.stop_reason:
                parts.append("best ★")
            if it.index in session.labels:
                parts.append(session.labels[it.index])
            code_view.border_subtitle = " · ".join(parts)
        if finished:
            flagged_lines = {f.line for f in it.flagged(run.threshold)}
            code_view.set_flagged(flagged_lines)
            table.show(it.findings, it.analyzer_errors, run.threshold)
            table.border_title = f"Findings · v{it.index} · {run.analyzers}"
            counted = len(it.flagged(run.threshold))
            if it.code is None:
                table.border_subtitle = ""
            elif counted or it.analyzer_errors:
                table.border_subtitle = f"{counted} at or above {run.threshold}"
            else:
                table.border_subtitle = f"clean: nothing at or above {run.threshold}"
            if it.error and it.error != "cancelled":
                table.border_subtitle = "model error"
        else:
            live = session.live_findings.get(it.index)
            if live is not None:
                analysis = live
                code_view.set_flagged({f.line for f in analysis.flagged(run.threshold)})
                table.show(analysis.findings, analysis.errors, run.threshold)
                table.border_title = f"Findings · v{it.index} · live"
                table.border_subtitle = "fast suite on the code so far"
            else:
                code_view.set_flagged(())
                table.show([], [], run.threshold)
                table.border_title = f"Findings · v{it.index}"
                table.border_subtitle = "waiting for code"

    def show_stream(self) -> None:
        """Cheap update for new tokens: only the code pane of the live iteration."""
        session = self.papp.session
        if session.run is None or self.view != session.streaming_index or not session.live:
            return
        if self.view is None or self.view >= len(session.run.iterations):
            return  # the streamed answer was a repeat and is gone; candidates are being drawn
        code_view = self.query_one(CodeView)
        it = session.run.iterations[self.view]
        code_view.show_code(shown_code(it, session.stream), follow=True)
        code_view.border_subtitle = _phase_text(session)

    # -- events -----------------------------------------------------------------------------------

    def on_prompt_editor_submitted(self, event: PromptEditor.Submitted) -> None:
        self.papp.submit(event.text)

    def on_timeline_selected(self, event: Timeline.Selected) -> None:
        self.select(event.index, user=True)

    def on_findings_table_line_chosen(self, event: FindingsTable.LineChosen) -> None:
        self.query_one(CodeView).jump_to(event.line, focus=event.jump)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "chosen":
            self.action_label("chosen")
        elif event.button.id == "rejected":
            self.action_label("rejected")
        elif event.button.id == "compare":
            self.action_compare()

    # -- actions ----------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        self.papp.cancel_run()

    def action_step(self, delta: int) -> None:
        run = self.papp.session.run
        if run is None or not run.iterations:
            return
        current = self.view if self.view is not None else len(run.iterations) - 1
        self.select(max(0, min(len(run.iterations) - 1, current + delta)), user=True)

    def action_label(self, label: str | None) -> None:
        if self.view is None:
            self.notify("No iteration to label yet.", severity="warning")
            return
        current = self.papp.session.labels.get(self.view)
        # Pressing the same label again clears it, so one key both marks and unmarks.
        self.papp.set_label(self.view, None if label == current else label)

    def action_mark(self) -> None:
        if self.view is None:
            return
        self.mark = None if self.mark == self.view else self.view
        self.refresh_timeline()
        if self.mark is not None:
            self.notify(f"v{self.mark} marked: pick another iteration and press d to compare.", timeout=3)

    def action_compare(self) -> None:
        run = self.papp.session.run
        if run is None or len(run.iterations) < 1 or self.view is None:
            self.notify("Nothing to compare yet: run a prompt first.", severity="warning")
            return
        right = self.view
        if self.mark is not None and self.mark != right:
            left = self.mark
        else:
            left = right - 1 if right > 0 else min(1, len(run.iterations) - 1)
        self.papp.open_compare(min(left, right), max(left, right))

    def action_copy_code(self) -> None:
        self.papp.copy_code(self.view)

    def action_save_code(self) -> None:
        self.papp.save_code(self.view)

    def action_export(self) -> None:
        self.papp.export_run()

    # Not textual's Screen.action_focus(selector) (async, any selector): the bindings' focus('code')
    # names one of this screen's panes by id, and nothing calls it as the Screen's.
    def action_focus(self, pane: str) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        self.query_one(f"#{pane}").focus()


def _phase_text(session) -> str:
    if session.phase == "analyzing":
        return "analyzing…"
    if session.phase.startswith("sampling"):
        return session.phase + "…"
    return f"generating… {session.tokens} tokens"


def _change_from_previous(iterations: list[Iteration], it: Iteration) -> str:
    """ "−2 +3 vs v0": the lines this iteration changed in the code before it ("" for v0)."""
    previous = next((p for p in reversed(iterations[: it.index]) if p.code is not None), None)
    if previous is None or previous.code is None or it.code is None:
        return ""
    removed, added = change_counts(side_by_side(previous.code.splitlines(), it.code.splitlines()))
    return f"−{removed} +{added} vs v{previous.index}"
