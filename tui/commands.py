"""Command palette (ctrl+p) entries: settings, screens, labels, exports."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from patchloop.core.backends.embedded import EMBEDDED_MODELS
from patchloop.core.config import SUITE_NAMES
from patchloop.core.types import SEVERITIES
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .host import AppHost

MODEL_CHOICES = tuple(EMBEDDED_MODELS)  # the shipped models; any other spec is typed in the settings

# One palette command per value of these settings: (apply_settings' name, config key, values, title,
# help with {} for the value).
SETTING_CHOICES = (
    ("analyzers", "loop.analyzers", SUITE_NAMES, "Analyzer suite", "Use the {} suite from the next run"),
    ("threshold", "loop.threshold", SEVERITIES, "Severity threshold", "Findings below {} do not count"),
    (
        "t_max",
        "loop.t_max",
        range(6),
        "Patch rounds t_max",
        "At most {} patch request(s) after the first attempt",
    ),
    ("model", "model.name", MODEL_CHOICES, "Model", "Load {} for the next run"),
)


class PatchloopCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: AppHost = self.app  # type: ignore[assignment]
        config = app.config
        main = app.main
        commands: list[tuple[str, Callable[[], object], str]] = [
            ("Settings…", app.action_settings, "Model, analyzer suite, t_max and threshold, in one form"),
            ("History: past runs", app.action_history, "Search past runs, replay one, run its prompt again"),
            ("Help: key bindings", app.action_help, "Every key and its id for remapping"),
            ("Cancel the run", app.cancel_run, "Stop generating now; finished iterations stay in the log"),
            (
                "Compare iterations",
                main.action_compare,
                "The shown iteration and the marked (or previous) one side by side",
            ),
            (
                "Label iteration chosen",
                partial(main.action_label, "chosen"),
                "Preferred answer for DPO pairs",
            ),
            (
                "Label iteration rejected",
                partial(main.action_label, "rejected"),
                "Dispreferred answer for DPO pairs",
            ),
            ("Clear iteration label", partial(main.action_label, None), "Remove chosen/rejected"),
            ("Copy code to the clipboard", main.action_copy_code, "The shown iteration's code"),
            ("Save code to a file…", main.action_save_code, "The shown iteration's code"),
            ("Export run as JSON…", partial(app.export_run, "json"), "Run.to_dict with labels"),
            (
                "Export run as Markdown…",
                partial(app.export_run, "markdown"),
                "A readable report of every iteration",
            ),
        ]
        for setting, key, values, title, help_text in SETTING_CHOICES:
            now = config.get(key)
            for value in values:
                current = " (current)" if value == now else ""
                commands.append(
                    (
                        f"{title}: {value}",
                        partial(app.apply_settings, **{setting: value}),
                        help_text.format(value) + current,
                    )
                )
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
