"""The prompt editor: a multi-line TextArea; ctrl+j (or alt+enter) sends, enter adds a line."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea


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

    BINDINGS: ClassVar[list[BindingType]] = [
        # ctrl+j is what most terminals send for ctrl+enter; alt+enter as in other Textual chat apps.
        Binding(
            "ctrl+j,alt+enter", "submit", "Send",
            id="send",
            tooltip="Send the prompt (enter adds a line)",
        ),
    ]

    class Submitted(Message):
        def __init__(self, editor: PromptEditor, text: str) -> None:
            super().__init__()
            self.editor = editor
            self.text = text

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
