"""Ask for a file path (save code, export a run); an existing file is never overwritten."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from .. import bindings
from .form import FormScreen


class PathScreen(FormScreen[Path | None]):
    DEFAULT_CSS = """
    PathScreen {
        align: center middle;
        #path-dialog {
            width: 72; max-width: 95%; height: auto;
            border: round $accent; background: $surface; padding: 0 1;
        }
        #path-error { color: $text-error; height: auto; }
        #path-buttons { height: auto; align-horizontal: right; }
        #path-buttons Button { margin-left: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.FILE_DIALOG
    FORM, SAVE_BUTTON, CANCEL_BUTTON = "path", "path-save", "path-cancel"

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="path-dialog"):
            yield Label(self.title_text)
            yield Input(self.default, id="path-input")
            yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#path-dialog").border_title = "Save to a file"
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)

    def action_save(self) -> None:
        raw = self.query_one(Input).value.strip()
        error = self.query_one("#path-error", Static)
        if not raw:
            error.update("Give a file name.")
            return
        path = Path(raw).expanduser()
        if path.exists():
            error.update(f"{path} already exists; pick another name (nothing is overwritten).")
            return
        if not path.parent.is_dir():
            error.update(f"The folder {path.parent} does not exist.")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
