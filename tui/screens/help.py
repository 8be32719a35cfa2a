"""Every key binding, with the id to remap it under [keys] in the config file."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..keys import binding_catalogue


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-dialog {
            width: 100; max-width: 100%; height: 90%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        #help-intro { height: auto; color: $text-muted; }
        #help-table { height: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,f1,q,question_mark", "close", "Close",
            id="help_close",
            tooltip="Close this list",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(
                "Letter keys act when the prompt is not focused (Esc or tab leaves it). Remap any key "
                "in the config file, e.g.  [keys]  compare = \"v\".",
                id="help-intro",
            )
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Keys"
        table = self.query_one(DataTable)
        table.add_columns("where", "key", "id", "does")
        keys = getattr(self.app, "config", None)
        keymap = keys.keys if keys is not None else {}
        for entry in binding_catalogue(keymap):
            table.add_row(entry.scope, entry.keys, entry.id, entry.description)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
