"""The code pane: a read-only TextArea that shows one iteration's code, streamed in as it comes.

Colouring comes from ``get_line`` (TextArea's documented hook for styling lines), so it works
without tree-sitter. Lexing runs in a worker thread: a long answer streaming in never stalls the
UI; lines not lexed yet show plain until the worker catches up. Lines with findings are marked,
and a finding's line can be jumped to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.style import Style as RichStyle
from rich.text import Text
from textual import work
from textual.content import Content
from textual.widgets import TextArea
from textual.widgets.text_area import TextAreaTheme
from textual.worker import get_current_worker

from ..highlight import highlight_lines, to_rich_text
from .pane import pane_css


class CodeView(TextArea):
    DEFAULT_CSS = pane_css(
        "CodeView",
        """
        & > .code-view--flagged { background: $error 25%; }
        & > .code-view--cursor-line { background: $boost; }
        """,
    )

    COMPONENT_CLASSES: ClassVar[set[str]] = {"code-view--flagged", "code-view--cursor-line"}

    def __init__(self, *, language: str = "python", id: str | None = None) -> None:
        super().__init__(
            "",
            language=None,
            read_only=True,
            soft_wrap=False,
            show_line_numbers=True,
            highlight_cursor_line=True,
            tab_behavior="focus",
            id=id,
        )
        self.cursor_blink = False
        self.code_language = language
        self._lines: list[Content] = []
        self._rich_lines: dict[int, Text] = {}
        self._flagged: frozenset[int] = frozenset()

    def on_mount(self) -> None:
        # Theme colours are resolved when a line is drawn; drop cached lines when the theme changes.
        self.watch(self.app, "theme", self._on_theme, init=True)

    def _on_theme(self) -> None:
        # TextArea's default cursor-line style carries a text colour that would paint over the syntax
        # colours; this theme keeps only its background (the rest still comes from the CSS).
        background = self.get_component_rich_style("code-view--cursor-line").bgcolor
        self.register_theme(
            TextAreaTheme(name="patchloop-code", cursor_line_style=RichStyle(bgcolor=background))
        )
        self.theme = "patchloop-code"
        self._restyle()

    # -- content ----------------------------------------------------------------------------------

    def show_code(self, code: str, *, follow: bool = False) -> None:
        """Show ``code``; appending to what is shown keeps the view where it is (or at the end when
        ``follow``), anything else replaces it."""
        current = self.text
        if code == current:
            return
        self._highlight(code)
        if current and code.startswith(current):
            self.insert(code[len(current) :], self.document.end)
        else:
            self.load_text(code)
        if follow:
            self.scroll_end(animate=False, immediate=False)

    @work(thread=True, exclusive=True, group="code-highlight", exit_on_error=False)
    def _highlight(self, code: str) -> None:
        lines = highlight_lines(code, self.code_language)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply_highlight, code, lines)

    def _apply_highlight(self, code: str, lines: list[Content]) -> None:
        if code == self.text:  # else a newer text is on its way to being lexed
            self._lines = lines
            self._restyle()

    def set_flagged(self, lines: Iterable[int]) -> None:
        """1-based line numbers that have findings."""
        flagged = frozenset(lines)
        if flagged != self._flagged:
            self._flagged = flagged
            self._restyle()

    def jump_to(self, line: int, *, focus: bool = False) -> None:
        """Select a 1-based line and scroll it to the middle of the pane."""
        index = min(max(line, 1), self.document.line_count) - 1
        self.select_line(index)
        self.scroll_cursor_visible(center=True, animate=False)
        if focus:
            self.focus()

    def _restyle(self) -> None:
        self._rich_lines.clear()
        self.notify_style_update()
        self.refresh()

    # -- drawing ----------------------------------------------------------------------------------

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        if line_index < len(self._lines) and self._lines[line_index].plain == line.plain:
            rich = self._rich_lines.get(line_index)
            if rich is None:
                rich = self._rich_lines[line_index] = to_rich_text(self._lines[line_index], self.visual_style)
            line = rich.copy()
        if line_index + 1 in self._flagged and line.plain:
            line.stylize(self.get_component_rich_style("code-view--flagged", partial=True))
        return line
