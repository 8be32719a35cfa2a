"""ESLint with eslint-plugin-security and eslint-plugin-no-unsanitized, the JavaScript analyzer
of both roles: core rules for defects (undefined names, unreachable code, constant conditions,
duplicate keys ...), the plug-ins for security (eval, child_process, non-literal fs paths and
regular expressions, innerHTML and document.write with unsanitized values, timing attacks ...).

ESLint and the plug-ins come from the project-local npm folder (``tools/eslint``, filled by
``make setup`` with ``npm ci``; ``PATCHLOOP_ESLINT_DIR`` points elsewhere). The config is the one
shipped in ``assets/eslint/eslint.config.mjs``; no config file near the code is looked up, and
nothing is fetched: ESLint runs offline under the suite's timeout.

Mapping: ESLint severity 2 -> error, 1 -> warning; a fatal message (the file does not parse) is a
``syntax-error`` error. Rule ids are ESLint's (``no-undef``, ``security/detect-child-process``);
CWE for the security rules from ``CWE``. Exit status 0 (clean) or 1 (findings) with a JSON report
for the file; anything else (2: config or crash) is the tool failing. Code with top-level
``import``/``export`` is parsed as an ES module, the rest as a script (top-level names are
globals a caller may use, so a function defined and never called is not "unused").
"""

from __future__ import annotations

import json
import os
import re
import shutil
from importlib import resources
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_exit, find_tool, require_tool, run_tool

INSTALL = "make setup (npm ci --omit=dev --prefix tools/eslint)"
NODE_INSTALL = "apt-get install nodejs npm"

CWE = {
    "no-eval": "CWE-95", "no-implied-eval": "CWE-95", "no-new-func": "CWE-95",
    "security/detect-eval-with-expression": "CWE-95",
    "security/detect-child-process": "CWE-78",
    "security/detect-non-literal-fs-filename": "CWE-22",
    "security/detect-non-literal-require": "CWE-829",
    "security/detect-non-literal-regexp": "CWE-1333", "security/detect-unsafe-regex": "CWE-1333",
    "security/detect-pseudoRandomBytes": "CWE-338",
    "security/detect-possible-timing-attacks": "CWE-208",
    "security/detect-buffer-noassert": "CWE-119", "security/detect-new-buffer": "CWE-119",
    "security/detect-disable-mustache-escape": "CWE-79",
    "security/detect-no-csrf-before-method-override": "CWE-352",
    "security/detect-bidi-characters": "CWE-451",
    "no-unsanitized/method": "CWE-79", "no-unsanitized/property": "CWE-79",
    "no-undef": "CWE-457", "no-unreachable": "CWE-561", "no-dupe-keys": "CWE-694",
    "no-constant-condition": "CWE-570", "no-self-compare": "CWE-570", "use-isnan": "CWE-480",
}  # fmt: skip
SECURITY_PREFIXES = ("security/", "no-unsanitized/")
EVAL_RULES = ("no-eval", "no-implied-eval", "no-new-func")
_ESM = re.compile(r"^[ \t]*(?:import[ \t]*[\w{*'\"]|export[ \t]+[\w{*])", re.MULTILINE)


def eslint_dir() -> Path:
    """The npm folder holding ESLint: ``PATCHLOOP_ESLINT_DIR`` or the checkout's tools/eslint."""
    configured = os.environ.get("PATCHLOOP_ESLINT_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "tools" / "eslint"


def eslint_script() -> Path | None:
    script = eslint_dir() / "node_modules" / "eslint" / "bin" / "eslint.js"
    return script if script.is_file() else None


def eslint_version() -> str | None:
    script = eslint_script()
    if script is None or find_tool("node") is None:
        return None
    try:
        data = json.loads((script.parents[1] / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("version")


def parse_eslint_json(stdout: str, filename: str) -> list[Finding]:
    reports = [r for r in json.loads(stdout) if Path(r["filePath"]).name == filename]
    if len(reports) != 1:
        raise ToolFailure(f"ESLint reported on {len(reports)} files, not on {filename}")
    findings = []
    for item in reports[0]["messages"]:
        rule = item.get("ruleId")
        if item.get("fatal") or rule is None:
            if not item.get("fatal"):  # e.g. "file ignored": the file was not linted at all
                raise ToolFailure(f"ESLint did not lint the file: {item.get('message')}")
            rule = "syntax-error"
        findings.append(
            Finding(
                tool="eslint",
                rule_id=rule,
                severity="error" if item.get("fatal") or item["severity"] == 2 else "warning",
                message=item["message"],
                line=int(item.get("line") or 1),
                column=int(item.get("column") or 0),
                cwe=CWE.get(rule, ""),
                end_line=int(item.get("endLine") or 0),
                end_column=int(item.get("endColumn") or 0),
            )
        )
    return findings


class EslintAnalyzer(ToolAnalyzer):
    def security_rule(self, rule_id: str) -> bool:
        """The security plug-ins' rules and the core rules that run text as code (the security role);
        the other core rules are defects."""
        return rule_id.startswith(SECURITY_PREFIXES) or rule_id in EVAL_RULES

    def version(self) -> str | None:
        """ESLint's version (from its package), not node's; None when node or ESLint is missing."""
        return eslint_version()

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        require_tool(self.executable, NODE_INSTALL)
        script = eslint_script()
        if script is None:
            raise ToolFailure(f"ESLint is not installed in {eslint_dir()}; install it with: {self.install}")
        code = path.read_text(encoding="utf-8", errors="replace")
        config_file = resources.files("patchloop.assets").joinpath("eslint", "eslint.config.mjs")
        with (
            resources.as_file(config_file) as config,
            tempdirs.temporary_dir("eslint", ignore_cleanup_errors=True) as folder,
        ):
            # The config parses *.mjs as a module and *.js as a script; ESM code fenced as
            # plain JavaScript is linted under an .mjs name in this analyzer's own folder.
            source = Path(folder) / (
                path.stem + (".mjs" if _ESM.search(code) and path.suffix == ".js" else path.suffix)
            )
            shutil.copyfile(path, source)
            argv = [
                self.executable,
                str(script),
                "--no-config-lookup",
                "--config",
                str(config),
                "--format",
                "json",
                "--no-color",
                "--no-warn-ignored",
                "--",
                source.name,
            ]
            run = run_tool(argv, timeout, cwd=Path(folder))
        check_exit(run, "ESLint", (0, 1), run.stderr or run.stdout)
        return parse_eslint_json(run.stdout, source.name)


def eslint_analyzer() -> EslintAnalyzer:
    return EslintAnalyzer("eslint", ("javascript",), tool="eslint", executable="node", install=INSTALL)
