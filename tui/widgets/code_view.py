"""The code pane: a read-only TextArea that shows one iteration's code, streamed in as it comes.

Colouring comes from ``get_line`` (TextArea's documented hook for styling lines), so it works
without tree-sitter. Lines with findings carry a mark, and a finding's line can be jumped to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.content import Content
from textual.widgets import TextArea

from ..highlight import highlight_lines, to_rich_text


class CodeView(TextArea):
    DEFAULT_CSS = """
    CodeView {
        height: 1fr;
        border: round $foreground 25%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus { border: round $accent; border-title-color: $text; }
        & > .code-view--flagged { background: $error 25%; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"code-view--flagged"}

    def __init__(self, *, language: str = "python", id: str | None = None) -> None:
        super().__init__(
            "", language=None, read_only=True, soft_wrap=False, show_line_numbers=True,
            highlight_cursor_line=True, tab_behavior="focus", id=id,
        )
        self.cursor_blink = False
        self.code_language = language
        self._lines: list[Content] = []
        self._rich_lines: dict[int, Text] = {}
        self._flagged: frozenset[int] = frozenset()

    def on_mount(self) -> None:
        # Theme colours are resolved when a line is drawn; drop cached lines when the theme changes.
        self.watch(self.app, "theme", lambda: self._restyle(), init=False)

    # -- content ----------------------------------------------------------------------------------

    def show_code(self, code: str, *, follow: bool = False) -> None:
        """Show ``code``; appending to what is shown keeps the view where it is (or at the end when
        ``follow``), anything else replaces it."""
        current = self.text
        if code == current:
            return
        self._lines = highlight_lines(code, self.code_language)
        self._rich_lines.clear()
        if current and code.startswith(current):
            self.insert(code[len(current):], self.document.end)
        else:
            self.load_text(code)
        if follow:
            self.scroll_end(animate=False, immediate=False)

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
