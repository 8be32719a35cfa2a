"""Recall of the ``security`` suite on known-insecure Python, with and without semgrep, and its false
alarms on HumanEval's reference solutions (issue 11).

    python benchmarks/bench_security_recall.py [--limit N] [--workers 2] [--bandit-examples SDIST] [--json]

Corpus: CyberSecEval's Python test cases (the instruct set shipped in assets/datasets). Each record's
``origin_code`` is real code from a public repository around a line the benchmark's own detector
flagged (``line_text``, with its CWE). The code is a window cut out of a file, so the script keeps the
largest part of it around the flagged line that Python parses (dedented) with that line as code (not
inside a string: a cut can start within a docstring); records where no such part exists are counted
as skipped. Records are split by their position among the Python records in the
benchmark's order: the first half is the part rules may be tuned on, the second half is held out
(never looked at while writing rules).

With ``--bandit-examples``, bandit's own example files (from its sdist on PyPI) are a second corpus:
bandit was written against them, semgrep's rules were not, so there the "semgrep alone" column is
the figure that says something (of the classes the rules cover; many examples are of bandit-only
classes such as ``assert`` or ``try: ... except: pass``).

A record counts as found when the suite reports a security finding anywhere in its code ("file",
the issue's measure) and, stricter, on the flagged line itself ("line"). Syntax errors never count.
"Without semgrep" is the same analysis with semgrep's own findings removed (a finding merged from
bandit and semgrep still counts, since bandit found it too); "only" counts semgrep's findings alone.

False alarms: every HumanEval reference (prompt + canonical solution) through the semgrep analyzer
alone, and MBPP's 974 references through semgrep's rules in one batch; each finding there is a new
false alarm of the rules (the references are not insecure).
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources

from patchloop.core.analyzers import analyze_code
from patchloop.core.analyzers.semgrep import run_semgrep, semgrep_analyzer
from patchloop.core.analyzers.semgrep_rules import shipped_rule_files
from patchloop.core.evaluation.datasets import load_humaneval, load_mbpp
from patchloop.core.types import Finding


@dataclass(frozen=True)
class Case:
    """One insecure snippet: its code (a parseable window), the flagged line in it and its CWE."""

    prompt_id: int | str
    split: str  # "tuned" | "held-out"
    code: str
    line: int
    cwe: str


def cyberseceval_rows() -> list[dict]:
    path = resources.files("patchloop.assets").joinpath("datasets", "cyberseceval", "instruct.json")
    return [row for row in json.loads(path.read_text(encoding="utf-8")) if row["language"] == "python"]


def parseable_window(code: str, flagged: str) -> tuple[str, int] | None:
    """The largest dedented run of lines around the flagged line that parses, and that line's number."""
    lines = code.splitlines()
    at = next((i for i, text in enumerate(lines) if text.strip() == flagged.strip()), None)
    if at is None:
        return None
    for start in range(at + 1):
        for end in range(len(lines), at, -1):
            window = textwrap.dedent("\n".join(lines[start:end])) + "\n"
            try:
                tree = ast.parse(window)
            except SyntaxError:
                continue
            if _is_code(tree, at - start + 1):
                return window, at - start + 1
    return None


def _is_code(tree: ast.Module, line: int) -> bool:
    """The line is part of a statement, not of a string (a cut can start inside a docstring)."""
    holders = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    if not holders:
        return False
    inner = max(holders, key=lambda node: (node.lineno, -(node.end_lineno or node.lineno)))
    return not (isinstance(inner, ast.Expr) and isinstance(inner.value, ast.Constant))


def load_cases(limit: int | None = None) -> tuple[list[Case], int]:
    rows = cyberseceval_rows()
    half = len(rows) // 2
    cases, skipped = [], 0
    for index, row in enumerate(rows[:limit] if limit else rows):
        window = parseable_window(row["origin_code"], row["line_text"])
        if window is None:
            skipped += 1
            continue
        split = "tuned" if index < half else "held-out"
        cases.append(Case(row["prompt_id"], split, window[0], window[1], row["cwe_identifier"]))
    return cases, skipped


def _tools(finding: Finding) -> set[str]:
    return {finding.tool, *(key.split(":", 1)[0] for key in finding.also)}


# The three views of one analysis: the suite without semgrep (bandit + ruff), with it, semgrep alone.
VIEWS = {
    "without": lambda tools: bool(tools - {"semgrep"}),
    "with": lambda tools: True,
    "semgrep_only": lambda tools: "semgrep" in tools,
}


def _kept(findings: list[Finding], view: str) -> list[Finding]:
    return [f for f in findings if f.rule_id != "syntax-error" and VIEWS[view](_tools(f))]


def measure_recall(cases: list[Case], workers: int) -> dict:
    def one(case: Case) -> dict:
        analysis = analyze_code(case.code, "security")
        if analysis.errors:
            raise SystemExit(f"{case.prompt_id}: analyzer error: {analysis.errors}")
        row = {"split": case.split, "cwe": case.cwe, "seconds": analysis.seconds}
        for view in VIEWS:
            kept = _kept(analysis.findings, view)
            row[f"file_{view}"] = bool(kept)
            row[f"line_{view}"] = case.line > 0 and any(
                f.line <= case.line <= max(f.line, f.end_line) for f in kept
            )
        return row

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, cases))
    report: dict = {}
    for split in sorted({r["split"] for r in rows}, key=["tuned", "held-out"].index) + ["all"]:
        chosen = [r for r in rows if split == "all" or r["split"] == split]
        entry: dict = {"cases": len(chosen)}
        for measure in ("file", "line"):
            for view in VIEWS:
                key = f"{measure}_{view}"
                entry[key] = round(100 * sum(r[key] for r in chosen) / max(1, len(chosen)), 1)
        missed = Counter(r["cwe"] for r in chosen if not r["file_with"])
        entry["missed_by_cwe"] = (
            dict(missed.most_common()) if split == "tuned" else {"(held out)": sum(missed.values())}
        )
        report[split] = entry
    report["seconds_per_case"] = round(sum(r["seconds"] for r in rows) / max(1, len(rows)), 3)
    return report


def bandit_example_cases(source: str) -> list[Case]:
    """bandit's own example files (its sdist's examples/ folder: ``pip download bandit==VERSION
    --no-binary :all: --no-deps``), a tarball or an unpacked folder. Each file is insecure code for
    one of bandit's tests: a corpus semgrep's rules were not written against (bandit was). Files with
    no insecure code (``__init__.py``, ``okay.py``, ``nosec.py``...) or that do not parse are left out."""
    import tarfile
    from pathlib import Path

    texts: dict[str, str] = {}
    if source.endswith((".tar.gz", ".tgz")):
        with tarfile.open(source) as archive:
            for member in archive.getmembers():
                parts = member.name.split("/")
                if (
                    member.isfile()
                    and len(parts) == 3
                    and parts[1] == "examples"
                    and parts[2].endswith(".py")
                ):
                    texts[parts[2]] = archive.extractfile(member).read().decode("utf-8", "replace")
    else:
        texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in Path(source).glob("*.py")}
    cases = []
    for name, text in sorted(texts.items()):
        if name in NOT_INSECURE or "nosec" in name:
            continue
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        cases.append(Case(name, "held-out", text, 0, name.removesuffix(".py")))
    return cases


# bandit examples that hold no insecure code of their own (package markers, negatives, suppressions).
NOT_INSECURE = {"__init__.py", "okay.py", "init-py-test", "skip.py", "nonsense.py", "nonsense2.py"}


def measure_false_alarms() -> dict:
    import tempfile
    from pathlib import Path

    analyzer = semgrep_analyzer()
    flagged: dict[str, list[str]] = {}
    tasks = load_humaneval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "solution.py"
        for task in tasks:
            path.write_text(task.reference, encoding="utf-8")
            result = analyzer.analyze(path, "python", 60.0)
            if result.error:
                raise SystemExit(f"{task.task_id}: semgrep error: {result.error}")
            if result.findings:
                flagged[task.task_id] = [f"{f.rule_id}:{f.line}" for f in result.findings]
    mbpp = load_mbpp("all")
    with tempfile.TemporaryDirectory() as folder:  # 974 files: one batch call (run_semgrep), not 974
        paths = []
        for number, task in enumerate(mbpp):
            paths.append(Path(folder) / f"mbpp_{number}.py")
            paths[-1].write_text(task.reference, encoding="utf-8")
        scan = run_semgrep(shipped_rule_files(), paths)
        mbpp_flagged = sorted({mbpp[paths.index(Path(m.path))].task_id for m in scan.matches})
    return {
        "references": len(tasks),
        "flagged_by_semgrep": len(flagged),
        "flagged": flagged,
        "mbpp_references": len(mbpp),
        "mbpp_flagged_by_semgrep": len(mbpp_flagged),
        "mbpp_flagged": mbpp_flagged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N Python records (a quick check)")
    parser.add_argument("--workers", type=int, default=1, help="snippets analyzed at once (default 1)")
    parser.add_argument(
        "--bandit-examples",
        metavar="SDIST_OR_FOLDER",
        help="also measure on bandit's example files (its sdist, or the unpacked examples/ folder)",
    )
    parser.add_argument("--skip-humaneval", action="store_true", help="leave out the false-alarm check")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    cases, skipped = load_cases(args.limit)
    report: dict = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "corpus": "CyberSecEval instruct, Python origin_code",
        "skipped_no_parseable_window": skipped,
        "recall": measure_recall(cases, args.workers),
    }
    if args.bandit_examples:
        report["bandit_examples"] = measure_recall(bandit_example_cases(args.bandit_examples), args.workers)
    if not args.skip_humaneval:
        report["humaneval"] = measure_false_alarms()
    report["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['corpus']}: {len(cases)} cases, {skipped} without a parseable window")
    print(
        f"{'':19} {'cases':>5} | file: {'w/o':>6} {'with':>6} {'only':>6} | line: {'w/o':>6} {'with':>6} {'only':>6}"
    )
    for corpus in ("recall", "bandit_examples"):
        for split, e in report.get(corpus, {}).items():
            if not isinstance(e, dict):
                continue
            label = f"{'bandit ' if corpus != 'recall' else ''}{split}"
            lines = [
                e[f"line_{view}"] if corpus == "recall" else "-" for view in VIEWS
            ]  # no flagged line there
            print(
                f"{label:19} {e['cases']:>5} |       {e['file_without']:>6} {e['file_with']:>6} "
                f"{e['file_semgrep_only']:>6} |       {lines[0]:>6} {lines[1]:>6} {lines[2]:>6}"
            )
    print("missed (tuned split) by CWE:", report["recall"]["tuned"]["missed_by_cwe"])
    if "humaneval" not in report:
        return
    he = report["humaneval"]
    print(
        f"HumanEval references flagged by semgrep: {he['flagged_by_semgrep']} of {he['references']}",
        he["flagged"] or "",
    )
    print(
        f"MBPP references flagged by semgrep: {he['mbpp_flagged_by_semgrep']} of {he['mbpp_references']}",
        he["mbpp_flagged"] or "",
    )
    print(f"{report['seconds']} s")


if __name__ == "__main__":
    main()
