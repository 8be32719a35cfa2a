"""The status line: what the app is doing, the model and where it runs, speed and elapsed time."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.content import Content
from textual.widget import Widget


@dataclass(frozen=True)
class Status:
    state: str = "starting"  # loading model | ready | generating v1 | analyzing v1 | done: clean | error ...
    tone: str = "muted"  # muted | busy | ok | warn | error
    model: str = ""
    device: str = ""
    rate: str = ""
    elapsed: str = ""
    settings: str = ""  # the settings the next run uses: suite, t_max, threshold


_TONE = {
    "muted": "$text-muted",
    "busy": "$text-accent",
    "ok": "$text-success",
    "warn": "$text-warning",
    "error": "$text-error",
}
_DOT = {"busy": "●", "ok": "●", "warn": "●", "error": "●", "muted": "○"}


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = Status()

    def update(self, **changes: str) -> None:
        status = replace(self.status, **changes)
        if status != self.status:
            self.status = status
            self.refresh()

    def render(self) -> Content:
        s = self.status
        width = self.content_size.width or 80
        state = Content(f"{_DOT.get(s.tone, '○')} {s.state}").stylize(_TONE.get(s.tone, "$text"))
        brand = Content.from_markup("[b]patchloop[/b]")
        # (priority, part) in display order; the least important parts go first when space runs out.
        parts = [(6, brand), (0, state)] + [
            (priority, Content(text))
            for priority, text in ((1, s.model), (2, s.device), (3, s.rate), (4, s.elapsed), (5, s.settings))
            if text
        ]
        separator = Content(" │ ").stylize("$text-muted 50%")

        def joined(items: list[tuple[int, Content]]) -> Content:
            return separator.join(part for _, part in items)

        while len(parts) > 1 and joined(parts).cell_length > width:
            parts.remove(max(parts, key=lambda item: item[0]))
        return joined(parts).truncate(width, ellipsis=True)
