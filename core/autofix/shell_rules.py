"""Commands run through a shell (``shell=True``, ``os.system``, ``os.popen``) -> the same command
as an argument list without a shell, where the command has no shell syntax."""

from __future__ import annotations

import ast
import re
import shlex
import string

from ..types import Finding
from .ast_edits import (
    calls_at,
    drop_argument,
    has_star_args,
    is_constant,
    keyword_arg,
    make_fix,
    qualified_name,
    quote_of,
    scope_of,
    string_literal,
    walk_scope,
)
from .base import Fix, FixContext

# Characters that mean shell syntax (pipes, redirects, lists, expansions, globs, comments).
_SHELL_META = set("|&;<>()$`\\*?[]{}~!#\n\r")
_SUBPROCESS_CALLS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
}


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
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
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
        values = [
            n.value
            for n in walk_scope(scope_of(ctx, node))
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
        ]
        parts: list[str] = []
        for value in values:
            found = _constant_parts(ctx, value, depth + 1)
            if found is None:
                return None
            parts += found
        return parts
    return []


def _text(piece: ast.expr) -> str | None:
    """The literal text of a piece of an f-string (None: a placeholder)."""
    return piece.value if isinstance(piece, ast.Constant) and isinstance(piece.value, str) else None


def _fstring_argv(node: ast.JoinedStr) -> list[str] | None:
    """Items of an argument list for an f-string command: its words, placeholders kept whole."""
    words: list[list[ast.expr]] = [[]]
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):  # an f-string's text
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
        first_text, last_text = _text(first), _text(last)
        if (
            len(word) >= 2
            and first_text is not None
            and last_text is not None
            and first_text[:1] in "'\""
            and first_text[:1]
            and last_text.endswith(first_text[0])
        ):
            quote = first_text[0]
            if first is last:
                return None
            word = list(word)
            word[0] = ast.Constant(first_text[1:])
            word[-1] = ast.Constant(last_text[:-1])
            word = [w for w in word if _text(w) != ""]
            if any(quote in (_text(w) or "") for w in word):
                return None
        texts = [text for text in map(_text, word) if text is not None]
        if any("'" in text or '"' in text for text in texts):
            return None
        if len(texts) == len(word):
            items.append(string_literal("".join(texts)))
        elif (
            len(word) == 1
            and isinstance(word[0], ast.FormattedValue)
            and word[0].conversion == -1
            and word[0].format_spec is None
        ):
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
        quote = quote_of(ctx, node)
        quote = quote if len(quote) == 1 else '"'
        return "[" + ", ".join(string_literal(w, quote) for w in words) + "]", (), "a list"
    if isinstance(node, ast.JoinedStr):
        items = _fstring_argv(node)
        if items is None:
            return None
        return "[" + ", ".join(items) + "]", (), "a list"
    if isinstance(node, (ast.List, ast.Tuple, ast.Starred, ast.Dict, ast.Set, ast.ListComp)):
        return None
    parts = _constant_parts(ctx, node)
    if parts is None or any(
        not _plain_words(p.replace("'", "").replace('"', "")) for p in parts if p.strip()
    ):
        return None
    return f"shlex.split({ctx.text(node)})", ("import shlex",), "shlex.split"


def subprocess_without_shell(ctx: FixContext, finding: Finding) -> Fix | None:
    """``subprocess.run/call/check_call/check_output/Popen(cmd, shell=True)`` with a string command
    -> the same call with an argument list and no shell: a constant -> a list literal (shlex.split),
    an f-string -> its words with the placeholders as items, anything else -> ``shlex.split(cmd)``.

    Leaves alone: commands using shell syntax (pipes, redirects, ``;``, ``&&``, ``$``, backticks,
    globs...), list commands, ``executable=``, calls that are not subprocess's."""
    for call in calls_at(ctx, finding):
        shell = keyword_arg(call, "shell")
        if shell is None or not is_constant(shell.value, True):
            continue
        if (
            qualified_name(ctx, call.func) not in _SUBPROCESS_CALLS
            or has_star_args(call)
            or keyword_arg(call, "executable")
        ):
            return None
        command = call.args[0] if call.args else getattr(keyword_arg(call, "args"), "value", None)
        if command is None:
            return None
        made = _argv(ctx, command)
        if made is None:
            return None
        text, imports, how = made
        edits = [ctx.replace(command, text), drop_argument(ctx, call, shell)]
        return make_fix(
            "subprocess-no-shell", finding, f"shell=True -> an argument list ({how})", *edits, imports=imports
        )
    return None


def os_system_to_subprocess(ctx: FixContext, finding: Finding) -> Fix | None:
    """``os.system(cmd)`` -> ``subprocess.call(<argument list>)`` (an exit code, no shell);
    ``os.popen(cmd).read()`` -> ``subprocess.run(<list>, stdout=subprocess.PIPE, text=True,
    check=False).stdout``. The list is made as for shell=True.

    Leaves alone: commands with shell syntax, popen objects used other than by one ``.read()``."""
    for call in calls_at(ctx, finding):
        name = qualified_name(ctx, call.func)
        if name not in ("os.system", "os.popen"):
            continue
        if len(call.args) < 1 or call.keywords or has_star_args(call):
            return None
        if name == "os.system":
            if len(call.args) != 1:
                return None
            made = _argv(ctx, call.args[0])
            if made is None:
                return None
            text, imports, how = made
            return make_fix(
                "os-system-subprocess",
                finding,
                f"os.system -> subprocess.call ({how})",
                ctx.replace(call, f"subprocess.call({text})"),
                imports=("import subprocess", *imports),
            )
        parent = ctx.parents.get(call)
        outer = ctx.parents.get(parent) if parent is not None else None
        mode_ok = len(call.args) == 1 or (len(call.args) == 2 and is_constant(call.args[1], "r"))
        if not (
            mode_ok
            and isinstance(parent, ast.Attribute)
            and parent.attr == "read"
            and isinstance(outer, ast.Call)
            and outer.func is parent
            and not outer.args
            and not outer.keywords
        ):
            return None
        made = _argv(ctx, call.args[0])
        if made is None:
            return None
        text, imports, how = made
        new = f"subprocess.run({text}, stdout=subprocess.PIPE, text=True, check=False).stdout"
        return make_fix(
            "os-popen-subprocess",
            finding,
            f"os.popen(...).read() -> subprocess.run ({how})",
            ctx.replace(outer, new),
            imports=("import subprocess", *imports),
        )
    return None
