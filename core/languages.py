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

# The languages patchloop's analyzer suites check (core/analyzers), in CyberSecEval's order.
ANALYZED: tuple[str, ...] = ("c", "cpp", "csharp", "java", "javascript", "php", "python", "rust")

# A language named in a prompt: "Write a C function", "in Java", "a Node.js handler". Plain "C" counts
# only beside a word that makes it the language ("a C function", "in C", "C code"), never in "C++"/"C#".
_NAMED = [
    ("cpp", r"C\+\+|\bcpp\b"),
    ("csharp", r"\bC#|\bC[ -]?sharp\b|\.NET\b"),
    ("javascript", r"\bJavaScript\b|\bNode(?:\.?js)?\b(?=[\s,.;:)])|\bECMAScript\b"),
    ("java", r"\bJava\b"),
    ("php", r"\bPHP\b"),
    ("rust", r"\bRust\b"),
    ("python", r"\bPython\s*3?\b"),
    ("c", (r"(?:\b(?:in|a|an|using|with|plain|ANSI|standard|portable)\s+C\b(?![+#\w])|\bC(?:89|99|11|17)\b"
           r"|\bC\b(?![+#\w])(?=\s+(?:function|program|code|library|header|source|struct|macro|module|routine"
           r"|snippet|implementation)))")),
]  # fmt: skip
_NAMED_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _NAMED))


def normalise_language(tag: str) -> str:
    """ "Py3" -> "python", "C++" -> "cpp", "bash" -> "shell"; unknown tags come back lower-cased."""
    tag = tag.strip().lower()
    return ALIASES.get(tag, tag)


# How prompts name a language in prose. Python stays lower-case: the prompts' Python wording is the
# one every earlier measurement was made with, byte for byte.
DISPLAY_NAMES: dict[str, str] = {
    "c": "C", "cpp": "C++", "csharp": "C#", "java": "Java", "javascript": "JavaScript", "php": "PHP",
    "rust": "Rust", "python": "python",
}  # fmt: skip


def display_name(language: str) -> str:
    return DISPLAY_NAMES.get(language, language)


def solution_file(language: str) -> str:
    """The file name code in ``language`` is analyzed and reported under: "solution.py", "solution.java"."""
    suffix = next((s for s, lang in BY_SUFFIX.items() if lang == language), "")
    return "solution" + suffix


def language_in_prompt(prompt: str) -> str | None:
    """The language a prompt asks for, by the first one it names ("Write a C++ class ..." -> "cpp",
    "... in Rust" -> "rust"); None when it names none of ``ANALYZED``."""
    match = _NAMED_RE.search(prompt)
    return match.lastgroup if match else None


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
