"""What a rule is, in its tool's own words: name, one-line summary, description, documentation URL.

SARIF rule metadata (``core/sarif.py``) comes from here and never from a finding's message, which
may quote the analyzed code (bandit's "Possible hardcoded password: 'hunter2'"). Each tool is asked
the way it documents itself: ruff through ``ruff rule --all``, bandit and pylint through their
plug-in registries (imported, never run on code), basedpyright and patchloop's own checks from the
summaries kept beside their rules. A rule nothing documents gets a summary naming the rule.
Every lookup is cached: one ruff call and one registry import per process at most.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from dataclasses import dataclass
from functools import cache

from .ast_checker import RULE_SUMMARIES as AST_SUMMARIES
from .base import ToolFailure, run_tool
from .pyright import RULE_SUMMARIES as PYRIGHT_SUMMARIES

PATCHLOOP_SUMMARIES = {
    "wrong-language": "The code is a script in another language than the one it was given as.",
    "syntax-error": "The code does not parse.",
}
_PYLINT_CATEGORY = {
    "C": "convention",
    "R": "refactor",
    "W": "warning",
    "E": "error",
    "F": "fatal",
    "I": "information",
}


@dataclass(frozen=True)
class RuleDoc:
    summary: str  # one line
    name: str = (
        ""  # the tool's readable name ("suspicious-eval-usage", "eval-used", "hardcoded_password_string")
    )
    description: str = ""  # longer text; Markdown when ``markdown`` is set
    help_uri: str = ""
    markdown: bool = False


def rule_doc(tool: str, rule_id: str) -> RuleDoc:
    """The documentation of ``tool``'s ``rule_id``; a bare summary when the tool has none for it."""
    lookup = {
        "ruff": _ruff,
        "bandit": _bandit,
        "pylint": _pylint,
        "pyright": _pyright,
        "patchloop-ast": _patchloop_ast,
        "patchloop": _patchloop,
        "semgrep": _semgrep,
    }.get(tool)
    doc = lookup(rule_id) if lookup else None
    if doc is None and rule_id == "syntax-error":
        doc = RuleDoc(PATCHLOOP_SUMMARIES["syntax-error"], name="syntax-error")
    return doc or RuleDoc(f"{tool} rule {rule_id}")


def _ruff(code: str) -> RuleDoc | None:
    if code in ("invalid-syntax", "E999"):
        return RuleDoc(
            PATCHLOOP_SUMMARIES["syntax-error"],
            name="invalid-syntax",
            help_uri="https://docs.astral.sh/ruff/linter/#error-suppression",
        )
    rule = _ruff_rules().get(code)
    if rule is None:
        return None
    name, explanation = rule.get("name", ""), rule.get("explanation", "")
    # "## What it does" opens with one plain sentence; the summary may be a message template
    # ("Undefined name `{name}`. {tip}").
    what = re.search(r"## What it does\n+(.+?)(?:\n\n|$)", explanation, flags=re.DOTALL)
    summary = (
        " ".join(what.group(1).split()) if what else re.sub(r"\s*`?\{\w+\}`?", "", rule.get("summary", ""))
    )
    return RuleDoc(
        summary=summary.strip() or name or code,
        name=name,
        description=explanation,
        help_uri=f"https://docs.astral.sh/ruff/rules/{name}/"
        if name
        else "https://docs.astral.sh/ruff/rules/",
        markdown=True,
    )


@cache
def _ruff_rules() -> dict[str, dict]:
    try:
        run = run_tool(["ruff", "rule", "--all", "--output-format", "json"], timeout=30)
        return {rule["code"]: rule for rule in json.loads(run.stdout)}
    except (ToolFailure, ValueError, KeyError, TypeError):
        return {}


def _bandit(test_id: str) -> RuleDoc | None:
    return _bandit_rules().get(test_id)


@cache
def _bandit_rules() -> dict[str, RuleDoc]:
    try:
        from bandit.core import docs_utils, extension_loader
    except Exception:  # noqa: BLE001 - no bandit importable: rules get bare summaries
        return {}
    manager = extension_loader.MANAGER
    docs: dict[str, RuleDoc] = {}
    for test_id, plugin in manager.plugins_by_id.items():
        if plugin.name == "blacklist":
            continue
        text = (
            inspect.getdoc(plugin.plugin) or inspect.getdoc(sys.modules.get(plugin.plugin.__module__)) or ""
        )
        summary, description = _bandit_docstring(test_id, text)
        docs[test_id] = RuleDoc(
            summary or plugin.name.replace("_", " "),
            name=plugin.name,
            description=description,
            help_uri=docs_utils.get_url(test_id),
        )
    for test_id, entry in manager.blacklist_by_id.items():
        names = list(entry.get("qualnames") or [])
        shown = (names[0] + (" (or a similar name)" if len(names) > 1 else "")) if names else entry["name"]
        message = " ".join(str(entry.get("message", "")).replace("{name}", shown).split())
        docs[test_id] = RuleDoc(
            message or entry["name"],
            name=entry["name"],
            description=f"{message}\nFlagged names: {', '.join(names)}." if names else message,
            help_uri=docs_utils.get_url(test_id),
        )
    return docs


def _bandit_docstring(test_id: str, text: str) -> tuple[str, str]:
    """A plug-in docstring's title ("Test for use of assert") and its prose up to the options and
    examples (reStructuredText as it is)."""
    lines = [line for line in text.splitlines() if not re.fullmatch(r"=+", line.strip())]
    title = ""
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines:
        title = re.sub(rf"^{test_id}:\s*", "", lines.pop(0).strip().strip("*")).strip()
    body = "\n".join(lines)
    body = re.split(r"^\s*(?:\*\*Config Options:\*\*|:Example:|\.\. )", body, maxsplit=1, flags=re.MULTILINE)[
        0
    ]
    return title, body.strip()


def _pylint(msgid: str) -> RuleDoc | None:
    return _pylint_messages().get(msgid)


@cache
def _pylint_messages() -> dict[str, RuleDoc]:
    try:
        from pylint import checkers
        from pylint.lint import PyLinter

        linter = PyLinter()
        checkers.initialize(linter)
        definitions = list(linter.msgs_store.messages)
    except Exception:  # noqa: BLE001 - no pylint importable: rules get bare summaries
        return {}
    docs = {}
    for d in definitions:
        category = _PYLINT_CATEGORY.get(d.msgid[:1], "")
        # d.msg is the message template ("Undefined variable %r"); its placeholders are left out.
        summary = re.sub(r"\s*%[rsd]", "", d.msg).strip(" :") or d.symbol
        docs[d.msgid] = RuleDoc(
            summary,
            name=d.symbol,
            description=" ".join(d.description.split()),
            help_uri=f"https://pylint.readthedocs.io/en/stable/user_guide/messages/{category}/{d.symbol}.html"
            if category
            else "",
        )
    return docs


def _pyright(rule: str) -> RuleDoc | None:
    if rule not in PYRIGHT_SUMMARIES:
        return None
    anchor = "" if rule == "syntax-error" else f"#{rule}"
    return RuleDoc(
        PYRIGHT_SUMMARIES[rule],
        name=rule,
        help_uri=f"https://docs.basedpyright.com/latest/configuration/config-files/{anchor}",
    )


def _patchloop_ast(rule: str) -> RuleDoc | None:
    return RuleDoc(AST_SUMMARIES[rule], name=rule) if rule in AST_SUMMARIES else None


def _patchloop(rule: str) -> RuleDoc | None:
    return RuleDoc(PATCHLOOP_SUMMARIES[rule], name=rule) if rule in PATCHLOOP_SUMMARIES else None


def _semgrep(rule: str) -> RuleDoc | None:
    from .semgrep_rules import rule_messages  # lazy: reads the shipped rule files only when asked

    message = rule_messages().get(rule)
    if message is None:
        return None
    return RuleDoc(message.split("; ")[0].rstrip(".") + ".", name=rule, description=message)
