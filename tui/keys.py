"""The catalogue of the app's key bindings (the table in ``bindings.py``): for the help screen,
docs/KEYS.md and keymap checks.

Every binding has an id; ``[keys]`` in the config file maps ids to new keys (Textual keymaps).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import key_to_character

from .bindings import SCOPES


@dataclass(frozen=True)
class KeyEntry:
    scope: str
    id: str
    keys: str  # as shown: "ctrl+j, alt+enter"
    description: str
    action: str


def show_key(key: str) -> str:
    """'[' for left_square_bracket, '?' for question_mark; named keys (enter, left) stay words."""
    character = key_to_character(key)
    if character is not None and len(character) == 1 and character.isprintable() and character != " ":
        return character
    return {"escape": "esc"}.get(key, key)


def show_keys(keys: str) -> str:
    return ", ".join(show_key(key.strip()) for key in keys.split(","))


def binding_catalogue(keymap: dict[str, str] | None = None) -> list[KeyEntry]:
    """Every binding, with the keys from ``keymap`` (binding id -> keys) where it remaps one."""
    keymap = keymap or {}
    entries = []
    for scope in SCOPES:
        for binding in scope.bindings:
            assert isinstance(binding, Binding) and binding.id, f"binding without an id in {scope.name}"
            keys = keymap.get(binding.id, binding.key)
            description = binding.tooltip or binding.description
            entries.append(KeyEntry(scope.name, binding.id, show_keys(keys), description, binding.action))
    return entries


def binding_ids() -> set[str]:
    return {entry.id for entry in binding_catalogue()}


def keymap_problems(keymap: dict[str, str]) -> list[str]:
    """What is wrong with a ``[keys]`` table: ids that name no binding, and keys the table puts on
    two bindings that act in the same place (one screen, or a screen and "everywhere"). A clash
    the table did not cause (two built-in bindings) is not reported."""
    entries = binding_catalogue(keymap)
    problems = []
    unknown = sorted(set(keymap) - {entry.id for entry in entries})
    if unknown:
        problems.append(
            f"unknown key binding id(s) {', '.join(unknown)} (the help screen, F1, lists the ids)"
        )
    by_scope: dict[str, dict[str, set[str]]] = {}
    for entry in entries:
        for key in entry.keys.split(", "):
            by_scope.setdefault(entry.scope, {}).setdefault(key, set()).add(entry.id)
    seen = set()
    for scope, keys in by_scope.items():
        for key, ids in keys.items():
            clash = ids | (by_scope.get("everywhere", {}).get(key, set()) if scope != "everywhere" else set())
            if len(clash) > 1 and clash & set(keymap) and (key, frozenset(clash)) not in seen:
                seen.add((key, frozenset(clash)))
                problems.append(f"key {key} is bound to both {' and '.join(sorted(clash))}")
    return problems


def keys_markdown() -> str:
    """docs/KEYS.md (a test keeps the file equal to this)."""
    lines = [
        "# Key bindings",
        "",
        "Every binding has an id. To change a key, map the id to new keys in the `[keys]` table of",
        "the config file (`patchloop config path` prints where it is); several keys are separated by",
        "commas:",
        "",
        "```toml",
        "[keys]",
        'compare = "v"',
        'label_chosen = "g,plus"',
        "```",
        "",
        "Letter keys act when the prompt is not focused (tab leaves the prompt).",
        "",
        "| where | keys | does | id |",
        "|---|---|---|---|",
    ]
    for entry in binding_catalogue():
        keys = entry.keys.replace("|", "\\|")
        lines.append(f"| {entry.scope} | `{keys}` | {entry.description} | `{entry.id}` |")
    return "\n".join(lines) + "\n"
