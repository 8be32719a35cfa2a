"""javac, the Java compiler, as the Java defects analyzer: ``javac -Xlint:all`` on one file.

javac insists that a public class lives in a file named after it, so the code is copied into the
analyzer's own temp folder as ``<PublicClass>.java`` (and compiled there, class files included);
the user's file and the suite's folder are left as they are.

Mapping: a compile error ("cannot find symbol", "incompatible types", "';' expected" ...) is an
``error`` whose rule is a slug of javac's message head (``cannot-find-symbol``); a lint warning is a
``warning`` whose rule is its -Xlint category (``rawtypes``, ``divzero``, ``fallthrough``...).
Lines are javac's; the column is where its caret points. CWE where the category has one.
Warnings javac prints without a file position (options, notes) are about the command line, not the
code, and are dropped. Exit status 0 (no errors) or 1 (errors) with output parsed; anything else,
or status 1 without one parsed error, is the tool failing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_error_found, check_exit, require_tool, run_tool, tail

INSTALL = "apt-get install default-jdk-headless"

_HEADER = re.compile(
    r"^(?P<file>[^\n]*?\.java):(?P<line>\d+): (?P<kind>error|warning): (?:\[(?P<category>[\w.-]+)\] )?(?P<message>.*)$"
)
_PUBLIC_TYPE = re.compile(
    r"^[ \t]*public\s+(?:(?:abstract|final|sealed|non-sealed|strictfp|static)\s+)*"
    r"(?:class|interface|enum|record|@interface)\s+([A-Za-z_$][\w$]*)",
    re.MULTILINE,
)
# -Xlint categories with a matching weakness.
CWE = {
    "divzero": "CWE-369", "fallthrough": "CWE-484", "finally": "CWE-584", "deprecation": "CWE-477",
    "removal": "CWE-477", "empty": "CWE-483", "cast": "CWE-704", "overrides": "CWE-581",
}  # fmt: skip
# javac's error message heads -> rule ids; the rest get a slug of their head.
_ERROR_RULES = (
    (re.compile(r"^cannot find symbol"), "cannot-find-symbol"),
    (re.compile(r"^incompatible types"), "incompatible-types"),
    (re.compile(r"expected$"), "syntax-error"),
    (re.compile(r"^(illegal start of|reached end of file|class, interface, enum, or record expected|not a statement|unclosed )"), "syntax-error"),
    (re.compile(r"^missing return statement"), "missing-return"),
    (re.compile(r"^unreachable statement"), "unreachable"),
    (re.compile(r"might not have been initialized"), "uninitialized-variable"),
    (re.compile(r"^unreported exception"), "unreported-exception"),
    (re.compile(r"is already defined in"), "duplicate-definition"),
    (re.compile(r"^cannot assign a value to final variable"), "final-reassigned"),
    (re.compile(r"^non-static .* cannot be referenced from a static context"), "static-context"),
)  # fmt: skip
_ERROR_CWE = {"uninitialized-variable": "CWE-457", "unreachable": "CWE-561", "missing-return": "CWE-393"}


def java_file_name(code: str, default: str = "solution.java") -> str:
    """The file name javac accepts for ``code``: ``<PublicClass>.java`` for its first public
    top-level type, ``default`` when it declares none."""
    match = _PUBLIC_TYPE.search(code)
    return f"{match.group(1)}.java" if match else default


def error_rule(message: str) -> str:
    for pattern, rule in _ERROR_RULES:
        if pattern.search(message):
            return rule
    head = message.split(":", 1)[0]
    head = re.sub(r"\b[A-Z]\w*|'[^']*'|\S*[(<].*", "", head)  # names and signatures vary per file
    return re.sub(r"[^a-z]+", "-", head.lower()).strip("-") or "compile-error"


def parse_javac(output: str, filename: str) -> list[Finding]:
    """Findings from javac's plain diagnostics (header line, source line, caret line, details)."""
    lines = output.splitlines()
    findings = []
    for index, text in enumerate(lines):
        match = _HEADER.match(text)
        if not match or Path(match["file"]).name != filename:
            continue
        column, details = 0, []
        for follow in lines[index + 1 : index + 8]:
            if _HEADER.match(follow) or re.match(r"^\d+ (errors?|warnings?)$", follow):
                break
            if follow.strip() == "^":
                column = follow.index("^") + 1
            elif column and follow.strip().startswith("where "):
                break  # type-variable glossary: long, and the same for every raw type
            elif column and follow.startswith("  "):
                details.append(" ".join(follow.split()))
        message = match["message"] + (f" ({'; '.join(details[:2])})" if details else "")
        if match["kind"] == "error":
            rule = error_rule(match["message"])
            findings.append(
                Finding(
                    "javac", rule, "error", message, int(match["line"]), column, cwe=_ERROR_CWE.get(rule, "")
                )
            )
        else:
            category = match["category"] or "warning"
            findings.append(
                Finding(
                    "javac",
                    category,
                    "warning",
                    message,
                    int(match["line"]),
                    column,
                    cwe=CWE.get(category, ""),
                )
            )
    return findings


class JavacAnalyzer(ToolAnalyzer):
    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        require_tool(self.executable, self.install)
        code = path.read_text(encoding="utf-8", errors="replace")
        with tempdirs.temporary_dir("javac", ignore_cleanup_errors=True) as folder:
            source = Path(folder) / java_file_name(code)
            shutil.copyfile(path, source)
            classes = Path(folder) / "classes"
            classes.mkdir()
            argv = [
                self.executable,
                "-Xlint:all",
                "-proc:none",
                "-implicit:none",
                "-encoding",
                "UTF-8",
                "-Xmaxerrs",
                "200",
                "-Xmaxwarns",
                "200",
                "-d",
                str(classes),
                source.name,
            ]
            run = run_tool(argv, timeout, cwd=Path(folder))
            # javac is silent on success; the class files it wrote are the proof that it compiled.
            compiled = any(classes.rglob("*.class"))
        if run.returncode == 0 and not compiled and re.search(r"\b(class|interface|enum|record)\b", code):
            raise ToolFailure(f"javac exited with 0 but wrote no class file: {tail(run.stderr + run.stdout)}")
        check_exit(run, "javac", (0, 1), run.stderr + run.stdout)
        findings = parse_javac(run.stderr + run.stdout, source.name)
        check_error_found(run, 1, findings, "javac failed without a readable error", run.stderr + run.stdout)
        return findings


def javac_analyzer() -> JavacAnalyzer:
    return JavacAnalyzer("javac", ("java",), tool="javac", executable="javac", install=INSTALL)
