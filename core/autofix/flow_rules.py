"""Control flow: unreachable code removed, unused loop variables renamed to ``_``, ``assert`` ->
an explicit raise that ``python -O`` keeps."""

from __future__ import annotations

import ast
import re

from ..types import Finding
from .ast_edits import block_of, line_indent, make_fix, nodes_at, qualified_name, scope_of, walk_scope
from .base import Edit, Fix, FixContext


def _terminates(ctx: FixContext, stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return (qualified_name(ctx, stmt.value.func) or "") in ("sys.exit", "exit", "quit", "os._exit")
    if isinstance(stmt, ast.If) and stmt.orelse:
        return _block_terminates(ctx, stmt.body) and _block_terminates(ctx, stmt.orelse)
    return False


def _block_terminates(ctx: FixContext, block: list[ast.stmt]) -> bool:
    return any(_terminates(ctx, s) for s in block)


def remove_unreachable(ctx: FixContext, finding: Finding) -> Fix | None:
    """Statements after a ``return``/``raise``/``break``/``continue`` (or ``sys.exit()``, or an
    ``if``/``else`` whose branches all end so) in the same block -> removed, to the block's end.

    Leaves alone: code the type checker calls unreachable for other reasons (narrowed types,
    ``while True`` loops...), statements sharing a line with the one that ends the block."""
    stmts = [
        n
        for n in ctx.nodes_on_line(finding.line, ast.stmt)
        if isinstance(n, ast.stmt) and n.lineno == finding.line
    ]
    for stmt in reversed(stmts):  # innermost first
        block = block_of(ctx, stmt) if ctx.parents.get(stmt) is not ctx.tree else ctx.tree.body
        if block is None:
            continue
        index = block.index(stmt)
        if index == 0 or not any(_terminates(ctx, s) for s in block[:index]):
            return None
        previous = block[index - 1]
        if previous.end_lineno == stmt.lineno or line_indent(ctx, stmt) is None:
            return None
        start = ctx.line_starts[stmt.lineno - 1]
        last = block[-1]
        end = ctx.line_end(last)
        removed = (last.end_lineno or last.lineno) - stmt.lineno + 1
        return make_fix(
            "remove-unreachable",
            finding,
            f"unreachable code removed ({removed} line(s))",
            Edit(start, end, ""),
        )
    return None


_UNUSED_NAME = re.compile(r"[Uu]nused variable '([A-Za-z_][A-Za-z0-9_]*)'|`([A-Za-z_][A-Za-z0-9_]*)`")


def unused_loop_variable(ctx: FixContext, finding: Finding) -> Fix | None:
    """An unused ``for`` target (``for i in range(n):`` whose ``i`` is never read) -> ``_`` (or
    ``_i`` where ``_`` is read in that scope); works inside tuple targets too.

    Leaves alone: names read anywhere in the scope (before, inside or after the loop), names
    declared global/nonlocal, and unused variables that are not loop targets (ruff fixes those)."""
    names = [n for n in nodes_at(ctx, finding, ast.Name) if isinstance(n, ast.Name)]
    match = _UNUSED_NAME.search(finding.message)
    wanted = (match.group(1) or match.group(2)) if match else None
    for node in names:
        if wanted and node.id != wanted or not isinstance(node.ctx, ast.Store):
            continue
        loop = ctx.parents.get(node)
        while isinstance(loop, (ast.Tuple, ast.List)):
            loop = ctx.parents.get(loop)
        if not isinstance(loop, (ast.For, ast.AsyncFor)) or not _within(ctx, node, loop.target):
            continue
        scope = scope_of(ctx, loop)
        in_scope = [n for n in walk_scope(scope) if isinstance(n, ast.Name) and n.id == node.id]
        if any(isinstance(n.ctx, ast.Load) for n in in_scope):
            return None
        if any(isinstance(n, (ast.Global, ast.Nonlocal)) and node.id in n.names for n in walk_scope(scope)):
            return None
        stores = [n for n in in_scope if n is not node]
        if stores:
            return None  # bound elsewhere too: renaming this one would not be the whole story
        underscore_read = any(
            isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Load) for n in ast.walk(scope)
        )
        new = f"_{node.id}" if underscore_read else "_"
        if new == node.id:
            return None
        return make_fix(
            "unused-loop-variable",
            finding,
            f"unused loop variable {node.id} -> {new}",
            ctx.replace(node, new),
        )
    return None


def _within(ctx: FixContext, node: ast.AST, container: ast.AST) -> bool:
    while node is not None:
        if node is container:
            return True
        node = ctx.parents.get(node)  # type: ignore[assignment]
    return False


_LOOSE_PRECEDENCE = (ast.BoolOp, ast.IfExp, ast.Lambda, ast.NamedExpr)


def assert_to_raise(ctx: FixContext, finding: Finding) -> Fix | None:
    """``assert cond[, msg]`` -> ``if not cond: raise AssertionError(msg)`` (the check stays under
    ``python -O``, which strips asserts).

    Leaves alone: asserts sharing their line with another statement."""
    for stmt in nodes_at(ctx, finding, ast.Assert):
        if not isinstance(stmt, ast.Assert) or stmt.lineno != finding.line:
            continue
        indent = line_indent(ctx, stmt)
        if indent is None or block_of(ctx, stmt) is None and ctx.parents.get(stmt) is not ctx.tree:
            return None
        end = ctx.span(stmt)[1]
        line_end = ctx.line_end(stmt)
        rest = ctx.source[end:line_end].strip()
        if rest and not rest.startswith("#"):
            return None
        condition = ctx.text(stmt.test)
        if isinstance(stmt.test, _LOOSE_PRECEDENCE) or "\n" in condition:
            condition = f"({condition})"
        message = ctx.text(stmt.msg) if stmt.msg is not None else ""
        if "\n" in message:
            message = f"({message})"
        text = f"if not {condition}:\n{indent}    raise AssertionError({message})"
        return make_fix(
            "assert-to-raise", finding, "assert -> if not ...: raise AssertionError", ctx.replace(stmt, text)
        )
    return None
