"""patchloop's shipped semgrep rule files (assets/semgrep/<language>/), and the one JSON rules document
the engine is given for any set of rule files (semgrep-core reads a single rules file)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's loader where PyYAML has it: the same documents, about ten times faster
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader


def load_yaml(text: str) -> Any:
    """A YAML document, read safely. Rule files are read in the first analysis of every process, where
    the pure-Python loader took 0.12-0.18 s of CPU for the 28 Python rule files, holding the GIL
    while the other analyzers start."""
    return yaml.load(text, Loader=SafeLoader)


def shipped_rule_files(language: str = "python") -> list[Path]:
    """patchloop's own rule files for ``language`` (assets/semgrep/<language>/*.yaml), sorted."""
    folder = Path(str(resources.files("patchloop.assets").joinpath("semgrep", language)))
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


@cache
def only_rules(combined: str, rule_ids: frozenset[str]) -> str:
    """The rules document ``combined`` cut down to the rules named in ``rule_ids``."""
    rules = [rule for rule in json.loads(combined)["rules"] if rule["id"] in rule_ids]
    if not rules:
        raise ValueError("none of the requested semgrep rules is in the rule files")
    return json.dumps({"rules": rules})


@cache
def rule_messages(language: str = "python") -> dict[str, str]:
    """Rule id -> its message, for patchloop's own rules (SARIF rule documentation)."""
    messages: dict[str, str] = {}
    for path in shipped_rule_files(language):
        for rule in load_yaml(path.read_text(encoding="utf-8")).get("rules", []):
            messages[rule["id"]] = " ".join(str(rule.get("message", "")).split())
    return messages


def rule_file_key(path: Path) -> tuple[str, int, int]:
    """What ``combined_rules`` is cached by: the file's path, modification time and size."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read semgrep rule file {path}: {exc.strerror}") from None
    return (str(path), st.st_mtime_ns, st.st_size)


@cache
def combined_rules(keys: tuple[tuple[str, int, int], ...]) -> str:
    """All rules of the files as one JSON rules document (semgrep-core reads one rules file).

    Cached by path, modification time and size, so a rules set is read once per process."""
    if not keys:
        raise ValueError("no semgrep rule files given")
    rules: list[dict] = []
    for path, _mtime, _size in keys:
        try:
            document = load_yaml(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read semgrep rule file {path}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
            raise ValueError(f"semgrep rule file {path} has no 'rules' list")  # noqa: TRY004 - bad content, not a bad argument
        rules.extend(document["rules"])
    if not rules:
        raise ValueError("the semgrep rule files hold no rules")
    return json.dumps({"rules": rules})
