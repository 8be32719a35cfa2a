"""Imports: a star import of a standard-library module -> the names used; an undefined name that
the standard library defines in exactly one obvious place -> its import.

``from M import *`` binds whatever M exports and hides where a name comes from; for a
standard-library module the exported names can be read (importing it runs nothing foreign), so the
import can list the names the module really uses.

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
import sys
import warnings
from functools import cache

from ..types import Finding
from .ast_edits import block_of, line_indent, make_fix, walk_scope
from .base import Edit, Fix, FixContext

# --------------------------------------------------------------------------------------------
# Undefined standard-library names -> their import

# Modules imported as a whole when their own name is undefined ("math.sqrt" without "import math").
MODULES = (
    "math", "re", "os", "sys", "json", "itertools", "collections", "functools", "heapq", "bisect", "string",
    "random", "hashlib", "datetime", "time", "statistics", "fractions", "decimal", "operator", "copy",
    "typing", "string", "textwrap", "unicodedata", "pathlib", "subprocess", "shlex", "secrets", "csv",
)  # fmt: skip

# Modules whose public names are imported one by one, earlier modules first where two define a
# name (collections.Counter, not the deprecated typing.Counter alias). Only names that mean one
# thing: a function called ``sqrt`` or a class called ``Fraction`` is what these modules export.
NAME_MODULES = (
    "collections",
    "typing",
    "math",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "fractions",
    "decimal",
    "statistics",
    "dataclasses",
)
# Public names too generic to guess a module for.
_AMBIGUOUS = {
    "e",
    "pi",
    "inf",
    "nan",
    "tau",
    "name",
    "count",
    "repeat",
    "chain",
    "reduce",
    "partial",
    "mean",
    "mode",
    "field",
    "fields",
    "replace",
    "wraps",
    "cache",
    "compress",
    "product",
    "accumulate",
}
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
    loads = [
        node.id
        for node in ctx.nodes_on_line(finding.line, ast.Name)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    ]
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
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
        ):
            return True
    return False


def add_missing_import(ctx: FixContext, finding: Finding) -> Fix | None:
    name = _undefined_name(ctx, finding)
    if name is None or _defined_anywhere(ctx, name):
        return None
    statement = import_table().get(name)
    if statement is None:
        return None
    return Fix(
        "add-missing-import", finding.line, f"undefined {name} -> {statement}", (), imports=(statement,)
    )


# --------------------------------------------------------------------------------------------
# Star imports -> the names used

# Standard-library modules whose import does something (opens windows, prints, starts tools).
_SIDE_EFFECT_MODULES = {
    "antigravity",
    "this",
    "turtle",
    "turtledemo",
    "tkinter",
    "idlelib",
    "__hello__",
    "__phello__",
    "lib2to3",
    "pydoc",
    "ensurepip",
    "venv",
    "webbrowser",
    "xxsubtype",
    "_tkinter",
    "msvcrt",
    "winreg",
    "winsound",
    "_winapi",
}


def _stdlib_public_names(module: str) -> set[str] | None:
    """What ``from module import *`` binds, for a standard-library module (None for anything else)."""
    top = module.split(".")[0]
    if top not in sys.stdlib_module_names or top in _SIDE_EFFECT_MODULES or top.startswith("_"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a module this Python lacks: no verdict
        return None
    public = getattr(loaded, "__all__", None)
    if public is None:
        return {n for n in vars(loaded) if not n.startswith("_")}
    return {n for n in public if isinstance(n, str)}


def _free_names(ctx: FixContext) -> set[str]:
    """Names loaded somewhere that a module-level binding would answer (not a function's locals)."""
    names = set()
    local_cache: dict[ast.AST, set[str]] = {}
    for node in ast.walk(ctx.tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        function = ctx.enclosing_function(node)
        if function is not None:
            if function not in local_cache:
                local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
                declared = set()
                for inner in walk_scope(function):
                    if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load):
                        local.add(inner.id)
                    elif isinstance(inner, (ast.Global, ast.Nonlocal)):
                        declared.update(inner.names)
                local_cache[function] = local - declared
            if node.id in local_cache[function]:
                continue
        names.add(node.id)
    for node in ast.walk(ctx.tree):  # names listed in __all__ are exported, so used
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, (ast.List, ast.Tuple))
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ):
            names.update(
                e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return names


def _star_import_fix(ctx: FixContext, finding: Finding, target: ast.ImportFrom) -> Fix | None:
    stars = [
        n for n in ctx.tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
    ]
    if target not in stars or target.level or not target.module:
        return None
    index = stars.index(target)
    provided = _stdlib_public_names(target.module)
    if provided is None:
        return None
    later: set[str] = set()
    for other in stars[index + 1 :]:
        names = _stdlib_public_names(other.module or "") if not other.level else None
        if names is None:
            return None  # a later star import we cannot read may rebind any name
        later |= names
    used = sorted((provided & _free_names(ctx)) - later)
    indent = line_indent(ctx, target)
    if indent is None:
        return None
    start, end = ctx.span(target)
    line_end = ctx.line_end(target)
    rest = ctx.source[end:line_end]
    if rest.strip() and not rest.strip().startswith("#"):
        return None  # another statement shares the line
    if used:
        text = f"from {target.module} import {', '.join(used)}"
        if len(indent) + len(text) > 99:
            text = (
                f"from {target.module} import (\n"
                + "".join(f"{indent}    {n},\n" for n in used)
                + f"{indent})"
            )
        return make_fix(
            "star-import-names",
            finding,
            f"from {target.module} import * -> the names used",
            Edit(start, end, text),
        )
    block = block_of(ctx, target) if ctx.parents.get(target) is not ctx.tree else ctx.tree.body
    if block is not None and len(block) == 1 and block is not ctx.tree.body:
        return make_fix(
            "star-import-names",
            finding,
            f"from {target.module} import * -> pass (no name used)",
            Edit(start, end, "pass"),
        )
    line_start = ctx.line_starts[target.lineno - 1]
    return make_fix(
        "star-import-names",
        finding,
        f"from {target.module} import * removed (no name used)",
        Edit(line_start, line_end, ""),
    )


def star_import(ctx: FixContext, finding: Finding) -> Fix | None:
    """``from M import *`` (M in the standard library) -> ``from M import <the names the module
    uses>`` (each name from the last star import that provides it), or the line deleted when no
    name is used.

    Leaves alone: non-standard-library modules (their names are not read: importing them could run
    anything), modules with import side effects (turtle, tkinter, this...), relative imports, star
    imports followed by one that cannot be read, lines holding another statement."""
    for node in ctx.tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.lineno <= finding.line <= (node.end_lineno or node.lineno)
            and any(a.name == "*" for a in node.names)
        ):
            return _star_import_fix(ctx, finding, node)
    return None


_UNDEFINED_FROM_STAR = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`? may be undefined")


def star_import_use(ctx: FixContext, finding: Finding) -> Fix | None:
    """A name used from a star import (F405) -> the same rewrite of the star import that provides
    it (the edit is the same as the import line's own fix, so it is taken once)."""
    match = _UNDEFINED_FROM_STAR.search(finding.message)
    stars = [
        n for n in ctx.tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
    ]
    if match is None or not stars:
        return None
    name = match.group(1)
    for star in reversed(stars):
        provided = _stdlib_public_names(star.module or "") if not star.level and star.module else None
        if provided is None:
            return None
        if name in provided:
            fix = _star_import_fix(ctx, finding, star)
            return fix
    return None
