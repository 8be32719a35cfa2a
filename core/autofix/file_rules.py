"""Files and temporary paths: ``tempfile.mktemp`` -> ``mkstemp``, hard-coded ``/tmp/...`` ->
``tempfile.gettempdir()``, ``open(...).read()/.write()`` -> pathlib's methods that close the file."""

from __future__ import annotations

import ast

from ..types import Finding
from .ast_edits import (
    assigned_to,
    block_of,
    calls_at,
    fresh_name,
    has_star_args,
    keyword_arg,
    line_indent,
    make_fix,
    nodes_at,
    qualified_name,
    quote_of,
    scope_of,
    statement_of,
    string_literal,
    walk_scope,
)
from .base import Edit, Fix, FixContext

# --------------------------------------------------------------------------------------------
# tempfile.mktemp -> mkstemp


def mktemp_to_mkstemp(ctx: FixContext, finding: Finding) -> Fix | None:
    """``path = tempfile.mktemp(...)`` -> ``fd, path = tempfile.mkstemp(...)`` + ``os.close(fd)``
    (the file now exists, created privately); ``tempfile.mktemp(...)`` inside another simple
    statement -> the same two lines before it and the path in its place.

    Leaves alone: mktemp inside lambdas, comprehensions, conditions or loops' headers, statements
    that share their line, and paths later made into directories (``os.mkdir(path)``)."""
    for call in calls_at(ctx, finding):
        if qualified_name(ctx, call.func) != "tempfile.mktemp" or has_star_args(call):
            continue
        stmt = statement_of(ctx, call)
        if stmt is None or not isinstance(
            stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Expr)
        ):
            return None
        indent = line_indent(ctx, stmt)
        if indent is None or block_of(ctx, stmt) is None:
            return None
        node: ast.AST = call
        while node is not stmt:
            node = ctx.parents[node]
            if isinstance(
                node,
                (
                    ast.Lambda,
                    ast.comprehension,
                    ast.ListComp,
                    ast.SetComp,
                    ast.DictComp,
                    ast.GeneratorExp,
                    ast.IfExp,
                    ast.BoolOp,
                    ast.NamedExpr,
                ),
            ):
                return None
        func = (
            ctx.text(call.func)[: -len("mktemp")] + "mkstemp"
            if isinstance(call.func, ast.Attribute)
            else "tempfile.mkstemp"
        )
        args = ctx.source[ctx.span(call.func)[1] : ctx.span(call)[1]]
        imports = ("import os",) if isinstance(call.func, ast.Attribute) else ("import os", "import tempfile")
        fd = fresh_name(ctx, "fd", "tmp_fd")
        target = assigned_to(stmt, call)
        if target is not None:
            path = target.id
            if _made_directory(ctx, stmt, path):
                return None
            text = f"{fd}, {path} = {func}{args}\n{indent}os.close({fd})"
            return make_fix(
                "mkstemp",
                finding,
                "tempfile.mktemp -> tempfile.mkstemp (file created, fd closed)",
                ctx.replace(stmt, text),
                imports=imports,
            )
        if isinstance(stmt, ast.Expr) and stmt.value is call:
            return None
        path = fresh_name(ctx, "tmp_path", "temp_path")
        start = ctx.span(stmt)[0]
        before = f"{fd}, {path} = {func}{args}\n{indent}os.close({fd})\n{indent}"
        return make_fix(
            "mkstemp",
            finding,
            "tempfile.mktemp -> tempfile.mkstemp (file created, fd closed)",
            Edit(start, start, before),
            ctx.replace(call, path),
            imports=imports,
        )
    return None


# Calls that fail when their path argument already exists (mktemp's path did not, mkstemp's does).
_NEEDS_NO_FILE = {
    "os.mkdir",
    "os.makedirs",
    "os.mkfifo",
    "os.mknod",
    "os.symlink",
    "os.link",
    "shutil.copytree",
}


def _made_directory(ctx: FixContext, stmt: ast.stmt, name: str) -> bool:
    """True when the path is given to a call that wants it not to exist (a directory, a FIFO, a
    link, a Unix socket's ``bind``)."""
    for node in walk_scope(scope_of(ctx, stmt)):
        if not isinstance(node, ast.Call):
            continue
        values = [*node.args, *(k.value for k in node.keywords)]
        if any(isinstance(v, ast.Name) and v.id == name for v in values):
            method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if qualified_name(ctx, node.func) in _NEEDS_NO_FILE or method in (
                "mkdir",
                "bind",
                "symlink_to",
                "mkfifo",
            ):
                return True
    return False


# --------------------------------------------------------------------------------------------
# Hard-coded temp paths, open() read/write


def temp_dir_path(ctx: FixContext, finding: Finding) -> Fix | None:
    """A hard-coded ``"/tmp/name"`` -> ``os.path.join(tempfile.gettempdir(), "name")`` (the same
    directory on a usual system, the configured one elsewhere).

    Leaves alone: "/tmp" itself, f-strings and other paths under /var/tmp or /dev/shm."""
    for node in nodes_at(ctx, finding, ast.Constant):
        if not (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/tmp/")
        ):
            continue
        if isinstance(ctx.parents.get(node), ast.JoinedStr):
            return None
        rest = node.value[len("/tmp/") :]
        if not rest or "\n" in rest:
            return None
        parts = [p for p in rest.split("/") if p]
        quote = quote_of(ctx, node)
        quote = quote if len(quote) == 1 else '"'
        args = ", ".join(string_literal(p, quote) for p in parts)
        if rest.endswith("/"):
            args += ", " + string_literal("", quote)
        return make_fix(
            "tempdir-path",
            finding,
            "/tmp/... -> tempfile.gettempdir()",
            ctx.replace(node, f"os.path.join(tempfile.gettempdir(), {args})"),
            imports=("import os", "import tempfile"),
        )
    return None


# Text modes open() reads or writes through pathlib with the same result.
_READ_METHODS = {None: "read_text", "r": "read_text", "rt": "read_text", "rb": "read_bytes"}
_WRITE_METHODS = {"w": "write_text", "wt": "write_text", "wb": "write_bytes"}


def open_read_write(ctx: FixContext, finding: Finding) -> Fix | None:
    """``open(p[, mode][, encoding=...]).read()`` -> ``pathlib.Path(p).read_text(...)`` (``"rb"``:
    ``read_bytes()``) and ``open(p, "w").write(s)`` -> ``pathlib.Path(p).write_text(s, ...)``: the file
    is closed at once instead of whenever the object is collected.

    Leaves alone: open objects kept in a variable or iterated, other modes and arguments
    (buffering, newline, a file descriptor), reads with a size."""
    for call in calls_at(ctx, finding):
        if (
            qualified_name(ctx, call.func) != "open"
            or has_star_args(call)
            or not call.args
            or len(call.args) > 2
        ):
            continue
        mode_node = call.args[1] if len(call.args) == 2 else getattr(keyword_arg(call, "mode"), "value", None)
        if mode_node is not None and not (
            isinstance(mode_node, ast.Constant) and isinstance(mode_node.value, str)
        ):
            return None
        mode = mode_node.value if mode_node is not None else None  # type: ignore[union-attr]
        extra = [k for k in call.keywords if k.arg != "mode"]
        if any(k.arg not in ("encoding", "errors") for k in extra):
            return None
        method = ctx.parents.get(call)
        outer = ctx.parents.get(method) if method is not None else None
        if not (
            isinstance(method, ast.Attribute)
            and isinstance(outer, ast.Call)
            and outer.func is method
            and not outer.keywords
            and not has_star_args(outer)
        ):
            return None
        if isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, int):
            return None  # a file descriptor
        path = ctx.text(call.args[0])
        options = [ctx.text(k) for k in extra]
        if method.attr == "read" and not outer.args and mode in _READ_METHODS:
            new_method = _READ_METHODS[mode]
            args = options if new_method == "read_text" else []
            if new_method == "read_bytes" and options:
                return None
        elif method.attr == "write" and len(outer.args) == 1 and mode in _WRITE_METHODS:
            new_method = _WRITE_METHODS[mode]
            if new_method == "write_bytes" and options:
                return None
            args = [ctx.text(outer.args[0]), *options]
        else:
            return None
        text = f"pathlib.Path({path}).{new_method}({', '.join(args)})"
        return make_fix(
            "pathlib-read-write",
            finding,
            f"open(...).{method.attr}() -> pathlib.Path(...).{new_method}()",
            ctx.replace(outer, text),
            imports=("import pathlib",),
        )
    return None
