"""``node --check``, Node.js's own parser, as the JavaScript syntax analyzer: the file is parsed,
never run.

Mapping: node reports only the first syntax error, as ``<file>:<line>``, the source line, a caret
line and ``SyntaxError: <message>``; that becomes one ``syntax-error`` finding (severity error,
column from the caret). Exit status 0 is clean, 1 with a readable SyntaxError is the finding,
anything else is the tool failing.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..types import Finding
from .base import ToolAnalyzer, check_exit, require_tool, run_tool, tail

INSTALL = "apt-get install nodejs"

_POSITION = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")
_ERROR = re.compile(r"^SyntaxError: (?P<message>.+)$", re.MULTILINE)


def parse_node_check(stderr: str, filename: str) -> Finding:
    """The one syntax error node printed for ``filename``; ValueError when there is none."""
    lines = stderr.splitlines()
    error = _ERROR.search(stderr)
    if error is None:
        raise ValueError(f"no SyntaxError in node's output: {tail(stderr)}")
    line = column = 0
    for index, text in enumerate(lines):
        match = _POSITION.match(text)
        if match and Path(match["file"]).name == filename:
            line = int(match["line"])
            for follow in lines[index + 2 : index + 3]:
                if follow.strip().startswith("^"):
                    column = follow.index("^") + 1
            break
    return Finding(
        "node-check", "syntax-error", "error", f"SyntaxError: {error['message']}", line or 1, column
    )


class NodeCheckAnalyzer(ToolAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        require_tool(self.executable, self.install)
        run = run_tool([self.executable, "--check", path.name], timeout, cwd=path.parent)
        check_exit(run, "node --check", (0, 1), run.stderr)
        return [parse_node_check(run.stderr, path.name)] if run.returncode == 1 else []


def node_check_analyzer() -> NodeCheckAnalyzer:
    return NodeCheckAnalyzer(
        "node-check", ("javascript",), tool="node-check", executable="node", install=INSTALL
    )
