"""What a rewrite rule is: a finding in, text edits on the original source out.

Rules never re-parse or re-analyze: each one looks at the flagged line of the one parse of the
original code (``FixContext``) and proposes ``Edit``s in offsets of that same text, so edits of
several rules compose without line numbers drifting (ruff's scheme). ``apply_edits`` drops an edit
that overlaps one already taken, adds the imports the new text needs, and the caller keeps the
result only if it still parses.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..types import Finding


@dataclass(frozen=True)
class Edit:
    """Replace ``source[start:end]`` with ``text`` (offsets in characters of the original code)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Fix:
    """One rewrite a rule proposes for one finding."""

    rule: str  # the rewrite's id, e.g. "yaml-safe-load"
    line: int  # the flagged line it answers
    description: str  # what changed, for `patchloop fix` and the log ("yaml.load -> yaml.safe_load")
    edits: tuple[Edit, ...]
    imports: tuple[str, ...] = ()  # import statements the new text needs, e.g. ("import shlex",)


@dataclass
class FixContext:
    """The original code, parsed once, and what the rules may want to know about it."""

    source: str
    tree: ast.Module
    task: str = ""  # the user's request: some fixes depend on what it asks for (an MD5 digest)

    @cached_property
    def line_starts(self) -> list[int]:
        starts, total = [0], 0
        for line in self.source.splitlines(keepends=True):
            total += len(line)
            starts.append(total)
        return starts

    @cached_property
    def lines(self) -> list[str]:
        return self.source.splitlines()

    def offset(self, line: int, col: int) -> int:
        """Character offset of an ast position (1-based line, 0-based UTF-8 byte column)."""
        start = self.line_starts[line - 1]
        text = self.source[start : self.line_starts[line] if line < len(self.line_starts) else None]
        return start + len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Character offsets of a node's whole text."""
        return (
            self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self.offset(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end]

    def replace(self, node: ast.AST, text: str) -> Edit:
        start, end = self.span(node)
        return Edit(start, end, text)

    @cached_property
    def parents(self) -> dict[ast.AST, ast.AST]:
        return {child: parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}

    def nodes_on_line(self, line: int, kind: type | tuple[type, ...] = ast.AST) -> Iterator[ast.AST]:
        """Nodes of ``kind`` that start on ``line`` (or span it), outermost first."""
        for node in ast.walk(self.tree):
            lineno = getattr(node, "lineno", None)  # only statements, expressions and the like have one
            if (
                isinstance(node, kind)
                and lineno is not None
                and lineno <= line <= (getattr(node, "end_lineno", None) or lineno)
            ):
                yield node

    def line_end(self, stmt: ast.stmt) -> int:
        """Offset just past the line a statement ends on (its newline included), or the text's end."""
        last = stmt.end_lineno or stmt.lineno
        return self.line_starts[last] if last < len(self.line_starts) else len(self.source)

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None

    @cached_property
    def imported_modules(self) -> set[str]:
        """Top-level names bound by ``import x`` / ``import x as y`` anywhere in the module."""
        names = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        return names


# A rule answers one finding (the flagged line is ``finding.line``), or None when the flagged code
# is not a shape it can rewrite safely.
Rule = Callable[[FixContext, Finding], "Fix | None"]


@dataclass
class RuleSet:
    """Rewrite rules keyed by the ``tool:rule`` keys of the findings they answer."""

    rules: dict[str, Rule] = field(default_factory=dict)

    def register(self, *keys: str) -> Callable[[Rule], Rule]:
        def decorate(rule: Rule) -> Rule:
            for key in keys:
                self.rules[key] = rule
            return rule

        return decorate

    def rule_for(self, finding: Finding) -> Rule | None:
        for key in (finding.key, *finding.also):
            if key in self.rules:
                return self.rules[key]
        return None


def apply_edits(source: str, fixes: Sequence[Fix]) -> tuple[str, list[Fix]]:
    """Apply the fixes whose edits do not overlap an earlier fix's; return the new text and the
    fixes taken. Missing imports are added after the module's docstring and ``__future__`` imports."""
    taken: list[Fix] = []
    spans: list[tuple[int, int]] = []
    for fix in fixes:
        if any(
            e.start < end and start < e.end or (e.start == e.end == start)
            for e in fix.edits
            for start, end in spans
        ):
            continue
        taken.append(fix)
        spans.extend((e.start, e.end) for e in fix.edits)
    edits = sorted((e for fix in taken for e in fix.edits), key=lambda e: (e.start, e.end), reverse=True)
    text = source
    for edit in edits:
        text = text[: edit.start] + edit.text + text[edit.end :]
    needed = [imp for fix in taken for imp in fix.imports]
    return add_imports(text, needed), taken


def add_imports(source: str, imports: Sequence[str]) -> str:
    """Insert the import statements not already present, after the docstring and future imports."""
    wanted = list(dict.fromkeys(imports))
    present = {line.strip() for line in source.splitlines()}
    wanted = [imp for imp in wanted if imp not in present]
    if not wanted:
        return source
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return source
    line = 0  # insert before this 0-based line
    for index, node in enumerate(body):
        is_docstring = (
            index == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if is_docstring or is_future:
            line = node.end_lineno or line
        else:
            break
    lines = source.splitlines(keepends=True)
    block = "".join(imp + "\n" for imp in wanted)
    following = lines[line].strip() if line < len(lines) else ""
    if following and not following.startswith(("import ", "from ")):
        block += "\n\n"  # the imports stand apart from the code that follows, as PEP 8 has it
    return "".join(lines[:line]) + block + "".join(lines[line:])
