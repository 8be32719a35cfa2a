"""Merging the same problem reported by several tools, and the user's skip list.

Two findings are the same problem when they are on the same line and their ``tool:rule`` keys
belong to the same problem class. Classes come from an explicit table, never from fuzzy
matching of messages:

1. ruff's flake8-bandit ports keep bandit's numbers: ``ruff:S<n>`` is ``bandit:B<n>``
   (S307 == B307 eval, S101 == B101 assert...).
2. ruff's pylint ports keep pylint's ids: ``ruff:PL<id>`` is ``pylint:<id>``
   (PLE0101 == E0101, PLW0120 == W0120...).
3. ``EQUIVALENT`` below joins the rest across tools (F821 == E0602 == reportUndefinedVariable,
   W0101 == reportUnreachable, SIM115 == R1732, W0123 eval-used == B307...).
4. ``JOINS``: a semgrep rule (one per problem class: command injection, deserialization...) joins
   whichever of its bandit twins is reported on its line (B602 or B605 for a shell command); the
   twin leads the merged finding, at the more severe of the two levels.

A merged group becomes one ``Finding``: the most severe member (ties: the tool earlier in
``TOOL_PRIORITY``, bandit first because it carries CWE and confidence) with the other members'
``tool:rule`` keys in ``also``; CWE and confidence come from the first member that has one, else
from ``KEY_CWE``. When one tool reports the same class twice on a line (two undefined names),
each tool's findings are paired in column order, so no real finding is swallowed.

Skip entries may be a rule id ("B101"), a ``tool:rule`` key ("bandit:B101") or a bandit test
name ("assert_used"). A skipped entry drops its whole problem class, so skipping B101 also drops
ruff's S101 whether or not bandit ran.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import replace

from ..types import SEVERITY_RANK, Finding, SkippedFinding

TOOL_PRIORITY: tuple[str, ...] = ("bandit", "pyright", "pylint", "ruff", "patchloop-ast", "semgrep")
TOOLS: tuple[str, ...] = TOOL_PRIORITY

# Problem class -> the tool:rule keys in it (after rules 1 and 2 above).
EQUIVALENT: dict[str, tuple[str, ...]] = {
    # Python refuses to compile these; "return outside function" is a SyntaxError too.
    "syntax-error": (
        "ruff:invalid-syntax", "ruff:E999", "pylint:E0001", "pyright:syntax-error",
        "bandit:syntax-error", "patchloop-ast:syntax-error", "semgrep:syntax-error",
        "ruff:F701", "ruff:F702", "ruff:F704", "ruff:F706", "pylint:E0103", "pylint:E0104", "pylint:E0105",
    ),
    "undefined-name": ("ruff:F821", "pylint:E0602", "pyright:reportUndefinedVariable"),
    "unbound-variable": (
        "ruff:F823", "pylint:E0601", "pylint:E0606",
        "pyright:reportUnboundVariable", "pyright:reportPossiblyUnboundVariable",
    ),
    "unreachable-code": ("pylint:W0101", "pyright:reportUnreachable"),
    "unused-variable": ("ruff:F841", "pylint:W0612", "pyright:reportUnusedVariable"),
    "unused-import": ("ruff:F401", "pylint:W0611"),
    "constant-condition": (
        "pyright:reportUnnecessaryComparison", "patchloop-ast:always-true-condition",
        "patchloop-ast:always-false-condition", "pylint:R0133", "pylint:R0124",
    ),
    "none-dereference": (
        "pyright:reportOptionalMemberAccess", "pyright:reportOptionalSubscript",
        "pyright:reportOptionalCall", "pyright:reportOptionalIterable", "pyright:reportOptionalOperand",
        "pyright:reportOptionalContextManager", "pyright:reportAttributeAccessIssue",
        "patchloop-ast:none-attribute",
    ),
    "resource-leak": ("ruff:SIM115", "pylint:R1732"),
    "call-arguments": (
        "pyright:reportCallIssue", "pylint:E1120", "pylint:E1121", "pylint:E1123", "pylint:E1124",
    ),
    "useless-expression": ("ruff:B018", "pylint:W0104", "pylint:W0106", "pyright:reportUnusedExpression"),
    "redefinition": ("ruff:F811", "pylint:E0102", "pyright:reportRedeclaration"),
    "mutable-default": ("ruff:B006", "pylint:W0102"),
    "loop-variable-closure": ("ruff:B023", "pylint:W0640"),
    "duplicate-key": ("ruff:F601", "pylint:W0109"),
    "duplicate-set-value": ("ruff:B033", "pylint:W0130"),
    "duplicate-except": ("ruff:B025", "pylint:W0705"),
    "jump-in-finally": ("ruff:B012", "pylint:W0150", "pylint:W0134"),
    "assert-on-tuple": ("ruff:F631", "pylint:W0199"),
    # pylint's eval-used / exec-used are bandit's B307 / B102.
    "bandit:B307": ("pylint:W0123",),
    "bandit:B102": ("pylint:W0122",),
    # C and C++: gcc's warnings and analyzer, cppcheck and flawfinder on the same line (seen on
    # tests/fixtures/languages/c and cpp); C#'s and Rust's unused variables join Python's class.
    "compile-error": ("gcc:compile-error", "gcc-analyzer:compile-error", "cppcheck:syntaxError"),
    "double-free": ("gcc-analyzer:Wanalyzer-double-free", "cppcheck:doubleFree"),
    "use-after-free": ("gcc-analyzer:Wanalyzer-use-after-free", "gcc:Wuse-after-free", "cppcheck:deallocuse"),
    "uninitialized-value": (
        "gcc:Wuninitialized", "gcc:Wmaybe-uninitialized", "gcc-analyzer:Wanalyzer-use-of-uninitialized-value",
        "cppcheck:uninitvar", "cppcheck:legacyUninitvar", "cppcheck:uninitdata",
    ),
    "memory-leak": ("gcc-analyzer:Wanalyzer-malloc-leak", "cppcheck:memleak", "cppcheck:memleakOnRealloc"),
    "file-leak": ("gcc-analyzer:Wanalyzer-file-leak", "cppcheck:resourceLeak"),
    "null-dereference": (
        "gcc-analyzer:Wanalyzer-null-dereference", "gcc-analyzer:Wanalyzer-possible-null-dereference", "gcc:Wnull-dereference",
        "cppcheck:nullPointer", "cppcheck:nullPointerRedundantCheck",
    ),
    "out-of-bounds": (
        "gcc:Warray-bounds", "gcc-analyzer:Wanalyzer-out-of-bounds", "cppcheck:arrayIndexOutOfBounds",
        "cppcheck:arrayIndexOutOfBoundsCond", "rustc:unconditional_panic", "clippy:clippy::out_of_bounds_indexing",
    ),
    "format-string": (
        "gcc:Wformat-security", "gcc:Wformat-nonliteral",
        "flawfinder:FF1016", "flawfinder:FF1017", "flawfinder:FF1018", "flawfinder:FF1019",
    ),
    "gets": ("flawfinder:FF1014", "cppcheck:getsCalled"),
    "unbounded-scanf": ("flawfinder:FF1020", "cppcheck:invalidscanf"),
    "dangling-return": (
        "gcc:Wreturn-local-addr", "gcc:Wdangling-pointer", "cppcheck:returnDanglingLifetime",
        "cppcheck:returnReference", "cppcheck:returnLocalVariable",
    ),
    "auto-ptr": ("cppcheck:autoPtrUsed", "gcc:Wdeprecated-declarations"),
    "same-operands": ("gcc:Wlogical-op", "cppcheck:duplicateExpression", "clippy:clippy::eq_op"),
    "unused-local": (
        "gcc:Wunused-variable", "gcc:Wunused-but-set-variable", "cppcheck:unusedVariable",
        "cppcheck:unreadVariable",
    ),
    # Rust: clippy-security and semgrep-rust see the same calls (semgrep also where rustc stops early).
    "rust-unsafe": ("clippy:unsafe_code", "semgrep:rust-unsafe-code"),
    "rust-untrusted-env": (
        "clippy:clippy::disallowed_methods", "semgrep:rust-untrusted-env", "semgrep:rust-temp-dir",
    ),
}  # fmt: skip

# CWE for keys whose tool gives none (bandit's own CWE always wins; ruff S-rules carry theirs).
KEY_CWE: dict[str, str] = {
    **{
        key: "CWE-476"
        for key in EQUIVALENT["none-dereference"]
        if key != "pyright:reportAttributeAccessIssue"
    },
    **{key: "CWE-457" for key in EQUIVALENT["unbound-variable"]},
    **{key: "CWE-561" for key in EQUIVALENT["unreachable-code"]},
    **{key: "CWE-563" for key in EQUIVALENT["unused-variable"]},
    **{key: "CWE-772" for key in EQUIVALENT["resource-leak"]},
    "patchloop-ast:always-true-condition": "CWE-571",
    "patchloop-ast:always-false-condition": "CWE-570",
    "pylint:W0123": "CWE-95",
    "pylint:W0122": "CWE-95",
}

_CLASS_OF_KEY = {key: name for name, keys in EQUIVALENT.items() for key in keys}

# A semgrep rule covers a whole class of problem, bandit has one test per API: on a line where one
# of these bandit classes is reported, the semgrep finding is that problem too and joins its group
# (seen on the rules' own test files); elsewhere it stays a finding of its own.
JOINS: dict[str, tuple[str, ...]] = {
    "semgrep:sql-injection": ("bandit:B608", "bandit:B610", "bandit:B611"),
    "semgrep:sql-string-built": ("bandit:B608", "bandit:B610", "bandit:B611"),
    "semgrep:command-injection-shell": ("bandit:B602", "bandit:B605", "bandit:B604", "bandit:B609"),
    "semgrep:command-injection-program": ("bandit:B606",),
    "semgrep:code-injection": ("bandit:B307", "bandit:B102"),
    "semgrep:unsafe-deserialization": ("bandit:B301", "bandit:B302", "bandit:B506"),
    "semgrep:unsafe-yaml-load": ("bandit:B506",),
    "semgrep:hardcoded-secret": ("bandit:B105", "bandit:B106", "bandit:B107"),
    "semgrep:insecure-random-secret": ("bandit:B311",),
    "semgrep:debug-mode": ("bandit:B201",),
    "semgrep:insecure-permissions": ("bandit:B103",),
    "semgrep:insecure-temp-file": ("bandit:B108", "bandit:B306"),
    "semgrep:ssrf": ("bandit:B310",),
    "semgrep:tls-verification-disabled": ("bandit:B501", "bandit:B323", "bandit:B502", "bandit:B503", "bandit:B504"),
    "semgrep:weak-cipher": ("bandit:B304", "bandit:B305"),
    "semgrep:weak-crypto-key": ("bandit:B505",),
    "semgrep:xss": ("bandit:B704", "bandit:B308", "bandit:B703"),
    "semgrep:template-injection": ("bandit:B701", "bandit:B702"),
    "semgrep:xml-injection": tuple(f"bandit:B{n}" for n in range(313, 321)),
}  # fmt: skip


def canonical_key(key: str) -> str:
    """Apply the two renaming rules: ruff's bandit and pylint ports take their origin's key."""
    tool, _, rule = key.partition(":")
    if tool == "ruff" and len(rule) > 1 and rule[0] == "S" and rule[1:].isdigit():
        return f"bandit:B{rule[1:]}"
    if tool == "ruff" and rule.startswith("PL") and len(rule) > 3 and rule[2] in "CERW":
        return f"pylint:{rule[2:]}"
    return key


def problem_class(key: str) -> str:
    key = canonical_key(key)
    return _CLASS_OF_KEY.get(key, key)


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per problem per line; see the module docstring."""
    unique = {(f.tool, f.rule_id, f.line, f.column): f for f in findings}  # ruff runs twice in "all"
    groups: dict[tuple[int, str], dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    joining = [f for f in unique.values() if f.key in JOINS]
    for finding in unique.values():
        if finding.key not in JOINS:
            groups[(finding.line, problem_class(finding.key))][finding.tool].append(finding)
    for finding in joining:
        home = next(
            (c for c in JOINS[finding.key] if (finding.line, c) in groups), problem_class(finding.key)
        )
        groups[(finding.line, home)][finding.tool].append(finding)
    merged = []
    for by_tool in groups.values():
        columns = [sorted(items, key=lambda f: (f.column, f.rule_id)) for items in by_tool.values()]
        for rank in range(max(len(items) for items in columns)):
            merged.append(_merge_group([items[rank] for items in columns if rank < len(items)]))
    return sort_findings(merged)


def _merge_group(group: list[Finding]) -> Finding:
    group = sorted(group, key=_precedence)
    # A finding that joined its twin's group (JOINS) lends its severity, not its identity: the
    # twin's rule id, CWE and confidence lead, as they would without semgrep.
    hosts = [f for f in group if f.key not in JOINS] or group
    primary = hosts[0]
    others = [f for f in group if f is not primary]
    group = [primary, *others]
    cwe = next((f.cwe for f in group if f.cwe), "") or next(
        (KEY_CWE[f.key] for f in group if f.key in KEY_CWE), ""
    )
    confidence = next((f.confidence for f in group if f.confidence), "")
    also = tuple(sorted({*primary.also, *(f.key for f in others), *(k for f in others for k in f.also)}))
    severity = max((f.severity for f in group), key=lambda level: SEVERITY_RANK.get(level, 0))
    return replace(primary, severity=severity, cwe=cwe, confidence=confidence, also=also)


def _precedence(finding: Finding) -> tuple[int, int, str]:
    tool_rank = TOOL_PRIORITY.index(finding.tool) if finding.tool in TOOL_PRIORITY else len(TOOL_PRIORITY)
    return (-SEVERITY_RANK.get(finding.severity, 0), tool_rank, finding.rule_id)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.line, f.column, -SEVERITY_RANK.get(f.severity, 0), f.key))


# --- skip list ----------------------------------------------------------------------------------


def skipped_classes(skip: Collection[str], known_tools: Iterable[str] = TOOLS) -> set[str]:
    """The problem classes a skip list switches off."""
    classes: set[str] = set()
    tools = set(known_tools)
    for raw in skip:
        entry = raw.strip()
        if not entry:
            continue
        if ":" in entry:
            classes.add(problem_class(entry))
            continue
        rule_ids = {entry}
        if not _looks_like_rule_id(entry):
            from .bandit import bandit_test_names  # lazy: imports bandit only for names

            test_id = bandit_test_names().get(entry)
            if test_id:
                rule_ids.add(test_id)
        for rule in rule_ids:
            classes.update(problem_class(f"{tool}:{rule}") for tool in tools)
    return classes


def apply_skip(findings: Iterable[Finding], skip: Collection[str]) -> list[Finding]:
    """Drop findings whose own key or any merged twin falls in a skipped class."""
    return partition_skip(findings, skip)[0]


def partition_skip(
    findings: Iterable[Finding], skip: Collection[str]
) -> tuple[list[Finding], list[SkippedFinding]]:
    """The findings the skip list keeps, and the ones it drops with the first entry that drops each."""
    findings = list(findings)
    if not skip:
        return findings, []
    tools = set(TOOLS) | {f.tool for f in findings} | {k.split(":")[0] for f in findings for k in f.also}
    by_entry = [(entry.strip(), skipped_classes([entry], tools)) for entry in skip if entry.strip()]
    kept: list[Finding] = []
    dropped: list[SkippedFinding] = []
    for finding in findings:
        classes = {problem_class(k) for k in (finding.key, *finding.also)}
        entry = next((entry for entry, skipped in by_entry if classes & skipped), None)
        if entry is None:
            kept.append(finding)
        else:
            dropped.append(SkippedFinding(finding, entry))
    return kept, dropped


def _looks_like_rule_id(entry: str) -> bool:
    """ "B101", "S101", "F841", "PLW0120", "E0606": letters then digits. Bandit names are snake_case."""
    head = entry.rstrip("0123456789")
    return head != entry and head.isalpha() and head.isupper()
