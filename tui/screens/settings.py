"""Settings for the next run: model and engine, analyzer suite, language, t_max, severity threshold, and how
flagged code is repaired (autofix, request style, candidates); saved to the config file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from patchloop.core.backends.embedded import EMBEDDED_MODELS
from patchloop.core.config import CANDIDATES_RANGE, ENGINES, SUITE_NAMES, T_MAX_RANGE, Config
from patchloop.core.feedback import FEEDBACK_STYLES
from patchloop.core.languages import ANALYZED, display_name
from patchloop.core.types import SEVERITIES
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Vertical
from textual.widgets import Input, Label, Select, Static

from .. import bindings
from .form import FormScreen

SUITE_HELP = {
    "defects": "defects (the Svace role: pylint, pyright, ruff, AST checks)",
    "security": "security (the Bandit role: bandit, ruff S rules)",
    "all": "all (defects and security)",
}
ENGINE_HELP = {
    "auto": "auto (llama.cpp for GGUF on a CPU)",
    "llama.cpp": "llama.cpp",
    "transformers": "transformers",
}
LANGUAGE_CHOICES = [
    ("auto (the prompt's, else the answer's fence, else Python)", "auto"),
    *((display_name(lang) if lang != "python" else "Python", lang) for lang in ANALYZED),
]
FEEDBACK_HELP = {
    "fresh": "fresh request: task, code, framed findings, hints",
    "chat": "chat: appended (the paper's)",
}
# The drop-downs' (text, value) pairs.
ENGINE_CHOICES = [(ENGINE_HELP.get(e, e), e) for e in ENGINES]
SUITE_CHOICES = [(SUITE_HELP[s], s) for s in SUITE_NAMES]
THRESHOLD_CHOICES = [(f"{s} and above" if s != "error" else "error only", s) for s in SEVERITIES]
AUTOFIX_CHOICES = [("on: deterministic rewrites first", True), ("off", False)]
FEEDBACK_CHOICES = [(FEEDBACK_HELP.get(f, f), f) for f in FEEDBACK_STYLES]


class SettingsScreen(FormScreen[bool]):
    DEFAULT_CSS = """
    SettingsScreen {
        align: center middle;
        #settings-dialog {
            width: 76; max-width: 100%; height: auto; max-height: 100%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        #settings-grid { grid-size: 2; grid-columns: 18 1fr; grid-rows: auto; height: auto; grid-gutter: 0 1; }
        #settings-grid Label { padding-top: 0; }
        #settings-hint { color: $text-muted; height: auto; }
        #settings-error { color: $text-error; height: auto; }
        #settings-buttons { height: auto; align-horizontal: right; margin-top: 1; }
        #settings-buttons Button { margin-left: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings.SETTINGS
    FORM, SAVE_BUTTON, CANCEL_BUTTON = "settings", "settings-save-button", "settings-cancel-button"

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        config = self.config
        with Vertical(id="settings-dialog"):
            with Grid(id="settings-grid"):
                yield Label("Model")
                yield Input(config.model.name, id="settings-model", compact=True)
                yield from _choice("Engine", ENGINE_CHOICES, config.model.engine, "settings-engine")
                yield from _choice("Analyzer suite", SUITE_CHOICES, config.loop.analyzers, "settings-suite")
                yield from _choice("Language", LANGUAGE_CHOICES, config.loop.language, "settings-language")
                yield Label("Patch rounds t_max")
                yield Input(str(config.loop.t_max), type="integer", id="settings-tmax", compact=True)
                yield from _choice(
                    "Severity threshold", THRESHOLD_CHOICES, config.loop.threshold, "settings-threshold"
                )
                yield from _choice("Autofix", AUTOFIX_CHOICES, config.loop.autofix, "settings-autofix")
                yield from _choice(
                    "Repair requests", FEEDBACK_CHOICES, config.loop.feedback, "settings-feedback"
                )
                yield Label("Candidates")
                yield Input(
                    str(config.loop.candidates), type="integer", id="settings-candidates", compact=True
                )
            yield Static(
                f"Model: {', '.join(EMBEDDED_MODELS)}, a Hugging Face id or folder, or openai:NAME. "
                f"t_max {_span(T_MAX_RANGE)}; candidates {_span(CANDIDATES_RANGE)} (answers sampled when "
                "a repair repeats). Changes apply to the next run and are saved to "
                f"{config.path or 'the config file'}.",
                id="settings-hint",
            )
            yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#settings-dialog").border_title = "Settings"
        blink = getattr(self.app, "cursor_blink", True)
        for field in self.query(Input):
            field.cursor_blink = blink
        self.query_one("#settings-model", Input).focus()

    def action_save(self) -> None:
        error = self.query_one("#settings-error", Static)
        model = self.query_one("#settings-model", Input).value.strip()
        raw_t_max = self.query_one("#settings-tmax", Input).value.strip()
        if not model:
            error.update("Give a model name.")
            return
        low, high = T_MAX_RANGE
        try:
            t_max = int(raw_t_max)
        except ValueError:
            error.update(f"t_max must be a whole number from {low} to {high}, not {raw_t_max!r}.")
            return
        if not low <= t_max <= high:
            error.update(f"t_max must be from {low} to {high}, not {t_max}.")
            return
        raw_candidates = self.query_one("#settings-candidates", Input).value.strip()
        low, high = CANDIDATES_RANGE
        try:
            candidates = int(raw_candidates)
        except ValueError:
            candidates = low - 1
        if not low <= candidates <= high:
            error.update(f"candidates must be a whole number from {low} to {high}, not {raw_candidates!r}.")
            return
        changed = self.app.apply_settings(  # type: ignore[attr-defined]
            model=model,
            engine=str(self.query_one("#settings-engine", Select).value),
            analyzers=str(self.query_one("#settings-suite", Select).value),
            language=str(self.query_one("#settings-language", Select).value),
            t_max=t_max,
            threshold=str(self.query_one("#settings-threshold", Select).value),
            autofix=bool(self.query_one("#settings-autofix", Select).value),
            feedback=str(self.query_one("#settings-feedback", Select).value),
            candidates=candidates,
        )
        if changed:
            self.dismiss(True)
        else:
            error.update("Not saved: see the notification.")

    def action_cancel(self) -> None:
        self.dismiss(False)


def _choice(label: str, choices: Iterable[tuple[str, object]], value: object, id: str) -> ComposeResult:
    """A labelled drop-down row of the settings grid (no blank choice)."""
    yield Label(label)
    yield Select(choices, value=value, allow_blank=False, id=id, compact=True)


def _span(limits: tuple[int, int]) -> str:
    return f"{limits[0]}-{limits[1]}"
