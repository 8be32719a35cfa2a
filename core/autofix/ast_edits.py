"""What the rewrite rules share: finding the flagged node, resolving names through the module's
imports, and editing a call's arguments or a statement's text in offsets of the original code."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..types import Finding
from .base import Edit, Fix, FixContext


def nodes_at(ctx: FixContext, finding: Finding, kind: type | tuple[type, ...]) -> list:
    """Nodes of ``kind`` spanning the flagged line: the one at the finding's column first, then
    those starting on the line, then the rest; innermost first within each group."""
    nodes = [n for n in ctx.nodes_on_line(finding.line, kind)]

    def order(node: ast.AST) -> tuple[int, int, int]:
        start, end = ctx.span(node)
        column = start - ctx.line_starts[node.lineno - 1] + 1  # type: ignore[attr-defined]
        exact = node.lineno == finding.line and column == finding.column  # type: ignore[attr-defined]
        group = 0 if exact else 1 if node.lineno == finding.line else 2  # type: ignore[attr-defined]
        return group, end - start, start

    return sorted(nodes, key=order)


def calls_at(ctx: FixContext, finding: Finding) -> list[ast.Call]:
    return nodes_at(ctx, finding, ast.Call)


def import_aliases(ctx: FixContext) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def qualified_name(ctx: FixContext, node: ast.AST) -> str | None:
    """The dotted name an expression refers to, with imports resolved (``sp.run`` -> ``subprocess.run``)."""
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    target = import_aliases(ctx).get(head)
    if target is None:
        return dotted
    return f"{target}.{rest}" if rest else target


def keyword_arg(call: ast.Call, name: str) -> ast.keyword | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword
    return None


def has_star_args(call: ast.Call) -> bool:
    return any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


def is_constant(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value


def arguments_in_order(call: ast.Call) -> list[ast.AST]:
    """Positional and keyword arguments in source order."""
    return sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def drop_argument(ctx: FixContext, call: ast.Call, item: ast.AST) -> Edit:
    """Delete one argument (positional or keyword) with its separating comma."""
    items = arguments_in_order(call)
    index = items.index(item)
    start, end = ctx.span(item)
    if index > 0:
        start = ctx.span(items[index - 1])[1]
    elif len(items) > 1:
        end = ctx.span(items[1])[0]
    else:
        # The only argument: also drop a trailing comma before the closing parenthesis.
        close = ctx.span(call)[1] - 1
        if ctx.source[end:close].strip() == ",":
            end = close
    return Edit(start, end, "")


def append_argument(ctx: FixContext, call: ast.Call, text: str) -> Edit:
    """Add an argument after the last one (or inside empty parentheses)."""
    items = arguments_in_order(call)
    if items:
        end = ctx.span(items[-1])[1]
        return Edit(end, end, ", " + text)
    close = ctx.span(call)[1] - 1
    return Edit(close, close, text)


def quote_of(ctx: FixContext, node: ast.AST) -> str:
    text = ctx.text(node).lstrip("rRbBuUfF")
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote):
            return quote
    return '"'


def string_literal(value: str, quote: str = '"') -> str:
    """A Python string literal for ``value``, in ``quote`` where that needs no escapes."""
    plain = (
        "\\" not in value
        and value.isprintable()
        or (len(quote) == 3 and "\\" not in value and all(c.isprintable() or c == "\n" for c in value))
    )
    if plain and len(quote) == 3 and quote not in value and not value.endswith(quote[0]):
        return quote + value + quote
    if plain and len(quote) == 1 and quote not in value and "\n" not in value:
        return quote + value + quote
    return repr(value)


def scope_of(ctx: FixContext, node: ast.AST) -> ast.AST:
    return ctx.enclosing_function(node) or ctx.tree


def walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of one scope, not descending into nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def names_in(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)
    }


def fresh_name(ctx: FixContext, *candidates: str) -> str:
    used = names_in(ctx.tree)
    for name in candidates:
        if name not in used:
            return name
    base, n = candidates[-1], 2
    while f"{base}{n}" in used:
        n += 1
    return f"{base}{n}"


def statement_of(ctx: FixContext, node: ast.AST) -> ast.stmt | None:
    while node is not None and not isinstance(node, ast.stmt):
        node = ctx.parents.get(node)  # type: ignore[assignment]
    return node


def assigned_to(stmt: ast.AST | None, value: ast.AST) -> ast.Name | None:
    """The name ``stmt`` binds when it is ``name = value`` (one plain name), else None."""
    if isinstance(stmt, ast.Assign) and stmt.value is value and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target
    return None


def line_indent(ctx: FixContext, stmt: ast.stmt) -> str | None:
    """The indentation of a statement that starts its line, else None."""
    line = ctx.lines[stmt.lineno - 1]
    prefix = line[: len(line.encode("utf-8")[: stmt.col_offset].decode("utf-8", errors="ignore"))]
    return prefix if not prefix.strip() else None


def block_of(ctx: FixContext, stmt: ast.stmt) -> list[ast.stmt] | None:
    parent = ctx.parents.get(stmt)
    if parent is None:
        return None
    for field in ("body", "orelse", "finalbody", "handlers"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and stmt in block:
            return block
    if isinstance(parent, ast.match_case) and stmt in parent.body:
        return parent.body
    return None


def make_fix(
    rule: str, finding: Finding, description: str, *edits: Edit, imports: tuple[str, ...] = ()
) -> Fix:
    return Fix(rule, finding.line, description, tuple(edits), imports)
