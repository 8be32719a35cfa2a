"""Language names: the aliases models and users write, file suffixes, and scripts that name their
own interpreter.

The one place that says which language a code fence tag, a file or a script is in.
"""

from __future__ import annotations

import re
from pathlib import Path

ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "py3": "python",
    "js": "javascript", "node": "javascript", "c++": "cpp", "cc": "cpp",
    "cs": "csharp", "c#": "csharp", "rs": "rust",
    "sh": "shell", "bash": "shell", "zsh": "shell", "ksh": "shell", "shell": "shell", "console": "shell",
}  # fmt: skip

BY_SUFFIX: dict[str, str] = {
    ".py": "python", ".pyw": "python", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp",
    ".cxx": "cpp", ".hpp": "cpp", ".js": "javascript", ".mjs": "javascript", ".java": "java",
    ".php": "php", ".rs": "rust", ".cs": "csharp",
}  # fmt: skip

# Interpreters a "#!" line may name; the key is the program's base name without a version.
_INTERPRETERS = {
    "python": "python", "bash": "shell", "sh": "shell", "zsh": "shell", "ksh": "shell", "dash": "shell",
    "node": "javascript", "php": "php", "perl": "perl", "ruby": "ruby",
}  # fmt: skip
_SHEBANG = re.compile(r"#!\s*(\S+)(?:[ \t]+(\S+))?")


def normalise_language(tag: str) -> str:
    """"Py3" -> "python", "C++" -> "cpp", "bash" -> "shell"; unknown tags come back lower-cased."""
    tag = tag.strip().lower()
    return ALIASES.get(tag, tag)


def language_of(path: Path) -> str:
    """The language of a file from its suffix ("python", "c"...); the bare suffix (or "unknown") otherwise."""
    suffix = Path(path).suffix.lower()
    return BY_SUFFIX.get(suffix, suffix.lstrip(".") or "unknown")


def script_language(code: str) -> str | None:
    """The language a "#!" first line names ("#!/bin/bash" -> "shell", "#!/usr/bin/env python3"
    -> "python"), or None when the code has no such line or names a program not known here."""
    first = code.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    match = _SHEBANG.match(first)
    if not match:
        return None
    program = match.group(1).rsplit("/", 1)[-1]
    if program == "env" and match.group(2):
        program = match.group(2)
    program = re.sub(r"[\d.]+$", "", program)  # python3.12 -> python
    return _INTERPRETERS.get(program)
