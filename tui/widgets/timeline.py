"""The iteration timeline: v0, v1 … vN in one row, with each one's origin (``fix``: autofix,
``2/4``: the second of four sampled candidates), verdict, the best one starred and the human
labels; left/right (or a click) picks the iteration the panes show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .. import bindings


@dataclass(frozen=True)
class Chip:
    index: int
    status: str  # running | clean | flagged | error | cancelled
    count: int = 0  # findings at or above the threshold
    best: bool = False
    label: str | None = None  # chosen | rejected
    marked: bool = False  # the left side of the next comparison
    origin: str = "model"  # model | autofix | "candidate k/N" (Iteration.origin_label)


_STATUS_MARK = {
    "running": ("…", "$text-accent"),
    "clean": ("✓", "$text-success"),
    "flagged": ("✗", "$text-warning"),
    "error": ("!", "$text-error"),
    "cancelled": ("⊘", "$text-muted"),
}
_SEPARATOR = Content(" │ ").stylize("$text-muted")


class Timeline(Widget, can_focus=True):
    DEFAULT_CSS = """
    Timeline {
        height: 1;
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
        &:focus { background: $boost; color: $text; }
        & > .timeline--selected { background: $accent 35%; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"timeline--selected"}

    BINDINGS: ClassVar[list[BindingType]] = bindings.TIMELINE

    selected: reactive[int | None] = reactive(None, init=False)

    @dataclass
    class Selected(Message):
        """The user picked an iteration."""

        timeline: Timeline
        index: int

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chips: list[Chip] = []
        self._spans: list[tuple[int, int, int]] = []  # (x start, x end, iteration index) as drawn

    def set_chips(self, chips: list[Chip], selected: int | None) -> None:
        self.chips = list(chips)
        self.set_reactive(Timeline.selected, selected)
        self.refresh()

    def watch_selected(self) -> None:
        self.refresh()

    def _chip(self, chip: Chip) -> Content:
        mark, colour = _STATUS_MARK.get(chip.status, ("?", "$text"))
        parts = [Content(f"v{chip.index} ")]
        if chip.origin == "autofix":
            parts.append(Content("fix ").stylize("$text-accent"))  # a deterministic rewrite, no model call
        elif chip.origin.startswith("candidate"):
            k_of_n = chip.origin.split()[1:2]  # "candidate 2/4 rewrite" -> "2/4"
            parts.append(Content(" ".join(k_of_n) + " ").stylize("$text-accent"))
        parts.append(Content(mark).stylize(colour))
        if chip.status == "flagged":
            parts.append(Content(str(chip.count)).stylize(colour))
        if chip.best:
            parts.append(Content(" ★").stylize("$text-warning"))
        if chip.label:
            parts.append(
                Content(f" {chip.label}").stylize(
                    "$text-success" if chip.label == "chosen" else "$text-error"
                )
            )
        if chip.marked:
            parts.append(Content(" ◆").stylize("$text-accent"))
        content = Content(" ") + Content("").join(parts) + Content(" ")
        if chip.index == self.selected:
            content = content.stylize(self.get_visual_style("timeline--selected", partial=True))
        return content

    def render(self) -> Content:
        if not self.chips:
            return Content("no iterations yet").stylize("$text-muted italic")
        chips = [(chip.index, self._chip(chip)) for chip in self.chips]
        width = self.content_size.width or 80
        start = 0
        selected_pos = next(
            (i for i, (index, _) in enumerate(chips) if index == self.selected), len(chips) - 1
        )

        def needed(first: int) -> int:
            shown = chips[first : selected_pos + 1]
            return (
                sum(c.cell_length for _, c in shown)
                + _SEPARATOR.cell_length * (len(shown) - 1)
                + (2 if first else 0)
            )

        while start < selected_pos and needed(start) > width:
            start += 1
        out = Content("‹ ").stylize("$text-muted") if start else Content("")
        self._spans = []
        for position, (index, content) in enumerate(chips[start:]):
            if position:
                out = out + _SEPARATOR
            self._spans.append((out.cell_length, out.cell_length + content.cell_length, index))
            out = out + content
        return out

    # -- input ------------------------------------------------------------------------------------

    def _pick(self, index: int) -> None:
        if any(chip.index == index for chip in self.chips):
            self.selected = index
            self.post_message(self.Selected(self, index))

    def on_click(self, event: events.Click) -> None:
        x = event.x - self.styles.padding.left
        for start, end, index in self._spans:
            if start <= x < end:
                self._pick(index)
                return

    def action_step(self, delta: int) -> None:
        indices = [chip.index for chip in self.chips]
        if not indices:
            return
        current = indices.index(self.selected) if self.selected in indices else len(indices) - 1
        self._pick(indices[max(0, min(len(indices) - 1, current + delta))])

    def action_first(self) -> None:
        if self.chips:
            self._pick(self.chips[0].index)

    def action_last(self) -> None:
        if self.chips:
            self._pick(self.chips[-1].index)
