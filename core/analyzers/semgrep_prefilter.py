"""semgrep's own prefilter of a rule set (``semgrep-core -prefilter_of_rules``) as Python predicates
on a file's text, kept between processes in the user's cache folder.

The engine skips each rule whose required identifiers or regexes are absent from a file; these are the
same conditions, checked before the engine is started at all (``semgrep.may_match`` says how they
are used, and why a condition this code does not know counts as met).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from .. import tempdirs
from ..files import write_atomic
from .base import ToolFailure, run_tool
from .semgrep_rules import combined_rules


@cache
def prefilter_conditions(
    keys: tuple[tuple[str, int, int], ...], core: str | None
) -> dict[str, Callable[[str], bool]] | None:
    """Rule id -> whether its prefilter holds on a text; None when semgrep-core gives none to trust."""
    combined = combined_rules(keys)
    own = {
        rule["id"]: (rule.get("metadata") or {}).get("prefilter") for rule in json.loads(combined)["rules"]
    }
    if core is None:
        return None
    kept = _kept_prefilter(combined, core)
    filters = _read_json(kept) if kept is not None else None
    if not _valid_prefilter(filters, own):  # none kept yet, or a file damaged since
        filters = _engine_prefilter(combined, core)
        if not _valid_prefilter(filters, own):
            return None  # no prefilter we can trust: always run the engine with every rule
        if kept is not None:
            _keep(kept, filters)
    assert isinstance(filters, list)  # _valid_prefilter checked it
    conditions: dict[str, Callable[[str], bool]] = {}
    for entry in filters:
        formula, regex = entry.get("filter"), own.get(entry["rule_id"])
        derived = (
            formula[1] if isinstance(formula, list) and len(formula) == 2 and formula[0] == "Some" else None
        )
        pattern = _compiled(regex) if regex else None
        if derived is None and pattern is None:
            conditions[entry["rule_id"]] = lambda text: True  # this rule may match anything
            continue
        conditions[entry["rule_id"]] = lambda text, f=derived, r=pattern: (
            (f is None or _holds(f, text)) and (r is None or r.search(text) is not None)
        )
    return conditions


def _engine_prefilter(combined: str, core: str) -> Any:
    """What ``semgrep-core -prefilter_of_rules`` prints for the rules (parsed), None when it fails."""
    with tempdirs.temporary_dir("semgrep", ignore_cleanup_errors=True) as folder:
        rules_path = Path(folder) / "rules.json"
        rules_path.write_text(combined, encoding="utf-8")
        try:
            run = run_tool([core, "-prefilter_of_rules", str(rules_path)], 60.0, cwd=Path(folder))
            return json.loads(run.stdout) if run.returncode == 0 else None
        except (ToolFailure, ValueError):
            return None


def _valid_prefilter(filters: Any, own: dict[str, Any]) -> bool:
    return (
        isinstance(filters, list)
        and all(isinstance(f, dict) for f in filters)
        and {f.get("rule_id") for f in filters} == set(own)
    )


def prefilter_cache_dir() -> Path:
    """Where the engine's prefilters are kept between processes (the user's cache folder)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("patchloop")) / "semgrep"


def _kept_prefilter(combined: str, core: str) -> Path | None:
    """The cache file of these rules' prefilter from this engine binary, None where the engine
    cannot be read. Computing it starts the engine on every rule (0.2-0.25 s of CPU), in the first
    analysis of every process; the rules' text and the binary's path, size and modification time
    name the file, so new rules or a new semgrep never read an old one."""
    try:
        binary = os.stat(core)
    except OSError:
        return None
    key = hashlib.sha256(
        "\0".join([combined, core, str(binary.st_size), str(binary.st_mtime_ns)]).encode("utf-8")
    ).hexdigest()[:32]
    return prefilter_cache_dir() / f"prefilter-{key}.json"


def _read_json(path: Path) -> Any:
    """The JSON value in ``path``; None when it is missing or unreadable (recompute it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _keep(path: Path, value: Any) -> None:
    try:
        write_atomic(path, json.dumps(value))  # concurrent writers: the last whole file wins
    except OSError:
        pass  # a read-only cache folder only costs the next process the engine's run


def _holds(formula: list, text: str) -> bool:
    kind, argument = formula
    if kind == "Or":
        return any(_holds(part, text) for part in argument)
    if kind == "And":
        return all(_holds(part, text) for part in argument)
    if kind == "Pred" and argument[0] == "Idents":
        return all(ident in text for ident in argument[1])
    if kind == "Pred" and argument[0] == "Regexp":
        pattern = _compiled(argument[1])
        return pattern is None or pattern.search(text) is not None
    return True  # a condition this code does not know: run the engine


def _compiled(regex: str) -> re.Pattern | None:
    try:
        return re.compile(regex)
    except re.error:
        return None
