"""cppcheck for C and C++, read through its XML report (version 2).

``cppcheck`` (``defects``): every check of the ``warning``, ``style``, ``performance`` and
``portability`` groups (errors are always on), less ``NOISE``: checks that fire on idiomatic
code and say nothing about correctness (a variable whose scope could be smaller, a parameter
that could be const), checks that need the whole program (``unusedFunction``) and cppcheck's
own remarks about its configuration (a system header it did not look for).

``cppcheck-security`` (``security``): the same run, keeping only findings whose CWE is a
memory-safety or injection weakness (``SECURITY_CWES``: buffer overruns, use after free,
double free, NULL dereference, format strings, uninitialized memory, leaks, obsolete unsafe
functions such as ``gets``). cppcheck is the one tool here that tracks buffer sizes through
the code, so its overrun findings are the security suite's evidence for CWE-119/120/787.

Severity: cppcheck's ``error`` -> error; ``warning`` and ``portability`` -> warning;
``style``, ``performance`` and ``information`` -> note. ``inconclusive="true"`` -> confidence
low, else high. CWE: cppcheck's own ``cwe`` attribute. The first ``<location>`` is where the
problem is (later ones are the path to it).

Both also run the pattern rules shipped in ``assets/cppcheck/rules.xml`` (``--rule-file``): the
weaknesses CyberSecEval's detector reports in C and C++ that no check here finds otherwise:
``rand()`` (CWE-338), MD5/SHA-1 and DES/ECB calls (CWE-328/327), an allocation sized by a product
of two variables (CWE-680), ``strtok`` (CWE-676) and ``std::auto_ptr`` (CWE-665). Each rule's CWE
is the "[CWE-n]" at the end of its summary; every rule counts as a security finding.

A file cppcheck cannot parse gives a ``syntaxError`` finding, so broken code is never clean;
cppcheck's own failures (``internalError``, ``internalAstError``, a crash) are errors.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

from ..types import Finding
from .base import ToolAnalyzer, ToolFailure, check_exit, require_tool, run_tool, tail

INSTALL = "apt-get install cppcheck"

NOISE: tuple[str, ...] = (
    "missingIncludeSystem", "missingInclude", "unusedFunction", "checkersReport", "unmatchedSuppression",
    "variableScope", "constParameter", "constParameterPointer", "constParameterReference",
    "constParameterCallback", "constVariable", "constVariablePointer", "constVariableReference",
    "passedByValue", "useStlAlgorithm", "normalCheckLevelMaxBranches", "toomanyconfigs",
    "unusedStructMember", "noExplicitConstructor", "funcArgNamesDifferent", "useInitializationList",
    # "Technically the member function can be static/const": every LeetCode-style class method.
    "functionStatic", "functionConst",
)  # fmt: skip

SEVERITY = {
    "error": "error", "warning": "warning", "portability": "warning",
    "style": "note", "performance": "note", "information": "note",
}  # fmt: skip

# CWE-119/120/121/122/125/786/787/788: out-of-bounds reads and writes; 134: format strings;
# 401/772: leaks; 415: double free; 416/825: use after free, dangling; 457/908: uninitialized;
# 476/690: NULL dereference; 477/676/242: obsolete or dangerous functions (gets); 562: a local's
# address returned; 590: free of non-heap; 628/686/687: wrong arguments to printf-like calls;
# 131/467: wrong size computations; 190: integer overflow; 758: undefined behaviour.
SECURITY_CWES = frozenset(
    f"CWE-{n}" for n in (
        119, 120, 121, 122, 125, 131, 134, 190, 242, 401, 415, 416, 457, 467, 476, 477, 562, 590,
        628, 676, 686, 687, 690, 758, 772, 786, 787, 788, 825, 908,
    )
)  # fmt: skip

_CWE_IN_SUMMARY = re.compile(r"\s*\[(CWE-\d+)\]\s*$")

# The ids of cppcheck's own checks whose CWE is in SECURITY_CWES (as cppcheck 2.10 reports them),
# for telling a security finding by its rule alone (``security_rule``).
SECURITY_RULES = frozenset({
    "arrayIndexOutOfBounds", "arrayIndexOutOfBoundsCond", "bufferAccessOutOfBounds", "containerOutOfBounds",
    "negativeIndex", "pointerOutOfBounds", "insecureCmdLineArgs", "invalidscanf", "getsCalled",
    "doubleFree", "deallocuse", "deallocret", "memleak", "memleakOnRealloc", "leakReturnValNotUsed",
    "nullPointer", "nullPointerRedundantCheck", "nullPointerArithmetic", "uninitvar", "legacyUninitvar",
    "uninitdata", "uninitStructMember", "returnDanglingLifetime", "returnReference", "returnLocalVariable",
    "danglingLifetime", "invalidLifetime", "autoVariables", "mismatchAllocDealloc", "wrongPrintfScanfArgNum",
    "invalidPrintfArgType_s", "invalidScanfArgType_s", "integerOverflow", "sizeofwithnumericparameter",
})  # fmt: skip

TOOL_FAILURES = ("internalError", "internalAstError", "cppcheckError")
STANDARD = {"c": "--std=c11", "cpp": "--std=c++17"}


def parse_cppcheck_xml(stderr: str, path: Path) -> list[Finding]:
    start = stderr.find("<?xml")
    if start < 0:
        raise ValueError(f"no XML report in cppcheck's output: {tail(stderr)}")
    root = ET.fromstring(stderr[start:])
    errors = root.find("errors")
    if errors is None:
        raise ValueError("cppcheck's report has no <errors> element")
    findings = []
    for error in errors.iter("error"):
        rule = error.get("id", "")
        if rule == "internalAstError" and error.get("msg", "").startswith("Syntax Error"):
            rule = "syntaxError"  # a broken expression is a verdict on the code, not a cppcheck failure
        elif rule in TOOL_FAILURES:
            raise ToolFailure(f"cppcheck could not analyze the file: {error.get('msg', '')}")
        if rule in NOISE:
            continue
        locations = [loc for loc in error.iter("location") if Path(loc.get("file", "")).name == path.name]
        line = int(locations[0].get("line", 1)) if locations else 1
        column = int(locations[0].get("column", 0)) if locations else 0
        cwe = error.get("cwe")
        message = error.get("msg", rule)
        from_rule = _CWE_IN_SUMMARY.search(message)
        if from_rule:  # one of the shipped pattern rules
            cwe, message = from_rule.group(1)[4:], message[: from_rule.start()]
        findings.append(
            Finding(
                tool="cppcheck",
                rule_id=rule,
                severity=SEVERITY.get(error.get("severity", ""), "warning"),
                message=message,
                line=line,
                column=column,
                confidence="low" if error.get("inconclusive") == "true" else "high",
                cwe=f"CWE-{cwe}" if cwe and cwe != "0" else "",
            )
        )
    return findings


def rules_file() -> Path:
    return Path(str(resources.files("patchloop.assets").joinpath("cppcheck", "rules.xml")))


@cache
def pattern_rule_ids() -> frozenset[str]:
    """The ids of the shipped pattern rules (all of them security findings)."""
    root = ET.fromstring(rules_file().read_text(encoding="utf-8"))
    return frozenset(node.text or "" for node in root.iter("id"))


@dataclass(frozen=True)
class CppcheckAnalyzer(ToolAnalyzer):
    security_only: bool = False

    def security_rule(self, rule_id: str) -> bool:
        """cppcheck's memory-safety checks and the shipped pattern rules are the security role."""
        return rule_id in SECURITY_RULES or rule_id in pattern_rule_ids()

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        executable = require_tool(self.executable, self.install)
        argv = [
            executable, "--xml", "--xml-version=2", "--quiet", "--inconclusive",
            "--enable=warning,style,performance,portability",
            f"--language={'c++' if language == 'cpp' else 'c'}", STANDARD[language],
            # One file of a model's answer: no project, no cache, no configuration search.
            "--max-configs=1", f"--rule-file={rules_file()}",
            path.name,
        ]  # fmt: skip
        run = run_tool(argv, timeout, cwd=path.parent)
        check_exit(run, "cppcheck", (0,), run.stderr)
        findings = parse_cppcheck_xml(run.stderr, path)
        if self.security_only:
            rules = pattern_rule_ids() | {"syntaxError"}
            findings = [f for f in findings if f.cwe in SECURITY_CWES or f.rule_id in rules]
        return findings


def cppcheck_defects() -> CppcheckAnalyzer:
    return CppcheckAnalyzer("cppcheck", ("c", "cpp"), tool="cppcheck", executable="cppcheck", install=INSTALL)


def cppcheck_security() -> CppcheckAnalyzer:
    return replace(cppcheck_defects(), name="cppcheck-security", security_only=True)
