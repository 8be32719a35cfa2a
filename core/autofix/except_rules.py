"""``except:`` / ``except Exception:`` that swallows the error -> the exceptions the try body can
visibly raise."""

from __future__ import annotations

import ast

from ..types import Finding
from .ast_edits import dotted_name, import_aliases, make_fix, qualified_name, scope_of, walk_scope
from .base import Edit, Fix, FixContext

_CONVERSIONS = {
    "int": ("ValueError", "TypeError"),
    "float": ("ValueError", "TypeError"),
    "complex": ("ValueError", "TypeError"),
    "decimal.Decimal": ("ArithmeticError", "TypeError"),
    "fractions.Fraction": ("ValueError", "TypeError", "ZeroDivisionError"),
    "ord": ("TypeError",),
    "chr": ("ValueError", "TypeError"),
    "next": ("StopIteration",),
    "open": ("OSError",),
    "json.loads": ("ValueError",),
    "json.load": ("ValueError",),
    "ast.literal_eval": ("ValueError", "SyntaxError"),
    "getattr": ("AttributeError",),
    "datetime.datetime.strptime": ("ValueError",),
    "datetime.date.fromisoformat": ("ValueError",),
    "datetime.datetime.fromisoformat": ("ValueError",),
    "ipaddress.ip_address": ("ValueError",),
    "base64.b64decode": ("ValueError",),
    "bytes.fromhex": ("ValueError",),
    "urllib.request.urlopen": ("OSError",),
    "socket.create_connection": ("OSError",),
    "importlib.import_module": ("ImportError",),
    "math.sqrt": ("ValueError",),
    "math.log": ("ValueError",),
    "statistics.mean": ("ValueError",),
    "shutil": ("OSError",),
    "os": ("OSError",),
    "socket": ("OSError",),
    "pathlib": ("OSError",),
    "subprocess": ("OSError", "subprocess.SubprocessError"),
    "requests": ("requests.RequestException",),
    "httpx": ("httpx.HTTPError",),
}
# Calls and methods that raise nothing worth catching on the values generated code gives them.
_QUIET_CALLS = {
    "len",
    "str",
    "repr",
    "print",
    "range",
    "list",
    "dict",
    "set",
    "tuple",
    "bool",
    "sorted",
    "reversed",
    "enumerate",
    "zip",
    "abs",
    "min",
    "max",
    "sum",
    "any",
    "all",
    "isinstance",
    "hasattr",
    "id",
    "type",
    "round",
    "map",
    "filter",
    "iter",
    "frozenset",
    "format",
}
_QUIET_METHODS = {
    "append",
    "extend",
    "add",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "lower",
    "upper",
    "startswith",
    "endswith",
    "replace",
    "join",
    "get",
    "items",
    "keys",
    "values",
    "copy",
    "update",
    "setdefault",
    "isdigit",
    "isalpha",
    "isalnum",
    "isspace",
    "format",
    "count",
    "find",
    "title",
    "capitalize",
    "insert",
    "clear",
    "encode",
    "sort",
    "reverse",
    "discard",
}
_METHOD_RAISES = {
    "index": ("ValueError",),
    "remove": ("ValueError",),
    "pop": ("LookupError",),
    "decode": ("UnicodeDecodeError",),
    "read": ("OSError",),
    "write": ("OSError",),
    "close": ("OSError",),
    "read_text": ("OSError",),
    "write_text": ("OSError",),
    "read_bytes": ("OSError",),
    "write_bytes": ("OSError",),
    "unlink": ("OSError",),
    "mkdir": ("OSError",),
    "rmdir": ("OSError",),
    "rename": ("OSError",),
    "stat": ("OSError",),
    "readline": ("OSError",),
    "readlines": ("OSError",),
    "connect": ("OSError",),
    "recv": ("OSError",),
    "send": ("OSError",),
    "sendall": ("OSError",),
    "json": ("ValueError",),
    "raise_for_status": ("requests.HTTPError",),
    "fromisoformat": ("ValueError",),
    "strptime": ("ValueError",),
    "group": ("IndexError",),
}


def _collection_kind(ctx: FixContext, node: ast.AST) -> str:
    """ "KeyError" / "IndexError" when a subscripted name is visibly a dict / a list, else "LookupError"."""
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "KeyError"
    if isinstance(node, (ast.List, ast.ListComp, ast.Tuple, ast.Constant)):
        return "IndexError"
    if isinstance(node, ast.Name):
        kinds = set()
        for stmt in walk_scope(scope_of(ctx, node)):
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
            ):
                value = stmt.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                    kinds.add(
                        {"dict": "KeyError", "list": "IndexError", "sorted": "IndexError"}.get(
                            value.func.id, "LookupError"
                        )
                    )
                else:
                    kinds.add(
                        _collection_kind(ctx, value)
                        if isinstance(
                            value, (ast.Dict, ast.DictComp, ast.List, ast.ListComp, ast.Tuple, ast.Constant)
                        )
                        else "LookupError"
                    )
        if len(kinds) == 1:
            return kinds.pop()
    return "LookupError"


def _raised_by(ctx: FixContext, body: list[ast.stmt]) -> list[str] | None:
    """The exceptions a try body can visibly raise, or None when it calls something unknown."""
    found: list[str] = []
    modules = ctx.imported_modules
    for stmt in body:
        # In evaluation order, roughly: a node after the nodes it contains.
        nodes = sorted(
            [stmt, *walk_scope(stmt)],
            key=lambda n: (getattr(n, "end_lineno", 0) or 0, getattr(n, "end_col_offset", 0) or 0),
        )
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                return None
            if isinstance(node, ast.Call):
                name = qualified_name(ctx, node.func) or ""
                head = name.split(".")[0]
                if name in _CONVERSIONS:
                    found += _CONVERSIONS[name]
                elif head in _CONVERSIONS and head in modules | set(import_aliases(ctx)) and "." in name:
                    found += _CONVERSIONS[head]
                elif (
                    isinstance(node.func, ast.Name)
                    and node.func.id in _QUIET_CALLS
                    or isinstance(node.func, ast.Attribute)
                    and node.func.attr in _QUIET_METHODS
                ):
                    pass
                elif isinstance(node.func, ast.Attribute) and node.func.attr in _METHOD_RAISES:
                    found += _METHOD_RAISES[node.func.attr]
                else:
                    return None
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and not isinstance(node.slice, ast.Slice)
                or isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Del)
            ):
                found.append(_collection_kind(ctx, node.value))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
                if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                    continue
                if not (isinstance(node.right, ast.Constant) and node.right.value):
                    found.append("ZeroDivisionError")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
                and node.value.id not in modules
                and not isinstance(ctx.parents.get(node), ast.Call)
            ):
                found.append("AttributeError")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append("ImportError")
            elif isinstance(node, ast.Raise):
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if exc is None or dotted_name(exc) is None:
                    return None
                found.append(dotted_name(exc))  # type: ignore[arg-type]
            elif isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.AsyncWith, ast.Assert)):
                return None
    unique = list(dict.fromkeys(found))
    # A subclass next to its base says nothing more.
    covers = {
        "LookupError": {"KeyError", "IndexError"},
        "OSError": {"requests.RequestException"},
        "ValueError": {"UnicodeDecodeError"},
    }
    for base, subs in covers.items():
        if base in unique:
            unique = [u for u in unique if u not in subs]
    return unique or None


_BROAD = {"Exception", "BaseException"}


def specific_exception(ctx: FixContext, finding: Finding) -> Fix | None:
    """``except:`` / ``except Exception:`` whose body is ``pass`` or ``continue`` -> ``except <the
    exceptions the try body can raise>:`` (``int(x)`` -> ValueError/TypeError, a dict's ``d[k]`` ->
    KeyError, a list's -> IndexError, other subscripts -> LookupError, ``open``/``os.*`` -> OSError,
    ``json.loads`` -> ValueError, ``x / y`` -> ZeroDivisionError, ``obj.attr`` -> AttributeError...).

    Leaves alone: try bodies that call anything whose exceptions are not known (own functions,
    unknown methods), handlers already naming a specific exception, handlers that do more."""
    handlers = [
        n for n in ctx.nodes_on_line(finding.line, ast.ExceptHandler) if isinstance(n, ast.ExceptHandler)
    ]
    handlers.sort(key=lambda h: h.end_lineno - h.lineno)  # type: ignore[operator]
    for handler in handlers:
        names = (
            handler.type.elts
            if isinstance(handler.type, ast.Tuple)
            else [handler.type]
            if handler.type is not None
            else []
        )
        if handler.type is not None and not any(dotted_name(n) in _BROAD for n in names):
            return None
        if not (len(handler.body) == 1 and isinstance(handler.body[0], (ast.Pass, ast.Continue))):
            return None
        try_node = ctx.parents.get(handler)
        if not isinstance(try_node, (ast.Try, ast.TryStar)):
            return None
        raised = _raised_by(ctx, try_node.body)
        if raised is None:
            return None
        kept = [ctx.text(n) for n in names if dotted_name(n) not in _BROAD]
        caught = list(dict.fromkeys([*raised, *kept]))
        text = caught[0] if len(caught) == 1 else "(" + ", ".join(caught) + ")"
        imports = tuple(f"import {c.split('.')[0]}" for c in caught if "." in c)
        if handler.type is not None:
            edit = ctx.replace(handler.type, text)
        else:
            start = ctx.offset(handler.lineno, handler.col_offset)
            keyword_end = start + len("except")
            if ctx.source[start:keyword_end] != "except":
                return None
            edit = Edit(keyword_end, keyword_end, " " + text)
        return make_fix(
            "specific-except",
            finding,
            f"except {', '.join(caught)} (what the try body raises)",
            edit,
            imports=imports,
        )
    return None
