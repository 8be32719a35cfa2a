"""Prompt templates: shipped in assets/prompts, replaceable by the user's own copies.

A user's prompts folder (config ``prompts_dir``) is searched first, so copying one file there and
editing it is the whole customisation story. Templates use str.format fields.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def load_template(name: str, prompts_dir: str | Path | None = None) -> str:
    if prompts_dir:
        custom = Path(prompts_dir).expanduser() / name
        if custom.is_file():
            return custom.read_text(encoding="utf-8")
    return resources.files("patchloop.assets").joinpath("prompts", name).read_text(encoding="utf-8")
