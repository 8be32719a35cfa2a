"""An undefined name that the standard library defines in exactly one obvious place gets its import.

Small models often write ``List[int]``, ``Counter(words)`` or ``math.sqrt(x)`` without the import,
and a task's own imports do not travel with an answer that is analyzed alone. The fix is as
mechanical as a fix gets: the name is looked up in a fixed table of standard-library modules (the
module names themselves first, then the public names of a few modules whose names are unambiguous)
and the import is added at the top. Names the table does not know are left for the model.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache

from ..types import Finding
from .base import Fix, FixContext
from .python_rules import PYTHON_RULES

# Modules imported as a whole when their own name is undefined ("math.sqrt" without "import math").
MODULES = (
    "math", "re", "os", "sys", "json", "itertools", "collections", "functools", "heapq", "bisect", "string",
    "random", "hashlib", "datetime", "time", "statistics", "fractions", "decimal", "operator", "copy",
    "typing", "string", "textwrap", "unicodedata", "pathlib", "subprocess", "shlex", "secrets", "csv",
)  # fmt: skip

# Modules whose public names are imported one by one, earlier modules first where two define a
# name (collections.Counter, not the deprecated typing.Counter alias). Only names that mean one
# thing: a function called ``sqrt`` or a class called ``Fraction`` is what these modules export.
NAME_MODULES = ("collections", "typing", "math", "itertools", "functools", "heapq", "bisect", "fractions",
                "decimal", "statistics", "dataclasses")
# Public names too generic to guess a module for.
_AMBIGUOUS = {"e", "pi", "inf", "nan", "tau", "name", "count", "repeat", "chain", "reduce", "partial", "mean",
              "mode", "field", "fields", "replace", "wraps", "cache", "compress", "product", "accumulate"}
# Typing's names are unambiguous even where short; a few math constants are safe too.
_KEEP = {"pi", "inf", "reduce", "product", "accumulate", "chain", "partial", "wraps", "cache", "mean"}

_QUOTED = re.compile(r"[`'\"]([A-Za-z_][A-Za-z0-9_]*)[`'\"]")


@cache
def import_table() -> dict[str, str]:
    """Undefined name -> the import statement that defines it."""
    table: dict[str, str] = {}
    for module in NAME_MODULES:
        try:
            loaded = importlib.import_module(module)
        except ImportError:  # pragma: no cover - all are standard library
            continue
        names = getattr(loaded, "__all__", None) or [n for n in dir(loaded) if not n.startswith("_")]
        for name in names:
            if name.startswith("_") or (name in _AMBIGUOUS and name not in _KEEP):
                continue
            table.setdefault(name, f"from {module} import {name}")
    for module in MODULES:
        table[module] = f"import {module}"
    return table


def _undefined_name(ctx: FixContext, finding: Finding) -> str | None:
    quoted = _QUOTED.search(finding.message)
    name = quoted.group(1) if quoted else None
    loads = [node.id for node in ctx.nodes_on_line(finding.line, ast.Name) if isinstance(node.ctx, ast.Load)]
    if name is None or name not in loads:
        return None
    return name


def _defined_anywhere(ctx: FixContext, name: str) -> bool:
    """True when the module binds the name itself somewhere (a later def, an assignment, a parameter):
    then "undefined" is about order or scope, and an import would hide the real problem."""
    for node in ast.walk(ctx.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
            return True
    return False


@PYTHON_RULES.register("ruff:F821", "pylint:E0602", "pyright:reportUndefinedVariable")
def add_missing_import(ctx: FixContext, finding: Finding) -> Fix | None:
    name = _undefined_name(ctx, finding)
    if name is None or _defined_anywhere(ctx, name):
        return None
    statement = import_table().get(name)
    if statement is None:
        return None
    return Fix("add-missing-import", finding.line, f"undefined {name} -> {statement}", (), imports=(statement,))
