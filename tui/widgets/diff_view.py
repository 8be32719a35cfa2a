"""Two iterations' code side by side, aligned by difflib, with removed and added lines highlighted.

Lines with findings carry a ● in the gutter. Long lines are cut at the column edge (each side gets
half the width); the full code is always in the code pane.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..diffing import DiffRow, change_counts, side_by_side
from ..highlight import highlight_lines
from .pane import pane_css


def code_lines(code: str | None) -> list[str]:
    if not code:
        return []
    return code.rstrip("\n").split("\n")


class DiffView(ScrollView, can_focus=True):
    DEFAULT_CSS = pane_css(
        "DiffView",
        """
        & > .diff-view--removed { background: $error 22%; }
        & > .diff-view--added { background: $success 22%; }
        & > .diff-view--filler { background: $boost; }
        & > .diff-view--gutter { color: $text-muted; }
        & > .diff-view--flagged { color: $text-error; text-style: bold; }
        & > .diff-view--divider { color: $border; }
        """,
    )

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--removed",
        "diff-view--added",
        "diff-view--filler",
        "diff-view--gutter",
        "diff-view--flagged",
        "diff-view--divider",
    }

    def __init__(self, *, language: str = "python", id: str | None = None) -> None:
        super().__init__(id=id)
        self.language = language
        self.rows: list[DiffRow] = []
        self._left: list[Content] = []
        self._right: list[Content] = []
        self._left_flagged: frozenset[int] = frozenset()
        self._right_flagged: frozenset[int] = frozenset()

    def set_pair(
        self,
        left_code: str | None,
        right_code: str | None,
        *,
        left_flagged: Iterable[int] = (),
        right_flagged: Iterable[int] = (),
    ) -> tuple[int, int]:
        """Show two versions; returns (lines removed, lines added)."""
        left, right = code_lines(left_code), code_lines(right_code)
        self.rows = side_by_side(left, right)
        self._left = highlight_lines("\n".join(left), self.language) if left else []
        self._right = highlight_lines("\n".join(right), self.language) if right else []
        self._left_flagged = frozenset(left_flagged)
        self._right_flagged = frozenset(right_flagged)
        self.virtual_size = Size(0, len(self.rows))
        self.scroll_to(y=0, animate=False)
        self.refresh()
        return change_counts(self.rows)

    def _side(
        self,
        index: int | None,
        lines: list[Content],
        flagged: frozenset[int],
        changed: str | None,
        width: int,
    ) -> Content:
        if index is None:
            return Content(" " * width).stylize(self.get_visual_style("diff-view--filler", partial=True))
        number = index + 1
        mark = (
            Content("●").stylize(self.get_visual_style("diff-view--flagged", partial=True))
            if number in flagged
            else Content(" ")
        )
        gutter = Content(f"{number:>4}").stylize(self.get_visual_style("diff-view--gutter", partial=True))
        code = lines[index] if index < len(lines) else Content("")
        code = code.expand_tabs(4)
        body_width = max(0, width - 6)
        line = gutter + mark + Content(" ") + code.truncate(body_width, ellipsis=True, pad=True)
        line = line.truncate(width, pad=True)
        if changed:
            line = line.stylize_before(self.get_visual_style(changed, partial=True))
        return line

    def render_line(self, y: int) -> Strip:
        _, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows) or width < 3:
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        half = (width - 1) // 2
        left = self._side(
            row.left,
            self._left,
            self._left_flagged,
            "diff-view--removed" if row.kind in ("replace", "delete") else None,
            half,
        )
        right = self._side(
            row.right,
            self._right,
            self._right_flagged,
            "diff-view--added" if row.kind in ("replace", "insert") else None,
            width - 1 - half,
        )
        divider = Content("│").stylize(self.get_visual_style("diff-view--divider", partial=True))
        line = left + divider + right
        return Strip(line.render_segments(self.visual_style), width)
