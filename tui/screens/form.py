"""What the app's modal forms (the settings, the file dialog) share: Enter in a field or the Save button
saves, the other button cancels, as Escape does."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT]):
    FORM: ClassVar[str]  # the prefix of the form's ids: FORM-error, FORM-buttons
    SAVE_BUTTON: ClassVar[str]  # the ids of its buttons
    CANCEL_BUTTON: ClassVar[str]

    def compose_footer(self) -> ComposeResult:
        """Under the fields: the line that says what is wrong, and the Save and Cancel buttons."""
        yield Static("", id=f"{self.FORM}-error")
        with Horizontal(id=f"{self.FORM}-buttons"):
            yield Button("Save", id=self.SAVE_BUTTON, variant="primary", compact=True)
            yield Button("Cancel", id=self.CANCEL_BUTTON, compact=True)

    def action_save(self) -> None:
        """Check the form; dismiss with its result, or say what is wrong and stay."""
        raise NotImplementedError

    def action_cancel(self) -> None:
        """Dismiss with the form's "nothing chosen" result."""
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == self.SAVE_BUTTON:
            self.action_save()
        else:
            self.action_cancel()
