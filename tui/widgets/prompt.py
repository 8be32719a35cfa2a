"""The prompt editor: a multi-line TextArea; ctrl+j (or alt+enter) sends, enter adds a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import BindingType
from textual.message import Message
from textual.widgets import TextArea

from .. import bindings


class PromptEditor(TextArea):
    DEFAULT_CSS = """
    PromptEditor {
        height: 6;
        border: round $foreground 25%;
        border-title-color: $text-muted;
        padding: 0 1;
        &:focus { border: round $accent; border-title-color: $text; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.PROMPT

    @dataclass
    class Submitted(Message):
        editor: PromptEditor
        text: str

        @property
        def control(self) -> PromptEditor:
            return self.editor

    def __init__(self, *, cursor_blink: bool = True, id: str | None = None) -> None:
        super().__init__(
            "",
            language=None,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder="Describe the code you want, then press ctrl+j to send (enter adds a line).",
            id=id,
        )
        self.cursor_blink = cursor_blink
        self.border_title = "Prompt"

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))
