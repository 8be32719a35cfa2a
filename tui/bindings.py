"""Every key binding of the app, by scope, with the scope titles the help screen shows.

One plain table: the app, the screens and the widgets take their ``BINDINGS`` from here, and the
binding catalogue (``keys.py``: help screen, docs/KEYS.md, keymap checks) reads the same table, so
nothing has to import a screen to learn its keys. Every binding has an id; ``[keys]`` in the config
file maps ids to new keys (Textual keymaps).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

APP: list[BindingType] = [
    Binding(
        "ctrl+q",
        "quit",
        "Quit",
        priority=True,
        id="quit",
        tooltip="Quit (a run in progress is cancelled first; finished iterations stay in the log)",
    ),
    # Only while a run streams (see the app's check_action); otherwise ctrl+c copies, as in any TextArea.
    Binding(
        "ctrl+c",
        "interrupt",
        "Cancel run",
        show=False,
        priority=True,
        id="interrupt",
        tooltip="Cancel the run (only while one runs; otherwise ctrl+c copies)",
    ),
    Binding(
        "ctrl+p",
        "command_palette",
        "Palette",
        priority=True,
        id="command_palette",
        tooltip="Command palette: settings, exports, labels, every action",
    ),
    Binding(
        "f1,question_mark",
        "help",
        "Help",
        id="help",
        tooltip="This list of keys",
    ),
    Binding(
        "ctrl+r",
        "history",
        "History",
        show=False,
        id="history",
        tooltip="History of past runs",
    ),
    Binding(
        "ctrl+o",
        "settings",
        "Settings",
        show=False,
        id="settings",
        tooltip="Settings: model, analyzer suite, t_max, severity threshold",
    ),
]

PROMPT: list[BindingType] = [
    # ctrl+j is what most terminals send for ctrl+enter; alt+enter as in other Textual chat apps.
    Binding(
        "ctrl+j,alt+enter",
        "submit",
        "Send",
        id="send",
        tooltip="Send the prompt (enter adds a line)",
    ),
]

MAIN: list[BindingType] = [
    Binding(
        "escape",
        "cancel",
        "Stop",
        id="cancel",
        tooltip="Cancel the run at once (finished iterations stay in the log)",
    ),
    Binding(
        "left_square_bracket",
        "step(-1)",
        "Prev",
        id="previous_iteration",
        tooltip="Show the previous iteration",
    ),
    Binding(
        "right_square_bracket",
        "step(1)",
        "Next",
        id="next_iteration",
        tooltip="Show the next iteration",
    ),
    Binding(
        "c",
        "label('chosen')",
        "Choose",
        id="label_chosen",
        tooltip="Label the shown iteration chosen (again: clear)",
    ),
    Binding(
        "x",
        "label('rejected')",
        "Reject",
        id="label_rejected",
        tooltip="Label the shown iteration rejected (again: clear)",
    ),
    Binding(
        "u",
        "label(None)",
        "Unlabel",
        show=False,
        id="label_clear",
        tooltip="Clear the shown iteration's label",
    ),
    Binding(
        "m",
        "mark",
        "Mark",
        show=False,
        id="mark_compare",
        tooltip="Mark the shown iteration as the left side of a comparison",
    ),
    Binding(
        "d",
        "compare",
        "Compare",
        id="compare",
        tooltip="Compare two iterations side by side (marked or previous vs shown)",
    ),
    Binding(
        "y",
        "copy_code",
        "Copy",
        show=False,
        id="copy_code",
        tooltip="Copy the shown code to the clipboard",
    ),
    Binding(
        "ctrl+s",
        "save_code",
        "Save code",
        show=False,
        id="save_code",
        tooltip="Save the shown code to a file",
    ),
    Binding(
        "e",
        "export",
        "Export",
        show=False,
        id="export_run",
        tooltip="Export the run to a file (.json, or .md for Markdown)",
    ),
    Binding(
        "f2,alt+1",
        "focus('prompt')",
        "Prompt",
        show=False,
        id="focus_prompt",
        tooltip="Focus the prompt",
    ),
    Binding(
        "f3,alt+2",
        "focus('timeline')",
        "Timeline",
        show=False,
        id="focus_timeline",
        tooltip="Focus the timeline",
    ),
    Binding(
        "f4,alt+3",
        "focus('code')",
        "Code",
        show=False,
        id="focus_code",
        tooltip="Focus the code pane",
    ),
    Binding(
        "f5,alt+4",
        "focus('findings')",
        "Findings",
        show=False,
        id="focus_findings",
        tooltip="Focus the findings pane",
    ),
]

TIMELINE: list[BindingType] = [
    Binding(
        "left",
        "step(-1)",
        "Previous",
        show=False,
        id="timeline_previous",
        tooltip="Previous iteration",
    ),
    Binding(
        "right",
        "step(1)",
        "Next",
        show=False,
        id="timeline_next",
        tooltip="Next iteration",
    ),
    Binding(
        "home",
        "first",
        "First",
        show=False,
        id="timeline_first",
        tooltip="First iteration",
    ),
    Binding(
        "end",
        "last",
        "Last",
        show=False,
        id="timeline_last",
        tooltip="Last iteration",
    ),
]

COMPARE: list[BindingType] = [
    Binding(
        "escape,q",
        "close",
        "Back",
        id="compare_close",
        tooltip="Back to the main screen",
    ),
    Binding(
        "left,left_square_bracket",
        "step(-1)",
        "Step back",
        id="compare_previous",
        tooltip="Step both sides back one iteration",
    ),
    Binding(
        "right,right_square_bracket",
        "step(1)",
        "Step forward",
        id="compare_next",
        tooltip="Step both sides forward one iteration",
    ),
    Binding(
        "comma",
        "left(-1)",
        "Left −",
        id="compare_left_previous",
        tooltip="Left side: previous iteration",
    ),
    Binding(
        "full_stop",
        "left(1)",
        "Left +",
        id="compare_left_next",
        tooltip="Left side: next iteration",
    ),
]

HISTORY: list[BindingType] = [
    Binding(
        "escape",
        "close",
        "Back",
        id="history_close",
        tooltip="Back to the main screen",
    ),
    Binding(
        "enter",
        "open",
        "Replay",
        show=False,
        id="history_open",
        tooltip="Replay the selected run (read-only)",
    ),
    Binding(
        "r",
        "rerun",
        "Run again",
        id="history_rerun",
        tooltip="Run the selected run's prompt again",
    ),
    Binding(
        "ctrl+f,slash",
        "search",
        "Search",
        id="history_search",
        tooltip="Search prompts",
    ),
]

SETTINGS: list[BindingType] = [
    Binding(
        "ctrl+s",
        "save",
        "Save",
        id="settings_save",
        tooltip="Save the settings",
    ),
    Binding(
        "escape",
        "cancel",
        "Cancel",
        id="settings_cancel",
        tooltip="Close without saving",
    ),
]

HELP: list[BindingType] = [
    Binding(
        "escape,f1,q,question_mark",
        "close",
        "Close",
        id="help_close",
        tooltip="Close this list",
    ),
]

FILE_DIALOG: list[BindingType] = [
    Binding("escape", "cancel", "Cancel", id="path_cancel", tooltip="Close without saving"),
]


@dataclass(frozen=True)
class Scope:
    """Where a group of bindings acts: its name in the catalogue and its title on the help screen."""

    name: str
    title: str
    bindings: list[BindingType]


# In the order the help screen and docs/KEYS.md list them.
SCOPES: tuple[Scope, ...] = (
    Scope("everywhere", "Everywhere", APP),
    Scope("prompt", "Prompt editor", PROMPT),
    Scope("main", "Main screen (letters: prompt not focused)", MAIN),
    Scope("timeline", "Timeline (focused)", TIMELINE),
    Scope("compare", "Compare screen", COMPARE),
    Scope("history", "History screen", HISTORY),
    Scope("settings", "Settings", SETTINGS),
    Scope("help", "This screen", HELP),
    Scope("file dialog", "File dialog", FILE_DIALOG),
)
