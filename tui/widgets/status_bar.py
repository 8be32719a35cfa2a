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


_TONE = {"muted": "$text-muted", "busy": "$text-accent", "ok": "$text-success", "warn": "$text-warning",
         "error": "$text-error"}
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
        # Most important first; whatever does not fit at the right end is dropped, never wrapped.
        parts = [Content.from_markup("[b]patchloop[/b]"), state]
        for text in (s.model, s.device, s.rate, s.elapsed, s.settings):
            if text:
                parts.append(Content(text))
        separator = Content(" │ ").stylize("$text-muted 50%")
        out = parts[0]
        for part in parts[1:]:
            candidate = out + separator + part
            if candidate.cell_length > width:
                if part is state:
                    out = candidate.truncate(width, ellipsis=True)
                break
            out = candidate
        return out
