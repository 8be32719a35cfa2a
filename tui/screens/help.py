"""Every key binding, with the id to remap it under [keys] in the config file."""

from __future__ import annotations

from itertools import groupby
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .. import bindings
from ..keys import binding_catalogue

_SCOPE_TITLES = {scope.name: scope.title for scope in bindings.SCOPES}


def help_tables(keymap: dict[str, str]) -> Group:
    """One rich table per scope (rich wraps long descriptions instead of cutting them off)."""
    tables = []
    for scope, entries in groupby(binding_catalogue(keymap), key=lambda e: e.scope):
        table = Table(
            box=None,
            expand=True,
            show_header=False,
            padding=(0, 1),
            title_justify="left",
            title=Text(_SCOPE_TITLES.get(scope, scope), style="bold underline"),
        )
        table.add_column("key", no_wrap=True, style="bold", width=18)
        table.add_column("does", ratio=1)
        table.add_column("id", no_wrap=True, style="dim", width=22)
        for entry in entries:
            table.add_row(entry.keys, entry.description, entry.id)
        tables.append(table)
        tables.append(Text(""))
    return Group(*tables)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-dialog {
            width: 100; max-width: 100%; height: 90%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        #help-intro { height: auto; color: $text-muted; margin-bottom: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.HELP

    def compose(self) -> ComposeResult:
        config = getattr(self.app, "config", None)
        keymap = config.keys if config is not None else {}
        with VerticalScroll(id="help-dialog"):
            yield Static(
                'Remap any key in the config file\'s [keys] table by its id, e.g.  compare = "v"  '
                '(several keys: "v,ctrl+d"). Letter keys act when the prompt is not focused: tab leaves it.',
                id="help-intro",
                markup=False,
            )
            yield Static(help_tables(keymap), id="help-table")

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "Keys"
        dialog.border_subtitle = "esc closes"
        dialog.focus()

    def action_close(self) -> None:
        self.dismiss(None)
