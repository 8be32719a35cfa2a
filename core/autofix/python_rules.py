"""Deterministic rewrite rules for Python findings (``PYTHON_RULES``).

Each rule answers the findings of one problem class (its ``tool:rule`` keys: bandit's B-ids, ruff's
codes, pylint's message ids, pyright's rule names) by looking at the flagged line's node in the one
parse of the original code and proposing edits of that node's text only; look-alikes elsewhere are
never touched. A rule returns None when the flagged code is not a shape it can rewrite without
changing what the code is meant to do (the model then gets the finding with a hint instead).

What each rule does and leaves alone is in its docstring. Unused imports, f-strings without
placeholders, ``is`` with literals, mutable defaults, pointless statements and unused local
variables have no rule here: ruff's own fixes handle those.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
import string
import sys
import warnings
from collections.abc import Iterator

from ..types import Finding
from .base import Edit, Fix, FixContext, RuleSet

PYTHON_RULES = RuleSet()

# --------------------------------------------------------------------------------------------
# Helpers


def _at(ctx: FixContext, finding: Finding, kind: type | tuple[type, ...]) -> list:
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


def _calls_starting(ctx: FixContext, finding: Finding) -> list[ast.Call]:
    return _at(ctx, finding, ast.Call)


def _aliases(ctx: FixContext) -> dict[str, str]:
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


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _qualname(ctx: FixContext, node: ast.AST) -> str | None:
    """The dotted name an expression refers to, with imports resolved (``sp.run`` -> ``subprocess.run``)."""
    dotted = _dotted(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    target = _aliases(ctx).get(head)
    if target is None:
        return dotted
    return f"{target}.{rest}" if rest else target


def _kw(call: ast.Call, name: str) -> ast.keyword | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword
    return None


def _has_star(call: ast.Call) -> bool:
    return any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value


def _items(call: ast.Call) -> list[ast.AST]:
    """Positional and keyword arguments in source order."""
    return sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def _drop_arg(ctx: FixContext, call: ast.Call, item: ast.AST) -> Edit:
    """Delete one argument (positional or keyword) with its separating comma."""
    items = _items(call)
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


def _append_arg(ctx: FixContext, call: ast.Call, text: str) -> Edit:
    """Add an argument after the last one (or inside empty parentheses)."""
    items = _items(call)
    if items:
        end = ctx.span(items[-1])[1]
        return Edit(end, end, ", " + text)
    close = ctx.span(call)[1] - 1
    return Edit(close, close, text)


def _quote_of(ctx: FixContext, node: ast.AST) -> str:
    text = ctx.text(node).lstrip("rRbBuUfF")
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote):
            return quote
    return '"'


def _pystr(value: str, quote: str = '"') -> str:
    """A Python string literal for ``value``, in ``quote`` where that needs no escapes."""
    plain = "\\" not in value and value.isprintable() or (len(quote) == 3 and "\\" not in value
                                                          and all(c.isprintable() or c == "\n" for c in value))
    if plain and len(quote) == 3 and quote not in value and not value.endswith(quote[0]):
        return quote + value + quote
    if plain and len(quote) == 1 and quote not in value and "\n" not in value:
        return quote + value + quote
    return repr(value)


def _scope_of(ctx: FixContext, node: ast.AST) -> ast.AST:
    return ctx.enclosing_function(node) or ctx.tree


def _walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of one scope, not descending into nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _names_in(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}


def _fresh(ctx: FixContext, *candidates: str) -> str:
    used = _names_in(ctx.tree)
    for name in candidates:
        if name not in used:
            return name
    base, n = candidates[-1], 2
    while f"{base}{n}" in used:
        n += 1
    return f"{base}{n}"


def _statement_of(ctx: FixContext, node: ast.AST) -> ast.stmt | None:
    while node is not None and not isinstance(node, ast.stmt):
        node = ctx.parents.get(node)  # type: ignore[assignment]
    return node


def _line_indent(ctx: FixContext, stmt: ast.stmt) -> str | None:
    """The indentation of a statement that starts its line, else None."""
    line = ctx.lines[stmt.lineno - 1]
    prefix = line[: len(line.encode("utf-8")[: stmt.col_offset].decode("utf-8", errors="ignore"))]
    return prefix if not prefix.strip() else None


def _block_of(ctx: FixContext, stmt: ast.stmt) -> list[ast.stmt] | None:
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


def _fix(rule: str, finding: Finding, description: str, *edits: Edit, imports: tuple[str, ...] = ()) -> Fix:
    return Fix(rule, finding.line, description, tuple(edits), imports)


# --------------------------------------------------------------------------------------------
# yaml.load -> yaml.safe_load

_SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


@PYTHON_RULES.register("bandit:B506", "ruff:S506", "pyright:reportCallIssue", "pylint:E1120")
def yaml_safe_load(ctx: FixContext, finding: Finding) -> Fix | None:
    """``yaml.load(s[, Loader=...])`` / ``yaml.load_all`` -> ``yaml.safe_load(s)`` / ``safe_load_all``.

    Leaves alone: calls with a safe loader already, ``*args``/``**kwargs``, extra arguments."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func)
        if name not in ("yaml.load", "yaml.load_all") or _has_star(call):
            continue
        loader = _kw(call, "Loader") or (call.args[1] if len(call.args) > 1 else None)
        if isinstance(loader, ast.keyword):
            loader_value = loader.value
        else:
            loader_value = loader
        if loader_value is not None and (_dotted(loader_value) or "").split(".")[-1] in _SAFE_LOADERS:
            return None
        others = [k for k in call.keywords if k.arg not in ("Loader", "stream")]
        if len(call.args) > 2 or others or (not call.args and not _kw(call, "stream")):
            return None
        safe = "safe_load" if name == "yaml.load" else "safe_load_all"
        edits = []
        imports: tuple[str, ...] = ()
        if isinstance(call.func, ast.Attribute):
            edits.append(ctx.replace(call.func, f"{ctx.text(call.func.value)}.{safe}"))
        else:
            edits.append(ctx.replace(call.func, f"yaml.{safe}"))
            imports = ("import yaml",)
        if loader is not None:
            edits.append(_drop_arg(ctx, call, loader))
        return _fix("yaml-safe-load", finding, f"yaml.{name.split('.')[-1]} -> yaml.{safe}", *edits,
                    imports=imports)
    return None


# --------------------------------------------------------------------------------------------
# shell=True / os.system -> an argument list without a shell

# Characters that mean shell syntax (pipes, redirects, lists, expansions, globs, comments).
_SHELL_META = set("|&;<>()$`\\*?[]{}~!#\n\r")
_SUBPROCESS_CALLS = {"subprocess.run", "subprocess.call", "subprocess.check_call",
                     "subprocess.check_output", "subprocess.Popen"}


def _plain_words(text: str) -> bool:
    """True when ``text`` has no shell syntax and shlex splits it as sh would."""
    if any(c in _SHELL_META for c in text):
        return False
    try:
        words = shlex.split(text)
    except ValueError:
        return False
    return not (words and "=" in words[0])  # VAR=value cmd is an assignment


_PERCENT_FIELD = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdifrxXeEgGco]")


def _constant_parts(ctx: FixContext, node: ast.AST, depth: int = 0) -> list[str] | None:
    """The string constants a command expression is built from (None: a part we cannot see)."""
    if depth > 5 or isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.Starred)):
        return None  # not a string (a list with shell=True): shlex.split would fail on it
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        template = _constant_parts(ctx, node.left, depth + 1)
        return None if template is None else [_PERCENT_FIELD.sub(" ", t) for t in template]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _constant_parts(ctx, node.left, depth + 1)
        right = _constant_parts(ctx, node.right, depth + 1)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
        return _constant_parts(ctx, node.func.value, depth + 1)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        template = _constant_parts(ctx, node.func.value, depth + 1)
        if template is None:
            return None
        try:  # the text around the replacement fields
            return [" ".join(literal for literal, *_ in string.Formatter().parse(t)) for t in template]
        except ValueError:
            return None
    if isinstance(node, ast.Name):
        values = [n.value for n in _walk_scope(_scope_of(ctx, node)) if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
        parts: list[str] = []
        for value in values:
            found = _constant_parts(ctx, value, depth + 1)
            if found is None:
                return None
            parts += found
        return parts
    return []


def _fstring_argv(node: ast.JoinedStr) -> list[str] | None:
    """Items of an argument list for an f-string command: its words, placeholders kept whole."""
    words: list[list[ast.AST]] = [[]]
    for value in node.values:
        if isinstance(value, ast.Constant):
            text = value.value
            if any(c in _SHELL_META for c in text):
                return None
            for index, chunk in enumerate(re.split(r"[ \t]+", text)):
                if index:
                    words.append([])
                if chunk:
                    words[-1].append(ast.Constant(chunk))
        else:
            words[-1].append(value)
    items = []
    for word in words:
        if not word:
            continue
        # A placeholder in quotes ('{x}' or "{x}") is one word for sh; without a shell it needs none.
        first, last = word[0], word[-1]
        if len(word) >= 2 and isinstance(first, ast.Constant) and isinstance(last, ast.Constant) \
                and first.value[:1] in "'\"" and first.value[:1] and last.value.endswith(first.value[0]):
            quote = first.value[0]
            if first is last:
                return None
            word = list(word)
            word[0] = ast.Constant(first.value[1:])
            word[-1] = ast.Constant(last.value[:-1])
            word = [w for w in word if not (isinstance(w, ast.Constant) and not w.value)]
            if any(isinstance(w, ast.Constant) and quote in w.value for w in word):
                return None
        if any(isinstance(w, ast.Constant) and ("'" in w.value or '"' in w.value) for w in word):
            return None
        if all(isinstance(w, ast.Constant) for w in word):
            items.append(_pystr("".join(w.value for w in word)))  # type: ignore[attr-defined]
        elif len(word) == 1 and isinstance(word[0], ast.FormattedValue) and word[0].conversion == -1 \
                and word[0].format_spec is None:
            items.append(f"str({ast.unparse(word[0].value)})")
        else:
            items.append(ast.unparse(ast.JoinedStr(values=word)))
    return items or None


def _argv(ctx: FixContext, node: ast.AST) -> tuple[str, tuple[str, ...], str] | None:
    """The argument-list text for a shell command string, the imports it needs and how it was made."""
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str) or not _plain_words(node.value):
            return None
        words = shlex.split(node.value)
        if not words:
            return None
        quote = _quote_of(ctx, node)
        quote = quote if len(quote) == 1 else '"'
        return "[" + ", ".join(_pystr(w, quote) for w in words) + "]", (), "a list"
    if isinstance(node, ast.JoinedStr):
        items = _fstring_argv(node)
        if items is None:
            return None
        return "[" + ", ".join(items) + "]", (), "a list"
    if isinstance(node, (ast.List, ast.Tuple, ast.Starred, ast.Dict, ast.Set, ast.ListComp)):
        return None
    parts = _constant_parts(ctx, node)
    if parts is None or any(not _plain_words(p.replace("'", "").replace('"', "")) for p in parts if p.strip()):
        return None
    return f"shlex.split({ctx.text(node)})", ("import shlex",), "shlex.split"


@PYTHON_RULES.register("bandit:B602", "ruff:S602", "bandit:B604", "ruff:S604")
def subprocess_without_shell(ctx: FixContext, finding: Finding) -> Fix | None:
    """``subprocess.run/call/check_call/check_output/Popen(cmd, shell=True)`` with a string command
    -> the same call with an argument list and no shell: a constant -> a list literal (shlex.split),
    an f-string -> its words with the placeholders as items, anything else -> ``shlex.split(cmd)``.

    Leaves alone: commands using shell syntax (pipes, redirects, ``;``, ``&&``, ``$``, backticks,
    globs...), list commands, ``executable=``, calls that are not subprocess's."""
    for call in _calls_starting(ctx, finding):
        shell = _kw(call, "shell")
        if shell is None or not _is_const(shell.value, True):
            continue
        if _qualname(ctx, call.func) not in _SUBPROCESS_CALLS or _has_star(call) or _kw(call, "executable"):
            return None
        command = call.args[0] if call.args else getattr(_kw(call, "args"), "value", None)
        if command is None:
            return None
        made = _argv(ctx, command)
        if made is None:
            return None
        text, imports, how = made
        edits = [ctx.replace(command, text), _drop_arg(ctx, call, shell)]
        return _fix("subprocess-no-shell", finding, f"shell=True -> an argument list ({how})", *edits,
                    imports=imports)
    return None


@PYTHON_RULES.register("bandit:B605", "ruff:S605")
def os_system_to_subprocess(ctx: FixContext, finding: Finding) -> Fix | None:
    """``os.system(cmd)`` -> ``subprocess.call(<argument list>)`` (an exit code, no shell);
    ``os.popen(cmd).read()`` -> ``subprocess.run(<list>, stdout=subprocess.PIPE, text=True,
    check=False).stdout``. The list is made as for shell=True.

    Leaves alone: commands with shell syntax, popen objects used other than by one ``.read()``."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func)
        if name not in ("os.system", "os.popen"):
            continue
        if len(call.args) < 1 or call.keywords or _has_star(call):
            return None
        if name == "os.system":
            if len(call.args) != 1:
                return None
            made = _argv(ctx, call.args[0])
            if made is None:
                return None
            text, imports, how = made
            return _fix("os-system-subprocess", finding, f"os.system -> subprocess.call ({how})",
                        ctx.replace(call, f"subprocess.call({text})"), imports=("import subprocess", *imports))
        parent = ctx.parents.get(call)
        outer = ctx.parents.get(parent) if parent is not None else None
        mode_ok = len(call.args) == 1 or (len(call.args) == 2 and _is_const(call.args[1], "r"))
        if not (mode_ok and isinstance(parent, ast.Attribute) and parent.attr == "read"
                and isinstance(outer, ast.Call) and outer.func is parent and not outer.args and not outer.keywords):
            return None
        made = _argv(ctx, call.args[0])
        if made is None:
            return None
        text, imports, how = made
        new = f"subprocess.run({text}, stdout=subprocess.PIPE, text=True, check=False).stdout"
        return _fix("os-popen-subprocess", finding, f"os.popen(...).read() -> subprocess.run ({how})",
                    ctx.replace(outer, new), imports=("import subprocess", *imports))
    return None


# --------------------------------------------------------------------------------------------
# random -> secrets

_RANDOM_METHODS = {"random", "randint", "randrange", "choice", "choices", "sample", "uniform",
                   "shuffle", "getrandbits", "randbytes", "triangular", "gauss", "normalvariate",
                   "betavariate", "expovariate", "gammavariate", "lognormvariate", "vonmisesvariate",
                   "paretovariate", "weibullvariate", "binomialvariate"}


def _seeds_random(ctx: FixContext) -> bool:
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Call):
            name = _qualname(ctx, node.func) or ""
            if name in ("random.seed", "random.setstate", "numpy.random.seed"):
                return True
            if name == "random.Random" and (node.args or node.keywords):
                return True
    return False


@PYTHON_RULES.register("bandit:B311", "ruff:S311")
def random_to_secrets(ctx: FixContext, finding: Finding) -> Fix | None:
    """``random.X(...)`` (also ``from random import X``) -> ``secrets.SystemRandom().X(...)``;
    ``random.Random()`` -> ``secrets.SystemRandom()``.

    Leaves alone: modules that seed the generator (``random.seed``, ``random.Random(seed)``):
    they want a reproducible sequence."""
    if _seeds_random(ctx):
        return None
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        module, _, method = name.rpartition(".")
        if module != "random":
            continue
        if method == "Random":
            if call.args or call.keywords:
                return None
            return _fix("secrets-random", finding, "random.Random() -> secrets.SystemRandom()",
                        ctx.replace(call.func, "secrets.SystemRandom"), imports=("import secrets",))
        if method not in _RANDOM_METHODS:
            continue
        return _fix("secrets-random", finding, f"random.{method} -> secrets.SystemRandom().{method}",
                    ctx.replace(call.func, f"secrets.SystemRandom().{method}"), imports=("import secrets",))
    return None


# --------------------------------------------------------------------------------------------
# tempfile.mktemp -> mkstemp


@PYTHON_RULES.register("bandit:B306", "ruff:S306")
def mktemp_to_mkstemp(ctx: FixContext, finding: Finding) -> Fix | None:
    """``path = tempfile.mktemp(...)`` -> ``fd, path = tempfile.mkstemp(...)`` + ``os.close(fd)``
    (the file now exists, created privately); ``tempfile.mktemp(...)`` inside another simple
    statement -> the same two lines before it and the path in its place.

    Leaves alone: mktemp inside lambdas, comprehensions, conditions or loops' headers, statements
    that share their line, and paths later made into directories (``os.mkdir(path)``)."""
    for call in _calls_starting(ctx, finding):
        if _qualname(ctx, call.func) != "tempfile.mktemp" or _has_star(call):
            continue
        stmt = _statement_of(ctx, call)
        if stmt is None or not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Expr)):
            return None
        indent = _line_indent(ctx, stmt)
        if indent is None or _block_of(ctx, stmt) is None:
            return None
        node: ast.AST = call
        while node is not stmt:
            node = ctx.parents[node]
            if isinstance(node, (ast.Lambda, ast.comprehension, ast.ListComp, ast.SetComp, ast.DictComp,
                                 ast.GeneratorExp, ast.IfExp, ast.BoolOp, ast.NamedExpr)):
                return None
        func = ctx.text(call.func)[: -len("mktemp")] + "mkstemp" if isinstance(call.func, ast.Attribute) \
            else "tempfile.mkstemp"
        args = ctx.source[ctx.span(call.func)[1]: ctx.span(call)[1]]
        imports = ("import os",) if isinstance(call.func, ast.Attribute) else ("import os", "import tempfile")
        fd = _fresh(ctx, "fd", "tmp_fd")
        if isinstance(stmt, ast.Assign) and stmt.value is call and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            path = stmt.targets[0].id
            if _made_directory(ctx, stmt, path):
                return None
            text = f"{fd}, {path} = {func}{args}\n{indent}os.close({fd})"
            return _fix("mkstemp", finding, "tempfile.mktemp -> tempfile.mkstemp (file created, fd closed)",
                        ctx.replace(stmt, text), imports=imports)
        if isinstance(stmt, ast.Expr) and stmt.value is call:
            return None
        path = _fresh(ctx, "tmp_path", "temp_path")
        start = ctx.span(stmt)[0]
        before = f"{fd}, {path} = {func}{args}\n{indent}os.close({fd})\n{indent}"
        return _fix("mkstemp", finding, "tempfile.mktemp -> tempfile.mkstemp (file created, fd closed)",
                    Edit(start, start, before), ctx.replace(call, path), imports=imports)
    return None


# Calls that fail when their path argument already exists (mktemp's path did not, mkstemp's does).
_NEEDS_NO_FILE = {"os.mkdir", "os.makedirs", "os.mkfifo", "os.mknod", "os.symlink", "os.link", "shutil.copytree"}


def _made_directory(ctx: FixContext, stmt: ast.stmt, name: str) -> bool:
    """True when the path is given to a call that wants it not to exist (a directory, a FIFO, a
    link, a Unix socket's ``bind``)."""
    for node in _walk_scope(_scope_of(ctx, stmt)):
        if not isinstance(node, ast.Call):
            continue
        values = [*node.args, *(k.value for k in node.keywords)]
        if any(isinstance(v, ast.Name) and v.id == name for v in values):
            method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if _qualname(ctx, node.func) in _NEEDS_NO_FILE or method in ("mkdir", "bind", "symlink_to", "mkfifo"):
                return True
    return False


# --------------------------------------------------------------------------------------------
# TLS verification, served apps


@PYTHON_RULES.register("bandit:B501", "ruff:S501")
def verify_certificates(ctx: FixContext, finding: Finding) -> Fix | None:
    """``verify=False`` in a requests/httpx call -> the keyword removed (certificates verified).

    Leaves alone: ``verify=`` with any other value (a CA bundle path, a variable)."""
    for call in _calls_starting(ctx, finding):
        verify = _kw(call, "verify")
        if verify is not None and _is_const(verify.value, False):
            return _fix("verify-tls", finding, "verify=False removed (certificates are verified)",
                        _drop_arg(ctx, call, verify))
    return None


@PYTHON_RULES.register("bandit:B323", "ruff:S323")
def default_ssl_context(ctx: FixContext, finding: Finding) -> Fix | None:
    """``ssl._create_unverified_context()`` -> ``ssl.create_default_context()`` (also as a bare
    reference, e.g. assigned to ``ssl._create_default_https_context``).

    Leaves alone: calls with arguments (the two functions take different ones)."""
    for node in _at(ctx, finding, ast.Attribute):
        if not isinstance(node, ast.Attribute) or _qualname(ctx, node) != "ssl._create_unverified_context":
            continue
        parent = ctx.parents.get(node)
        if isinstance(parent, ast.Call) and parent.func is node and (parent.args or parent.keywords):
            return None
        return _fix("ssl-default-context", finding,
                    "ssl._create_unverified_context -> ssl.create_default_context",
                    ctx.replace(node, f"{ctx.text(node.value)}.create_default_context"))
    return None


@PYTHON_RULES.register("bandit:B201", "ruff:S201")
def flask_debug_off(ctx: FixContext, finding: Finding) -> Fix | None:
    """``app.run(..., debug=True)`` -> ``debug=False`` (no interactive debugger on the server)."""
    for call in _calls_starting(ctx, finding):
        debug = _kw(call, "debug")
        if isinstance(call.func, ast.Attribute) and call.func.attr == "run" and debug is not None \
                and _is_const(debug.value, True):
            return _fix("flask-debug-off", finding, "debug=True -> debug=False", ctx.replace(debug.value, "False"))
    return None


@PYTHON_RULES.register("bandit:B104", "ruff:S104")
def bind_localhost(ctx: FixContext, finding: Finding) -> Fix | None:
    """``host="0.0.0.0"`` in a ``.run(...)`` call (Flask, uvicorn...) -> ``"127.0.0.1"``.

    Leaves alone: "0.0.0.0" anywhere else (socket binds, constants, configuration)."""
    for node in _at(ctx, finding, ast.Constant):
        if not _is_const(node, "0.0.0.0"):
            continue
        parent = ctx.parents.get(node)
        call = ctx.parents.get(parent) if isinstance(parent, ast.keyword) else parent
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run"):
            continue
        is_host = (isinstance(parent, ast.keyword) and parent.arg == "host") or (
            call.args and call.args[0] is node and _dotted(call.func.value) not in ("uvicorn", "asyncio"))
        if is_host:
            quote = _quote_of(ctx, node)
            return _fix("bind-localhost", finding, 'host "0.0.0.0" -> "127.0.0.1"',
                        ctx.replace(node, _pystr("127.0.0.1", quote)))
    return None


# --------------------------------------------------------------------------------------------
# Weak hashes

_PASSWORD = re.compile(r"passw|passwd|pwd|password", re.IGNORECASE)
_WEAK = {"md5": re.compile(r"\bmd-?5\b", re.IGNORECASE), "sha1": re.compile(r"\bsha-?1\b", re.IGNORECASE)}


def _password_context(ctx: FixContext, call: ast.Call) -> bool:
    texts = [ctx.text(call)]
    stmt = _statement_of(ctx, call)
    if stmt is not None and not isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                                                  ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                  ast.Match)):
        texts.append(ctx.text(stmt))
    function = ctx.enclosing_function(call)
    if function is not None:
        texts.append(function.name)
        texts += [a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)]
    return any(_PASSWORD.search(t) for t in texts)


@PYTHON_RULES.register("bandit:B324", "ruff:S324")
def weak_hash(ctx: FixContext, finding: Finding) -> Fix | None:
    """``hashlib.md5/sha1(...)``, ``hashlib.new("md5"|"sha1", ...)``: where the task asks for that
    digest -> ``usedforsecurity=False`` added; elsewhere -> SHA-256.

    Leaves alone: password hashing (names with password/passwd/pwd: that needs a salted password
    hash, not a faster digest) and calls that already pass ``usedforsecurity``."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        if name in ("hashlib.md5", "hashlib.sha1"):
            algorithm = name.split(".")[1]
            algo_node = None
        elif name == "hashlib.new" and call.args and isinstance(call.args[0], ast.Constant) \
                and str(call.args[0].value).lower() in _WEAK:
            algorithm = str(call.args[0].value).lower()
            algo_node = call.args[0]
        else:
            continue
        if _kw(call, "usedforsecurity") or _has_star(call):
            return None
        if _WEAK[algorithm].search(ctx.task or ""):
            return _fix("hash-not-for-security", finding, f"{algorithm}: usedforsecurity=False (the task asks for it)",
                        _append_arg(ctx, call, "usedforsecurity=False"))
        if _password_context(ctx, call):
            return None
        if algo_node is not None:
            edit = ctx.replace(algo_node, _pystr("sha256", _quote_of(ctx, algo_node)))
            return _fix("hash-sha256", finding, f'hashlib.new("{algorithm}") -> "sha256"', edit)
        if isinstance(call.func, ast.Attribute):
            return _fix("hash-sha256", finding, f"hashlib.{algorithm} -> hashlib.sha256",
                        ctx.replace(call.func, f"{ctx.text(call.func.value)}.sha256"))
        return _fix("hash-sha256", finding, f"{algorithm} -> hashlib.sha256",
                    ctx.replace(call.func, "hashlib.sha256"), imports=("import hashlib",))
    return None


@PYTHON_RULES.register("bandit:B303", "ruff:S303")
def weak_hash_library(ctx: FixContext, finding: Finding) -> Fix | None:
    """cryptography's ``hashes.MD5()/SHA1()`` -> ``hashes.SHA256()``; PyCryptodome's ``MD5.new(...)``
    / ``SHA.new`` (imported from ``Crypto.Hash``/``Cryptodome.Hash``) -> ``SHA256.new(...)``.

    Leaves alone: password contexts and tasks that ask for that digest."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        parts = name.split(".")
        if len(parts) < 2:
            continue
        weak = parts[-1] in ("MD5", "SHA1", "MD4", "MD2") and parts[0] == "cryptography"
        crypto = parts[-1] == "new" and parts[-2] in ("MD5", "SHA", "SHA1", "MD4", "MD2") \
            and parts[0] in ("Crypto", "Cryptodome")
        if not (weak or crypto):
            continue
        algorithm = "md5" if "MD5" in parts[-2:] else "sha1"
        if _password_context(ctx, call) or _WEAK[algorithm].search(ctx.task or "") or algorithm not in _WEAK:
            return None
        if weak and isinstance(call.func, ast.Attribute):
            return _fix("hash-sha256", finding, f"{parts[-1]} -> SHA256",
                        ctx.replace(call.func, f"{ctx.text(call.func.value)}.SHA256"))
        if crypto and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            package = ".".join(parts[:-2])
            return _fix("hash-sha256", finding, f"{parts[-2]} -> SHA256", ctx.replace(call.func.value, "SHA256"),
                        imports=(f"from {package} import SHA256",))
        return None
    return None


# --------------------------------------------------------------------------------------------
# try/except/pass -> the specific exceptions

_CONVERSIONS = {"int": ("ValueError", "TypeError"), "float": ("ValueError", "TypeError"),
                "complex": ("ValueError", "TypeError"), "decimal.Decimal": ("ArithmeticError", "TypeError"),
                "fractions.Fraction": ("ValueError", "TypeError", "ZeroDivisionError"),
                "ord": ("TypeError",), "chr": ("ValueError", "TypeError"), "next": ("StopIteration",),
                "open": ("OSError",), "json.loads": ("ValueError",), "json.load": ("ValueError",),
                "ast.literal_eval": ("ValueError", "SyntaxError"), "getattr": ("AttributeError",),
                "datetime.datetime.strptime": ("ValueError",), "datetime.date.fromisoformat": ("ValueError",),
                "datetime.datetime.fromisoformat": ("ValueError",), "ipaddress.ip_address": ("ValueError",),
                "base64.b64decode": ("ValueError",), "bytes.fromhex": ("ValueError",),
                "urllib.request.urlopen": ("OSError",), "socket.create_connection": ("OSError",),
                "importlib.import_module": ("ImportError",), "math.sqrt": ("ValueError",),
                "math.log": ("ValueError",), "statistics.mean": ("ValueError",),
                "shutil": ("OSError",), "os": ("OSError",), "socket": ("OSError",), "pathlib": ("OSError",),
                "subprocess": ("OSError", "subprocess.SubprocessError"),
                "requests": ("requests.RequestException",), "httpx": ("httpx.HTTPError",)}
# Calls and methods that raise nothing worth catching on the values generated code gives them.
_QUIET_CALLS = {"len", "str", "repr", "print", "range", "list", "dict", "set", "tuple", "bool", "sorted",
                "reversed", "enumerate", "zip", "abs", "min", "max", "sum", "any", "all", "isinstance",
                "hasattr", "id", "type", "round", "map", "filter", "iter", "frozenset", "format"}
_QUIET_METHODS = {"append", "extend", "add", "strip", "lstrip", "rstrip", "split", "rsplit", "lower", "upper",
                  "startswith", "endswith", "replace", "join", "get", "items", "keys", "values", "copy",
                  "update", "setdefault", "isdigit", "isalpha", "isalnum", "isspace", "format", "count",
                  "find", "title", "capitalize", "insert", "clear", "encode", "sort", "reverse", "discard"}
_METHOD_RAISES = {"index": ("ValueError",), "remove": ("ValueError",), "pop": ("LookupError",),
                  "decode": ("UnicodeDecodeError",), "read": ("OSError",), "write": ("OSError",),
                  "close": ("OSError",), "read_text": ("OSError",), "write_text": ("OSError",),
                  "read_bytes": ("OSError",), "write_bytes": ("OSError",), "unlink": ("OSError",),
                  "mkdir": ("OSError",), "rmdir": ("OSError",), "rename": ("OSError",), "stat": ("OSError",),
                  "readline": ("OSError",), "readlines": ("OSError",), "connect": ("OSError",),
                  "recv": ("OSError",), "send": ("OSError",), "sendall": ("OSError",), "json": ("ValueError",),
                  "raise_for_status": ("requests.HTTPError",), "fromisoformat": ("ValueError",),
                  "strptime": ("ValueError",), "group": ("IndexError",)}


def _collection_kind(ctx: FixContext, node: ast.AST) -> str:
    """"KeyError" / "IndexError" when a subscripted name is visibly a dict / a list, else "LookupError"."""
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "KeyError"
    if isinstance(node, (ast.List, ast.ListComp, ast.Tuple, ast.Constant)):
        return "IndexError"
    if isinstance(node, ast.Name):
        kinds = set()
        for stmt in _walk_scope(_scope_of(ctx, node)):
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets):
                value = stmt.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                    kinds.add({"dict": "KeyError", "list": "IndexError", "sorted": "IndexError"}.get(
                        value.func.id, "LookupError"))
                else:
                    kinds.add(_collection_kind(ctx, value) if isinstance(
                        value, (ast.Dict, ast.DictComp, ast.List, ast.ListComp, ast.Tuple, ast.Constant))
                        else "LookupError")
        if len(kinds) == 1:
            return kinds.pop()
    return "LookupError"


def _raised_by(ctx: FixContext, body: list[ast.stmt]) -> list[str] | None:
    """The exceptions a try body can visibly raise, or None when it calls something unknown."""
    found: list[str] = []
    modules = ctx.imported_modules
    for stmt in body:
        # In evaluation order, roughly: a node after the nodes it contains.
        nodes = sorted([stmt, *_walk_scope(stmt)], key=lambda n: (getattr(n, "end_lineno", 0) or 0,
                                                                 getattr(n, "end_col_offset", 0) or 0))
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                return None
            if isinstance(node, ast.Call):
                name = _qualname(ctx, node.func) or ""
                head = name.split(".")[0]
                if name in _CONVERSIONS:
                    found += _CONVERSIONS[name]
                elif head in _CONVERSIONS and head in modules | set(_aliases(ctx)) and "." in name:
                    found += _CONVERSIONS[head]
                elif isinstance(node.func, ast.Name) and node.func.id in _QUIET_CALLS or isinstance(node.func, ast.Attribute) and node.func.attr in _QUIET_METHODS:
                    pass
                elif isinstance(node.func, ast.Attribute) and node.func.attr in _METHOD_RAISES:
                    found += _METHOD_RAISES[node.func.attr]
                else:
                    return None
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                    and not isinstance(node.slice, ast.Slice) or isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Del):
                found.append(_collection_kind(ctx, node.value))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
                if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                    continue
                if not (isinstance(node.right, ast.Constant) and node.right.value):
                    found.append("ZeroDivisionError")
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) \
                    and isinstance(node.value, ast.Name) and node.value.id not in modules \
                    and not isinstance(ctx.parents.get(node), ast.Call):
                found.append("AttributeError")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append("ImportError")
            elif isinstance(node, ast.Raise):
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if exc is None or _dotted(exc) is None:
                    return None
                found.append(_dotted(exc))  # type: ignore[arg-type]
            elif isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.AsyncWith, ast.Assert)):
                return None
    unique = list(dict.fromkeys(found))
    # A subclass next to its base says nothing more.
    covers = {"LookupError": {"KeyError", "IndexError"}, "OSError": {"requests.RequestException"},
              "ValueError": {"UnicodeDecodeError"}}
    for base, subs in covers.items():
        if base in unique:
            unique = [u for u in unique if u not in subs]
    return unique or None


_BROAD = {"Exception", "BaseException"}


@PYTHON_RULES.register("bandit:B110", "ruff:S110", "bandit:B112", "ruff:S112", "ruff:E722", "pylint:W0702",
                       "pylint:W0718", "ruff:BLE001")
def specific_exception(ctx: FixContext, finding: Finding) -> Fix | None:
    """``except:`` / ``except Exception:`` whose body is ``pass`` or ``continue`` -> ``except <the
    exceptions the try body can raise>:`` (``int(x)`` -> ValueError/TypeError, a dict's ``d[k]`` ->
    KeyError, a list's -> IndexError, other subscripts -> LookupError, ``open``/``os.*`` -> OSError,
    ``json.loads`` -> ValueError, ``x / y`` -> ZeroDivisionError, ``obj.attr`` -> AttributeError...).

    Leaves alone: try bodies that call anything whose exceptions are not known (own functions,
    unknown methods), handlers already naming a specific exception, handlers that do more."""
    handlers = [n for n in ctx.nodes_on_line(finding.line, ast.ExceptHandler) if isinstance(n, ast.ExceptHandler)]
    handlers.sort(key=lambda h: h.end_lineno - h.lineno)  # type: ignore[operator]
    for handler in handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.type is not None and not any(_dotted(n) in _BROAD for n in names):
            return None
        if not (len(handler.body) == 1 and isinstance(handler.body[0], (ast.Pass, ast.Continue))):
            return None
        try_node = ctx.parents.get(handler)
        if not isinstance(try_node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            return None
        raised = _raised_by(ctx, try_node.body)
        if raised is None:
            return None
        kept = [ctx.text(n) for n in names if n is not None and _dotted(n) not in _BROAD]
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
        return _fix("specific-except", finding, f"except {', '.join(caught)} (what the try body raises)", edit,
                    imports=imports)
    return None


# --------------------------------------------------------------------------------------------
# requests without timeout

_HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}


@PYTHON_RULES.register("bandit:B113", "ruff:S113")
def request_timeout(ctx: FixContext, finding: Finding) -> Fix | None:
    """``requests.get/post/...(...)`` without ``timeout=`` (or with ``timeout=None``) -> ``timeout=10``.

    Leaves alone: calls passing ``**kwargs`` (they may carry a timeout)."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        module, _, method = name.rpartition(".")
        if module not in ("requests", "httpx") or method not in _HTTP_METHODS:
            continue
        if any(k.arg is None for k in call.keywords):
            return None
        timeout = _kw(call, "timeout")
        if timeout is not None:
            if not _is_const(timeout.value, None):
                return None
            return _fix("request-timeout", finding, "timeout=None -> timeout=10", ctx.replace(timeout.value, "10"))
        return _fix("request-timeout", finding, "timeout=10 added", _append_arg(ctx, call, "timeout=10"))
    return None


# --------------------------------------------------------------------------------------------
# SQL built by string formatting -> a parameterized query

_QMARK_DRIVERS = {"sqlite3", "aiosqlite", "duckdb"}
_FORMAT_DRIVERS = {"psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql", "pgdb", "aiomysql"}
_VALUE_BEFORE = re.compile(r"(=|<|>|[+]|(?<![-/*])[-*/]|\bLIKE|\bLIMIT|\bOFFSET|\bBETWEEN)\s*$", re.IGNORECASE)
_BETWEEN_AND = re.compile(r"\bBETWEEN\s+(\?|%s|\S+)\s+AND\s*$", re.IGNORECASE)


def _placeholder_style(ctx: FixContext) -> str | None:
    modules = {name.split(".")[0] for name in _aliases(ctx).values()}
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
            if isinstance(value, ast.Constant) or isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                pieces.append(value.value)
            else:
                return None
        return pieces
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sql_pieces_add(node.left), _sql_pieces_add(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
            and isinstance(node.left.value, str):
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
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
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
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" \
                and len(node.args) == 1:
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
            query = query[: -1]
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


@PYTHON_RULES.register("bandit:B608", "ruff:S608")
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
        pieces = _sql_pieces(node) if not isinstance(node, ast.Call) or (
            isinstance(node.func, ast.Attribute) and node.func.attr == "format") else None
        if pieces is None or not any(isinstance(p, str) and re.search(
                r"\b(SELECT|INSERT|UPDATE|DELETE)\b", p, re.IGNORECASE) for p in pieces):
            continue
        parent = ctx.parents.get(node)
        execute = None
        assign_edit = None
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is node:
            execute = parent
        elif isinstance(parent, ast.Assign) and parent.value is node and len(parent.targets) == 1 \
                and isinstance(parent.targets[0], ast.Name):
            name = parent.targets[0].id
            uses = [n for n in _walk_scope(_scope_of(ctx, parent)) if isinstance(n, ast.Name) and n.id == name
                    and n is not parent.targets[0]]
            stores = [n for n in uses if not isinstance(n.ctx, ast.Load)]
            if len(uses) != 1 or stores:
                return None
            use = uses[0]
            execute = ctx.parents.get(use)
            if not (isinstance(execute, ast.Call) and execute.args and execute.args[0] is use):
                return None
            assign_edit = True
        if not (isinstance(execute, ast.Call) and isinstance(execute.func, ast.Attribute)
                and execute.func.attr in ("execute", "executescript") and len(execute.args) == 1
                and not execute.keywords):
            return None
        if execute.func.attr == "executescript":
            return None
        made = _parameterize(pieces, mark)
        if made is None or not made[1]:
            return None
        query, params = made
        quote = _quote_of(ctx, node.func.value if isinstance(node, ast.Call) else (
            node.left if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) else node))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            first = node
            while isinstance(first, ast.BinOp):
                first = first.left
            quote = _quote_of(ctx, first)
        texts = [ast.unparse(p) if isinstance(node, ast.JoinedStr) else ctx.text(p) for p in params]
        values = "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"
        literal = _pystr(query, quote)
        if assign_edit:
            edits = [ctx.replace(node, literal), _append_arg(ctx, execute, values)]
        else:
            edits = [ctx.replace(node, f"{literal}, {values}")]
        return _fix("sql-parameters", finding, f"query parameterized ({mark} placeholders)", *edits)
    return None


# --------------------------------------------------------------------------------------------
# TLS protocol versions, SSH host keys

_OLD_PROTOCOLS = {"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1"}
_OLD_METHODS = {"SSLv2_METHOD", "SSLv3_METHOD", "SSLv23_METHOD", "TLSv1_METHOD", "TLSv1_1_METHOD"}


@PYTHON_RULES.register("bandit:B502", "ruff:S502", "bandit:B503", "ruff:S503")
def modern_tls(ctx: FixContext, finding: Finding) -> Fix | None:
    """``ssl.PROTOCOL_SSLv2/SSLv3/TLSv1/TLSv1_1`` -> ``ssl.PROTOCOL_TLS_CLIENT``, or
    ``PROTOCOL_TLS_SERVER`` for a server (``server_side=True``, or a scope that loads a certificate
    chain); as ``ssl.wrap_socket``'s ``ssl_version`` a client gets ``ssl.PROTOCOL_TLS`` (the highest
    version both sides speak), because wrap_socket sets CERT_NONE, which a TLS_CLIENT context refuses.
    pyOpenSSL's ``SSL.SSLv2/SSLv3/SSLv23/TLSv1/TLSv1_1_METHOD`` -> ``SSL.TLS_METHOD``."""
    edits = []
    for node in _at(ctx, finding, ast.Attribute):
        if not isinstance(node, ast.Attribute) or node.lineno != finding.line and node.end_lineno != finding.line:
            continue
        name = _qualname(ctx, node) or ""
        if name.startswith("ssl.") and node.attr in _OLD_PROTOCOLS:
            call = ctx.parents.get(node)
            call = ctx.parents.get(call) if isinstance(call, ast.keyword) else call
            server = isinstance(call, ast.Call) and _is_const(getattr(_kw(call, "server_side"), "value", None), True)
            server = server or any(isinstance(n, ast.Attribute) and n.attr == "load_cert_chain"
                                   for n in _walk_scope(_scope_of(ctx, node)))
            wrap = isinstance(call, ast.Call) and _qualname(ctx, call.func) == "ssl.wrap_socket"
            new = "PROTOCOL_TLS_SERVER" if server else "PROTOCOL_TLS" if wrap else "PROTOCOL_TLS_CLIENT"
            edits.append(ctx.replace(node, f"{ctx.text(node.value)}.{new}"))
        elif name.startswith("OpenSSL.SSL.") and node.attr in _OLD_METHODS:
            edits.append(ctx.replace(node, f"{ctx.text(node.value)}.TLS_METHOD"))
    if not edits:
        return None
    return _fix("modern-tls", finding, "old SSL/TLS protocol -> TLS (client or server)", *edits)


@PYTHON_RULES.register("bandit:B507", "ruff:S507")
def ssh_reject_unknown_hosts(ctx: FixContext, finding: Finding) -> Fix | None:
    """``paramiko.AutoAddPolicy()`` / ``WarningPolicy()`` -> ``paramiko.RejectPolicy()``; in a
    ``client.set_missing_host_key_policy(...)`` statement of a module that loads no host keys,
    ``client.load_system_host_keys()`` is added before it (so known hosts still connect)."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        if name not in ("paramiko.AutoAddPolicy", "paramiko.WarningPolicy",
                        "paramiko.client.AutoAddPolicy", "paramiko.client.WarningPolicy"):
            continue
        if isinstance(call.func, ast.Attribute):
            new = f"{ctx.text(call.func.value)}.RejectPolicy"
            imports: tuple[str, ...] = ()
        else:
            new, imports = "paramiko.RejectPolicy", ("import paramiko",)
        edits = [ctx.replace(call.func, new)]
        outer = ctx.parents.get(call)
        stmt = ctx.parents.get(outer) if outer is not None else None
        loads = any(isinstance(n, ast.Attribute) and n.attr in ("load_system_host_keys", "load_host_keys")
                    for n in ast.walk(ctx.tree))
        if isinstance(outer, ast.Call) and isinstance(outer.func, ast.Attribute) \
                and outer.func.attr == "set_missing_host_key_policy" and isinstance(stmt, ast.Expr) \
                and _dotted(outer.func.value) is not None and not loads:
            indent = _line_indent(ctx, stmt)
            if indent is not None:
                start = ctx.span(stmt)[0]
                edits.insert(0, Edit(start, start, f"{ctx.text(outer.func.value)}.load_system_host_keys()\n{indent}"))
        return _fix("ssh-reject-policy", finding, "AutoAddPolicy -> RejectPolicy (known hosts only)", *edits,
                    imports=imports)
    return None


# --------------------------------------------------------------------------------------------
# Star imports -> the names used

# Standard-library modules whose import does something (opens windows, prints, starts tools).
_SIDE_EFFECT_MODULES = {"antigravity", "this", "turtle", "turtledemo", "tkinter", "idlelib", "__hello__",
                        "__phello__", "lib2to3", "pydoc", "ensurepip", "venv", "webbrowser", "xxsubtype",
                        "_tkinter", "msvcrt", "winreg", "winsound", "_winapi"}


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
                for inner in _walk_scope(function):
                    if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load):
                        local.add(inner.id)
                    elif isinstance(inner, (ast.Global, ast.Nonlocal)):
                        declared.update(inner.names)
                local_cache[function] = local - declared
            if node.id in local_cache[function]:
                continue
        names.add(node.id)
    for node in ast.walk(ctx.tree):  # names listed in __all__ are exported, so used
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)) \
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return names


def _star_import_fix(ctx: FixContext, finding: Finding, target: ast.ImportFrom) -> Fix | None:
    stars = [n for n in ctx.tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
    if target not in stars or target.level or not target.module:
        return None
    index = stars.index(target)
    provided = _stdlib_public_names(target.module)
    if provided is None:
        return None
    later: set[str] = set()
    for other in stars[index + 1:]:
        names = _stdlib_public_names(other.module or "") if not other.level else None
        if names is None:
            return None  # a later star import we cannot read may rebind any name
        later |= names
    used = sorted((provided & _free_names(ctx)) - later)
    indent = _line_indent(ctx, target)
    if indent is None:
        return None
    start, end = ctx.span(target)
    line_end = ctx.line_starts[target.end_lineno] if target.end_lineno < len(ctx.line_starts) else len(ctx.source)
    rest = ctx.source[end:line_end]
    if rest.strip() and not rest.strip().startswith("#"):
        return None  # another statement shares the line
    if used:
        text = f"from {target.module} import {', '.join(used)}"
        if len(indent) + len(text) > 99:
            text = f"from {target.module} import (\n" + "".join(f"{indent}    {n},\n" for n in used) + f"{indent})"
        return _fix("star-import-names", finding, f"from {target.module} import * -> the names used",
                    Edit(start, end, text))
    block = _block_of(ctx, target) if ctx.parents.get(target) is not ctx.tree else ctx.tree.body
    if block is not None and len(block) == 1 and block is not ctx.tree.body:
        return _fix("star-import-names", finding, f"from {target.module} import * -> pass (no name used)",
                    Edit(start, end, "pass"))
    line_start = ctx.line_starts[target.lineno - 1]
    return _fix("star-import-names", finding, f"from {target.module} import * removed (no name used)",
                Edit(line_start, line_end, ""))


@PYTHON_RULES.register("ruff:F403", "pylint:W0401")
def star_import(ctx: FixContext, finding: Finding) -> Fix | None:
    """``from M import *`` (M in the standard library) -> ``from M import <the names the module
    uses>`` (each name from the last star import that provides it), or the line deleted when no
    name is used.

    Leaves alone: non-standard-library modules (their names are not read: importing them could run
    anything), modules with import side effects (turtle, tkinter, this...), relative imports, star
    imports followed by one that cannot be read, lines holding another statement."""
    for node in ctx.tree.body:
        if isinstance(node, ast.ImportFrom) and node.lineno <= finding.line <= (node.end_lineno or node.lineno) \
                and any(a.name == "*" for a in node.names):
            return _star_import_fix(ctx, finding, node)
    return None


_UNDEFINED_FROM_STAR = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`? may be undefined")


@PYTHON_RULES.register("ruff:F405")
def star_import_use(ctx: FixContext, finding: Finding) -> Fix | None:
    """A name used from a star import (F405) -> the same rewrite of the star import that provides
    it (the edit is the same as the import line's own fix, so it is taken once)."""
    match = _UNDEFINED_FROM_STAR.search(finding.message)
    stars = [n for n in ctx.tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
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


# --------------------------------------------------------------------------------------------
# Unreachable code, unused loop variables


def _terminates(ctx: FixContext, stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return (_qualname(ctx, stmt.value.func) or "") in ("sys.exit", "exit", "quit", "os._exit")
    if isinstance(stmt, ast.If) and stmt.orelse:
        return _block_terminates(ctx, stmt.body) and _block_terminates(ctx, stmt.orelse)
    return False


def _block_terminates(ctx: FixContext, block: list[ast.stmt]) -> bool:
    return any(_terminates(ctx, s) for s in block)


@PYTHON_RULES.register("pylint:W0101", "pyright:reportUnreachable")
def remove_unreachable(ctx: FixContext, finding: Finding) -> Fix | None:
    """Statements after a ``return``/``raise``/``break``/``continue`` (or ``sys.exit()``, or an
    ``if``/``else`` whose branches all end so) in the same block -> removed, to the block's end.

    Leaves alone: code the type checker calls unreachable for other reasons (narrowed types,
    ``while True`` loops...), statements sharing a line with the one that ends the block."""
    stmts = [n for n in ctx.nodes_on_line(finding.line, ast.stmt) if isinstance(n, ast.stmt) and n.lineno == finding.line]
    for stmt in reversed(stmts):  # innermost first
        block = _block_of(ctx, stmt) if ctx.parents.get(stmt) is not ctx.tree else ctx.tree.body
        if block is None:
            continue
        index = block.index(stmt)
        if index == 0 or not any(_terminates(ctx, s) for s in block[:index]):
            return None
        previous = block[index - 1]
        if previous.end_lineno == stmt.lineno or _line_indent(ctx, stmt) is None:
            return None
        start = ctx.line_starts[stmt.lineno - 1]
        last = block[-1]
        end = ctx.line_starts[last.end_lineno] if last.end_lineno < len(ctx.line_starts) else len(ctx.source)
        removed = last.end_lineno - stmt.lineno + 1
        return _fix("remove-unreachable", finding, f"unreachable code removed ({removed} line(s))",
                    Edit(start, end, ""))
    return None


_UNUSED_NAME = re.compile(r"[Uu]nused variable '([A-Za-z_][A-Za-z0-9_]*)'|`([A-Za-z_][A-Za-z0-9_]*)`")


@PYTHON_RULES.register("pylint:W0612", "ruff:B007")
def unused_loop_variable(ctx: FixContext, finding: Finding) -> Fix | None:
    """An unused ``for`` target (``for i in range(n):`` whose ``i`` is never read) -> ``_`` (or
    ``_i`` where ``_`` is read in that scope); works inside tuple targets too.

    Leaves alone: names read anywhere in the scope (before, inside or after the loop), names
    declared global/nonlocal, and unused variables that are not loop targets (ruff fixes those)."""
    names = [n for n in _at(ctx, finding, ast.Name) if isinstance(n, ast.Name)]
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
        scope = _scope_of(ctx, loop)
        in_scope = [n for n in _walk_scope(scope) if isinstance(n, ast.Name) and n.id == node.id]
        if any(isinstance(n.ctx, ast.Load) for n in in_scope):
            return None
        if any(isinstance(n, (ast.Global, ast.Nonlocal)) and node.id in n.names for n in _walk_scope(scope)):
            return None
        stores = [n for n in in_scope if n is not node]
        if stores:
            return None  # bound elsewhere too: renaming this one would not be the whole story
        underscore_read = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Load)
                              for n in ast.walk(scope))
        new = f"_{node.id}" if underscore_read else "_"
        if new == node.id:
            return None
        return _fix("unused-loop-variable", finding, f"unused loop variable {node.id} -> {new}",
                    ctx.replace(node, new))
    return None


def _within(ctx: FixContext, node: ast.AST, container: ast.AST) -> bool:
    while node is not None:
        if node is container:
            return True
        node = ctx.parents.get(node)  # type: ignore[assignment]
    return False


# --------------------------------------------------------------------------------------------
# Hard-coded temp paths, template autoescaping, asserts


@PYTHON_RULES.register("bandit:B108", "ruff:S108")
def temp_dir_path(ctx: FixContext, finding: Finding) -> Fix | None:
    """A hard-coded ``"/tmp/name"`` -> ``os.path.join(tempfile.gettempdir(), "name")`` (the same
    directory on a usual system, the configured one elsewhere).

    Leaves alone: "/tmp" itself, f-strings and other paths under /var/tmp or /dev/shm."""
    for node in _at(ctx, finding, ast.Constant):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/tmp/")):
            continue
        if isinstance(ctx.parents.get(node), ast.JoinedStr):
            return None
        rest = node.value[len("/tmp/"):]
        if not rest or "\n" in rest:
            return None
        parts = [p for p in rest.split("/") if p]
        quote = _quote_of(ctx, node)
        quote = quote if len(quote) == 1 else '"'
        args = ", ".join(_pystr(p, quote) for p in parts)
        if rest.endswith("/"):
            args += ", " + _pystr("", quote)
        return _fix("tempdir-path", finding, "/tmp/... -> tempfile.gettempdir()",
                    ctx.replace(node, f"os.path.join(tempfile.gettempdir(), {args})"),
                    imports=("import os", "import tempfile"))
    return None


@PYTHON_RULES.register("bandit:B701", "ruff:S701")
def jinja_autoescape(ctx: FixContext, finding: Finding) -> Fix | None:
    """``jinja2.Environment(...)`` without autoescaping (or ``autoescape=False``) -> ``autoescape=True``.

    Leaves alone: ``autoescape=`` set to anything else (a function such as select_autoescape)."""
    for call in _calls_starting(ctx, finding):
        name = _qualname(ctx, call.func) or ""
        if name not in ("jinja2.Environment", "jinja2.Template", "jinja2.environment.Environment"):
            continue
        autoescape = _kw(call, "autoescape")
        if autoescape is None:
            if any(k.arg is None for k in call.keywords):
                return None
            return _fix("jinja-autoescape", finding, "autoescape=True added", _append_arg(ctx, call, "autoescape=True"))
        if _is_const(autoescape.value, False):
            return _fix("jinja-autoescape", finding, "autoescape=False -> True", ctx.replace(autoescape.value, "True"))
        return None
    return None


_LOOSE_PRECEDENCE = (ast.BoolOp, ast.IfExp, ast.Lambda, ast.NamedExpr)


@PYTHON_RULES.register("bandit:B101", "ruff:S101")
def assert_to_raise(ctx: FixContext, finding: Finding) -> Fix | None:
    """``assert cond[, msg]`` -> ``if not cond: raise AssertionError(msg)`` (the check stays under
    ``python -O``, which strips asserts).

    Leaves alone: asserts sharing their line with another statement."""
    for stmt in _at(ctx, finding, ast.Assert):
        if not isinstance(stmt, ast.Assert) or stmt.lineno != finding.line:
            continue
        indent = _line_indent(ctx, stmt)
        if indent is None or _block_of(ctx, stmt) is None and ctx.parents.get(stmt) is not ctx.tree:
            return None
        end = ctx.span(stmt)[1]
        line_end = ctx.line_starts[stmt.end_lineno] if stmt.end_lineno < len(ctx.line_starts) else len(ctx.source)
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
        return _fix("assert-to-raise", finding, "assert -> if not ...: raise AssertionError", ctx.replace(stmt, text))
    return None


# Text modes open() reads or writes through pathlib with the same result.
_READ_METHODS = {None: "read_text", "r": "read_text", "rt": "read_text", "rb": "read_bytes"}
_WRITE_METHODS = {"w": "write_text", "wt": "write_text", "wb": "write_bytes"}


@PYTHON_RULES.register("ruff:SIM115", "pylint:R1732")
def open_read_write(ctx: FixContext, finding: Finding) -> Fix | None:
    """``open(p[, mode][, encoding=...]).read()`` -> ``pathlib.Path(p).read_text(...)`` (``"rb"``:
    ``read_bytes()``) and ``open(p, "w").write(s)`` -> ``pathlib.Path(p).write_text(s, ...)``: the file
    is closed at once instead of whenever the object is collected.

    Leaves alone: open objects kept in a variable or iterated, other modes and arguments
    (buffering, newline, a file descriptor), reads with a size."""
    for call in _calls_starting(ctx, finding):
        if _qualname(ctx, call.func) != "open" or _has_star(call) or not call.args or len(call.args) > 2:
            continue
        mode_node = call.args[1] if len(call.args) == 2 else getattr(_kw(call, "mode"), "value", None)
        if mode_node is not None and not (isinstance(mode_node, ast.Constant) and isinstance(mode_node.value, str)):
            return None
        mode = mode_node.value if mode_node is not None else None  # type: ignore[union-attr]
        extra = [k for k in call.keywords if k.arg != "mode"]
        if any(k.arg not in ("encoding", "errors") for k in extra):
            return None
        method = ctx.parents.get(call)
        outer = ctx.parents.get(method) if method is not None else None
        if not (isinstance(method, ast.Attribute) and isinstance(outer, ast.Call) and outer.func is method
                and not outer.keywords and not _has_star(outer)):
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
        return _fix("pathlib-read-write", finding, f"open(...).{method.attr}() -> pathlib.Path(...).{new_method}()",
                    ctx.replace(outer, text), imports=("import pathlib",))
    return None
