"""patchloop-ast: a small in-process checker for defects the fast suite would otherwise miss.

It parses the code with Python's ``ast`` (parsing never runs it) and reports:

- ``syntax-error`` (error): the code does not parse;
- ``always-true-condition`` (warning, CWE-571): ``x != A or x != B`` with two different
  constants, which is true for every ``x`` (the classic ``day != "Sat" or day != "Sun"``);
- ``always-false-condition`` (warning, CWE-570): ``x == A and x == B`` with two different
  constants;
- ``none-attribute`` (error, CWE-476): an attribute, index or call on a value that may be None
  with no check in between: the result of ``re.match``/``re.search``/``re.fullmatch``,
  ``os.getenv(name)``, ``os.environ.get(name)`` or ``shutil.which``, or a name just bound to
  ``None``, either chained directly (``re.match(p, s).group(0)``) or through a variable used in a
  later statement of the same block. Any other mention of the variable in that statement (an
  ``if m``, ``m is None``, ``assert m``, passing it on) counts as a check and ends the tracking,
  so the rule stays quiet rather than guess.

basedpyright finds the same conditions and None dereferences with full type inference in the
``defects`` suite; this checker is what the ``fast`` suite (used while code streams in) relies on.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from ..types import AnalyzerResult, Finding
from .base import guarded

TOOL = "patchloop-ast"

# What each rule reports, for SARIF rule descriptions (rule_docs.py).
RULE_SUMMARIES: dict[str, str] = {
    "syntax-error": "The code does not parse.",
    "always-true-condition": "A condition of the form x != A or x != B, which is true for every x.",
    "always-false-condition": "A condition of the form x == A and x == B, which is false for every x.",
    "none-attribute": "An attribute, index or call on a value that may be None, with no check in between.",
}

# (module, function) pairs whose result is None on failure.
OPTIONAL_RESULT_CALLS = {("re", "match"), ("re", "search"), ("re", "fullmatch"), ("shutil", "which")}
# ... and these only when called with the key alone (a default makes the result non-None).
OPTIONAL_WITHOUT_DEFAULT = {("os", "getenv"), ("os.environ", "get")}
# Handlers that show the author expects the failure.
_EXPECTING_HANDLERS = {"AttributeError", "TypeError", "Exception", "BaseException"}


def check_source(source: str) -> list[Finding]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [
            Finding(
                TOOL, "syntax-error", "error", f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 0
            )
        ]
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        return [Finding(TOOL, "syntax-error", "error", f"the code cannot be parsed: {exc}", 1)]
    imports = _import_aliases(tree)
    findings = _constant_conditions(tree)
    findings += _none_dereferences(tree, imports)
    return sorted(set(findings), key=lambda f: (f.line, f.column, f.rule_id))


# --- always-true / always-false conditions ------------------------------------------------------


def _constant_conditions(tree: ast.AST) -> list[Finding]:
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.BoolOp):
            continue
        wanted, rule, verdict = (
            (ast.NotEq, "always-true-condition", "true")
            if isinstance(node.op, ast.Or)
            else (ast.Eq, "always-false-condition", "false")
        )
        seen: dict[str, tuple[object, str]] = {}  # subject dump -> (first constant, subject source)
        for value in node.values:
            pair = _subject_and_constant(value, wanted)
            if pair is None:
                continue
            subject, constant = pair
            key = ast.dump(subject)
            if key not in seen:
                seen[key] = (constant, ast.unparse(subject))
                continue
            first, text = seen[key]
            if _differ(first, constant):
                if verdict == "true":
                    reason = f"{text} cannot equal both {first!r} and {constant!r}; did you mean 'and' (or 'not in')?"
                else:
                    reason = f"{text} cannot equal {first!r} and {constant!r} at once; did you mean 'or' (or 'in')?"
                message = f"condition is always {verdict}: {reason}"
                findings.append(
                    Finding(
                        TOOL,
                        rule,
                        "warning",
                        message,
                        value.lineno,
                        value.col_offset + 1,
                        cwe="CWE-571" if verdict == "true" else "CWE-570",
                        **_end_of(value),
                    )
                )
                break
    return findings


def _subject_and_constant(node: ast.AST, op: type) -> tuple[ast.expr, object] | None:
    """``(x, C)`` for ``x <op> C`` or ``C <op> x`` where x is side-effect free and C a literal."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], op)):
        return None
    left, right = node.left, node.comparators[0]
    if isinstance(right, ast.Constant) and _is_stable(left):
        return left, right.value
    if isinstance(left, ast.Constant) and _is_stable(right):
        return right, left.value
    return None


def _is_stable(node: ast.AST) -> bool:
    """Names, attributes and constant subscripts: the same value every time they are read."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _is_stable(node.value)
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and _is_stable(node.value)
    return False


def _differ(a: object, b: object) -> bool:
    try:
        return bool(a != b)
    except Exception:  # noqa: BLE001 - exotic constants: do not guess
        return False


# --- None dereference ---------------------------------------------------------------------------


def _import_aliases(tree: ast.AST) -> dict[str, tuple[str, ...]]:
    """Local name -> what it refers to: ``import re as r`` gives r -> ("re",),
    ``from re import match`` gives match -> ("re", "match")."""
    aliases: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    (alias.name,) if alias.asname else (alias.name.split(".")[0],)
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = (node.module, alias.name)
    return aliases


def _dotted(node: ast.AST, imports: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    if isinstance(node, ast.Name):
        return imports.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, imports)
        return None if base is None else (*base, node.attr)
    return None


def _optional_call(node: ast.AST, imports: dict[str, tuple[str, ...]]) -> str | None:
    """The call's text when it is one that returns None on failure, else None."""
    if not isinstance(node, ast.Call):
        return None
    dotted = _dotted(node.func, imports)
    if dotted is None or len(dotted) < 2:
        return None
    module, function = ".".join(dotted[:-1]), dotted[-1]
    if (module, function) in OPTIONAL_RESULT_CALLS:
        return f"{module}.{function}()"
    if (module, function) in OPTIONAL_WITHOUT_DEFAULT and len(node.args) == 1 and not node.keywords:
        return f"{module}.{function}()"
    return None


def _none_dereferences(tree: ast.AST, imports: dict[str, tuple[str, ...]]) -> list[Finding]:
    findings = []
    for node in ast.walk(tree):
        # Chained directly: re.match(p, s).group(0), re.search(p, s)[0]
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            origin = _optional_call(node.value, imports)
            if origin is not None:
                findings.append(_none_finding(node, f"the result of {origin}", "it can be None"))
        for block in _blocks(node):
            findings += _check_block(block, imports)
    return findings


def _blocks(node: ast.AST) -> list[list[ast.stmt]]:
    blocks = []
    for field in ("body", "orelse", "finalbody"):
        value = getattr(node, field, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            blocks.append(value)
    return blocks


def _check_block(block: list[ast.stmt], imports: dict[str, tuple[str, ...]]) -> list[Finding]:
    """Follow names bound to possibly-None values through the rest of one statement list."""
    findings = []
    tracked: dict[str, str] = {}  # name -> where its possibly-None value came from
    for stmt in block:
        for name, origin in list(tracked.items()):
            verdict, node = _first_use(stmt, name)
            if verdict == "deref" and node is not None:
                findings.append(_none_finding(node, f"{name!r} ({origin})", "it may be None here"))
            if verdict is not None:
                del tracked[name]
        bound = _binds_possibly_none(stmt, imports)
        if bound is not None:
            tracked[bound[0]] = bound[1]
    return findings


def _binds_possibly_none(stmt: ast.stmt, imports: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    if not isinstance(target, ast.Name):
        return None
    if isinstance(value, ast.Constant) and value.value is None:
        return target.id, "assigned None"
    origin = _optional_call(value, imports)
    return None if origin is None else (target.id, f"the result of {origin}")


def _first_use(stmt: ast.stmt, name: str) -> tuple[str | None, ast.expr | None]:
    """How ``stmt`` uses ``name``: ("deref", node) when it only dereferences it,
    ("other", None) when it checks, passes on or rebinds it, (None, None) when it does not mention it."""
    derefs: list[ast.expr] = []
    other = False
    if isinstance(stmt, ast.Try) and any(_expects_failure(h) for h in stmt.handlers):
        other = True  # the author catches the AttributeError/TypeError on purpose
    for node, deferred in _walk_with_scope(stmt):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        deref = _dereference_of(node)
        if deref is not None and not deferred:
            derefs.append(deref)
        else:
            other = True
    if other:
        return "other", None
    if derefs:
        return "deref", min(derefs, key=lambda n: (n.lineno, n.col_offset))
    return None, None


def _dereference_of(node: ast.Name) -> ast.expr | None:
    """The attribute access, indexing or call whose object or callee ``node`` is (read, not bound)."""
    parent = getattr(node, "_patchloop_parent", None)
    if not isinstance(node.ctx, ast.Load):
        return None
    if isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
        return parent
    if isinstance(parent, ast.Call) and parent.func is node:
        return parent
    return None


def _walk_with_scope(root: ast.AST):
    """Every node under ``root`` with a flag saying it sits in a nested function, lambda or
    class (code that runs later, when the name may have changed). Parents are recorded on the
    nodes so a Name can tell whether it is the object of an attribute access."""
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, deferred = stack.pop()
        yield node, deferred
        nested = deferred or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
        )
        for child in ast.iter_child_nodes(node):
            child._patchloop_parent = node  # type: ignore[attr-defined]
            stack.append((child, nested))


def _expects_failure(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in _EXPECTING_HANDLERS for n in names)


class _End(TypedDict, total=False):
    end_line: int
    end_column: int


def _end_of(node: ast.AST) -> _End:
    """A node's end as Finding fields: 1-based, the column one past its end; {} when unknown."""
    end_line, end_offset = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    return {"end_line": end_line, "end_column": end_offset + 1} if end_line and end_offset is not None else {}


def _none_finding(node: ast.expr, what: str, why: str) -> Finding:
    action = {ast.Attribute: "attribute access on", ast.Subscript: "indexing", ast.Call: "calling"}[
        type(node)
    ]
    return Finding(
        TOOL,
        "none-attribute",
        "error",
        f"{action} {what}: {why}; check it is not None first",
        node.lineno,
        node.col_offset + 1,
        cwe="CWE-476",
        **_end_of(node),
    )


@dataclass(frozen=True)
class AstAnalyzer:
    name: str = TOOL
    languages: tuple[str, ...] = ("python",)
    tool: str = TOOL
    distribution: str = "patchloop"

    def analyze(self, path: Path, language: str, timeout: float) -> AnalyzerResult:
        return guarded(self.name, lambda: check_source(path.read_text(encoding="utf-8", errors="replace")))
