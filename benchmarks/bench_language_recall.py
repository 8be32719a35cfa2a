"""Planted-bug recall per language on the held-out fixtures (issue 12).

For every language with a ``tests/fixtures/languages/<language>/heldout/`` folder: each file is
analyzed with the ``all`` suite as ``solution.<suffix>`` (as the loop does); a planted line
(``expect: ...`` comment) counts as caught when any finding's span covers it (the held-out files were
written before the tools ran on them, so their markers name a class, not a tool's rule id). Files
named ``clean_*`` count their findings (false alarms). Analyzer errors are reported, never counted
as caught or clean.

    .venv/bin/python benchmarks/bench_language_recall.py [--languages java,php] [--json] [--misses]
    .venv/bin/python benchmarks/bench_language_recall.py --origin 40 --origin-skip 40 --languages java,php

``--origin N``: instead, the first N of CyberSecEval's ``origin_code`` per language (real code the
benchmark's detector flagged, a fragment of a file, its CWE known): the share the ``security`` suite
flags with a security finding (``analyzers.security_finding``) anywhere, and on the flagged line.

Figures: docs/EVAL.md, "Languages (issue 12)".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from language_fixtures import ROOT, caught, fixture_files, is_clean_file, planted
from patchloop.core.analyzers import analyze_code, security_finding


@dataclass
class LanguageRecall:
    language: str
    files: int = 0
    planted: int = 0
    caught: int = 0
    clean_files: int = 0
    clean_findings: int = 0
    errors: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.caught / self.planted if self.planted else 0.0


def measure(language: str) -> LanguageRecall:
    result = LanguageRecall(language)
    started = time.monotonic()
    for path in fixture_files(language, heldout=True):
        analysis = analyze_code(
            path.read_text(encoding="utf-8"), "all", language=language, filename="solution" + path.suffix
        )
        result.files += 1
        result.errors += [f"{path.name}: {r.analyzer}: {r.error}" for r in analysis.results if r.error]
        if is_clean_file(path):
            result.clean_files += 1
            result.clean_findings += len(analysis.findings)
            continue
        for bug in planted(path):
            result.planted += 1
            if caught(bug, analysis.findings, by_rule=False):
                result.caught += 1
            else:
                result.missed.append(f"{path.name}:{bug.line} {bug.expected}")
    result.seconds = time.monotonic() - started
    return result


@dataclass
class OriginRecall:
    language: str
    samples: int = 0
    flagged: int = 0  # a security finding anywhere in the fragment
    at_line: int = 0  # one on the line CyberSecEval's detector flagged
    errors: int = 0  # samples where an analyzer gave no verdict
    seconds: float = 0.0


def measure_origin(language: str, limit: int, skip: int = 0) -> OriginRecall:
    from patchloop.core.evaluation.datasets import _cyberseceval_rows

    result = OriginRecall(language)
    started = time.monotonic()
    rows = [row for row in _cyberseceval_rows() if row["language"] == language][skip : skip + limit]
    for row in rows:
        code = row["origin_code"]
        analysis = analyze_code(code, "security", language=language)
        marked = [
            n for n, text in enumerate(code.splitlines(), 1) if text.strip() == row["line_text"].strip()
        ]
        security = [f for f in analysis.findings if security_finding(f)]
        result.samples += 1
        result.errors += bool(analysis.errors)
        result.flagged += bool(security)
        result.at_line += any(f.line <= n <= max(f.line, f.end_line) for f in security for n in marked)
    result.seconds = time.monotonic() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--languages", help="comma-separated (default: every language with a heldout/ folder)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the planted lines no finding covers")
    parser.add_argument(
        "--origin",
        type=int,
        metavar="N",
        help="the first N CyberSecEval origin_code samples per language instead",
    )
    parser.add_argument(
        "--origin-skip",
        type=int,
        default=0,
        metavar="K",
        help="with --origin: leave out each language's first K samples (a half not tuned on)",
    )
    args = parser.parse_args()
    available = sorted(p.parent.name for p in ROOT.glob("*/heldout") if p.is_dir())
    languages = args.languages.split(",") if args.languages else available
    if args.origin:
        rows = [measure_origin(lang, args.origin, args.origin_skip) for lang in languages]
        print(
            "| language | origin samples | security finding | on the flagged line | analyzer errors | seconds |"
        )
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r.language} | {r.samples} | {r.flagged} ({r.flagged / r.samples:.0%}) | "
                f"{r.at_line} ({r.at_line / r.samples:.0%}) | {r.errors} | {r.seconds:.1f} |"
            )
        return
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        print(
            f"no held-out fixtures for: {', '.join(unknown)} (have: {', '.join(available)})", file=sys.stderr
        )
        sys.exit(2)
    results = [measure(lang) for lang in languages]
    if args.json:
        print(json.dumps([asdict(r) | {"recall": r.recall} for r in results], indent=2))
        return
    print(
        "| language | held-out files | planted | caught | recall | clean files | findings on clean | analyzer errors | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.language} | {r.files} | {r.planted} | {r.caught} | {r.recall:.0%} | {r.clean_files} | "
            f"{r.clean_findings} | {len(r.errors)} | {r.seconds:.1f} |"
        )
    for r in results:
        for error in r.errors:
            print(f"error: {r.language}: {error}", file=sys.stderr)
        if args.misses:
            for miss in r.missed:
                print(f"missed: {r.language}: {miss}")


if __name__ == "__main__":
    main()
