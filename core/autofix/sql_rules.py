"""SQL built by string formatting -> a parameterized query in the imported driver's placeholder
style."""

from __future__ import annotations

import ast
import re
import string

from ..types import Finding
from .ast_edits import (
    append_argument,
    assigned_to,
    import_aliases,
    make_fix,
    quote_of,
    scope_of,
    string_literal,
    walk_scope,
)
from .base import Fix, FixContext

_QMARK_DRIVERS = {"sqlite3", "aiosqlite", "duckdb"}
_FORMAT_DRIVERS = {"psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql", "pgdb", "aiomysql"}
_VALUE_BEFORE = re.compile(
    r"(=|<|>|[+]|(?<![-/*])[-*/]|\bLIKE|\bLIMIT|\bOFFSET|\bBETWEEN)\s*$", re.IGNORECASE
)
_BETWEEN_AND = re.compile(r"\bBETWEEN\s+(\?|%s|\S+)\s+AND\s*$", re.IGNORECASE)


def _placeholder_style(ctx: FixContext) -> str | None:
    modules = {name.split(".")[0] for name in import_aliases(ctx).values()}
    qmark, fmt = modules & _QMARK_DRIVERS, modules & _FORMAT_DRIVERS
    if qmark and not fmt:
        return "?"
    if fmt and not qmark:
        return "%s"
    return None


def _sql_pieces(node: ast.AST) -> list[str | ast.AST] | None:
    """The query as literal text and value expressions in order, or None for other shapes."""
    if isinstance(node, ast.JoinedStr):
        pieces: list[str | ast.AST] = []
        for value in node.values:
            match value:
                case ast.Constant(value=str() as text):  # the f-string's text
                    pieces.append(text)
                case ast.FormattedValue(conversion=-1, format_spec=None):  # a plain placeholder
                    pieces.append(value.value)
                case _:
                    return None
        return pieces
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sql_pieces_add(node.left), _sql_pieces_add(node.right)
        return None if left is None or right is None else left + right
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mod)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
    ):
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        if any(isinstance(v, ast.Starred) for v in values) or isinstance(node.right, ast.Dict):
            return None
        parts = re.split(r"(%%|%[sdi])", node.left.value)
        pieces = []
        index = 0
        for part in parts:
            if part == "%%":
                pieces.append("%")
            elif part in ("%s", "%d", "%i"):
                if index >= len(values):
                    return None
                pieces.append(values[index])
                index += 1
            elif "%" in part:
                return None
            else:
                pieces.append(part)
        return pieces if index == len(values) else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return None
        keywords = {k.arg: k.value for k in node.keywords}
        pieces, auto = [], 0
        try:
            parsed = list(string.Formatter().parse(node.func.value.value))
        except ValueError:
            return None
        for literal, field, spec, conversion in parsed:
            pieces.append(literal)
            if field is None:
                continue
            if spec or conversion:
                return None
            if field == "":
                field = str(auto)
                auto += 1
            if field.isdigit() and int(field) < len(node.args):
                pieces.append(node.args[int(field)])
            elif field in keywords:
                pieces.append(keywords[field])  # type: ignore[arg-type]
            else:
                return None
        return pieces
    return None


def _sql_pieces_add(node: ast.AST) -> list[str | ast.AST] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _sql_pieces(node)
    if isinstance(node, ast.JoinedStr):
        return _sql_pieces(node)
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "str"
            and len(node.args) == 1
        ):
            return [node.args[0]]
        return [node]
    return None


def _parameterize(pieces: list[str | ast.AST], mark: str) -> tuple[str, list[ast.AST]] | None:
    """The query with ``mark`` for each value, quotes around a value removed; None when a value
    sits where SQL wants an identifier or a keyword, or inside a longer quoted text."""
    # Merge adjacent literal pieces first.
    merged: list[str | ast.AST] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    query, params = "", []
    for index, piece in enumerate(merged):
        if isinstance(piece, str):
            if "?" in piece and mark == "?" or "%s" in piece:
                return None  # already has placeholders: mixing is not exact
            query += piece.replace("%", "%%") if mark == "%s" else piece
            continue
        before = merged[index - 1] if index and isinstance(merged[index - 1], str) else ""
        after = merged[index + 1] if index + 1 < len(merged) and isinstance(merged[index + 1], str) else ""
        assert isinstance(before, str) and isinstance(after, str)
        quote = before[-1:] if before[-1:] in ("'", '"') else ""
        if quote:
            if not after.startswith(quote) or query.count(quote) % 2 != 1:
                return None
            query = query[:-1]
            merged[index + 1] = after[1:]
            if not _value_position(query):
                return None
        elif not _value_position(query) or after[:1].isalnum() or after[:1] in ("_", ".", "'", '"'):
            return None
        query += mark
        params.append(piece)
    return query, params


def _value_position(before: str) -> bool:
    """True when SQL text ending in ``before`` wants a value next (after ``=``, ``LIKE``, ``LIMIT``,
    ``BETWEEN x AND``, or inside ``VALUES (...`` / ``IN (...``)."""
    return bool(_VALUE_BEFORE.search(before) or _BETWEEN_AND.search(before) or _in_value_list(before))


def _in_value_list(before: str) -> bool:
    """True when the text before a value ends inside ``VALUES (...`` or ``IN (...`` after ``(`` or ``,``."""
    if not re.search(r"[(,]\s*$", before):
        return False
    depth = 0
    for index in range(len(before) - 1, -1, -1):
        char = before[index]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                return bool(re.search(r"\b(VALUES|IN)\s*$", before[:index], re.IGNORECASE))
            depth -= 1
    return False


def sql_parameters(ctx: FixContext, finding: Finding) -> Fix | None:
    """A query built by an f-string, ``%``, ``.format`` or ``+`` and passed to ``X.execute(q)``
    (directly, or through a variable used once) -> ``X.execute("... ? ...", (values,))`` with the
    placeholder style of the driver imported (sqlite3: ``?``; psycopg2/pymysql/MySQLdb/mysql: ``%s``),
    quotes around a value removed.

    Leaves alone: values in identifier positions (table or column names), values inside a longer
    quoted text (``'%{x}%'``), queries that already have placeholders or parameters, no known
    driver (or two styles) imported, format specs or conversions in the placeholders."""
    mark = _placeholder_style(ctx)
    if mark is None:
        return None
    candidates = [n for n in ctx.nodes_on_line(finding.line, (ast.JoinedStr, ast.BinOp, ast.Call))]
    for node in candidates:
        pieces = (
            _sql_pieces(node)
            if not isinstance(node, ast.Call)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "format")
            else None
        )
        if pieces is None or not any(
            isinstance(p, str) and re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", p, re.IGNORECASE)
            for p in pieces
        ):
            continue
        parent = ctx.parents.get(node)
        execute = None
        assign_edit = None
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is node:
            execute = parent
        elif (target := assigned_to(parent, node)) is not None:
            uses = [
                n
                for n in walk_scope(scope_of(ctx, target))
                if isinstance(n, ast.Name) and n.id == target.id and n is not target
            ]
            stores = [n for n in uses if not isinstance(n.ctx, ast.Load)]
            if len(uses) != 1 or stores:
                return None
            use = uses[0]
            execute = ctx.parents.get(use)
            if not (isinstance(execute, ast.Call) and execute.args and execute.args[0] is use):
                return None
            assign_edit = True
        if not (
            isinstance(execute, ast.Call)
            and isinstance(execute.func, ast.Attribute)
            and execute.func.attr in ("execute", "executescript")
            and len(execute.args) == 1
            and not execute.keywords
        ):
            return None
        if execute.func.attr == "executescript":
            return None
        made = _parameterize(pieces, mark)
        if made is None or not made[1]:
            return None
        query, params = made
        quote = quote_of(
            ctx,
            node.func.value  # a call here is a ``.format`` (pieces were found only for those)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            else (node.left if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) else node),
        )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            first = node
            while isinstance(first, ast.BinOp):
                first = first.left
            quote = quote_of(ctx, first)
        texts = [ast.unparse(p) if isinstance(node, ast.JoinedStr) else ctx.text(p) for p in params]
        values = "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"
        literal = string_literal(query, quote)
        if assign_edit:
            edits = [ctx.replace(node, literal), append_argument(ctx, execute, values)]
        else:
            edits = [ctx.replace(node, f"{literal}, {values}")]
        return make_fix("sql-parameters", finding, f"query parameterized ({mark} placeholders)", *edits)
    return None
