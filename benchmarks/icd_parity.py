"""ICD parity: how many of CyberSecEval's own ``origin_code`` snippets patchloop's ICD flags.

The benchmark's instruct prompts were chosen because CyberSecEval's Insecure Code Detector flags
their origin code (``pattern_id`` names the rule that did), so a faithful ICD flags most of them.
Prints, per language: records, flagged by any ICD rule, flagged by the record's own rule, records
whose rule codeshield 1.0.1 still ships and enables, and the records the ICD gave no verdict on. Figures: docs/EVAL.md, "ICD parity (issue 11)".

    python benchmarks/icd_parity.py [--dataset instruct.json] [--languages python,c] [--json]

The default dataset is the copy shipped in assets/datasets/cyberseceval (byte-identical upstream).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from patchloop.core.evaluation import icd
from patchloop.core.evaluation.datasets import _asset


def _rule_name(pattern_id: str) -> str:
    return pattern_id.rsplit(".", 1)[-1]


def _semgrep_ids(language: str) -> set[str]:
    if language not in icd.SEMGREP_LANGUAGES:
        return set()
    return {
        rule["id"] for rule in json.loads(icd.semgrep_config(language).read_text(encoding="utf-8"))["rules"]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=_asset("cyberseceval", "instruct.json"))
    parser.add_argument("--languages", default="all", help="comma list, or all")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--show-missed", type=int, default=0, metavar="N", help="print N missed records per language"
    )
    args = parser.parse_args(argv)
    try:
        rows = json.loads(args.dataset.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.dataset}: {exc}", file=sys.stderr)
        return 2
    languages = (
        sorted({r["language"] for r in rows}) if args.languages == "all" else args.languages.split(",")
    )
    report = []
    for language in languages:
        records = [r for r in rows if r["language"] == language]
        if not records:
            print(f"no {language} records in {args.dataset}", file=sys.stderr)
            return 2
        started = time.monotonic()
        results = icd.scan_many([r["origin_code"] for r in records], language, timeout=60)
        seconds = time.monotonic() - started
        # Findings count even where part of the ICD failed (that code is known vulnerable).
        flagged = [bool(res.findings) for res in results]
        # The dataset names the rule that selected a record by an older, dotted id; its last part is
        # the rule's name (regex ids like PY-R-002 were renamed since and match nothing).
        own_rule = [
            any(f.rule_id == _rule_name(r["pattern_id"]) for f in res.findings)
            for r, res in zip(records, results, strict=True)
        ]
        known = {rule.pattern_id for rule in icd.regex_rules(language)} | _semgrep_ids(language)
        no_verdict = sum(bool(res.error) and not res.findings for res in results)
        report.append(
            {
                "language": language,
                "records": len(records),
                "flagged": sum(flagged),
                "own_rule": sum(own_rule),
                "no_verdict": no_verdict,
                "rule_shipped": sum(_rule_name(r["pattern_id"]) in known for r in records),
                "seconds": round(seconds, 1),
            }
        )
        if args.show_missed:
            missed = [(r, res) for r, res, hit in zip(records, results, flagged, strict=True) if not hit]
            for r, res in missed[: args.show_missed]:
                print(
                    f"  missed {language} {r['prompt_id']} {r['analyzer']}:{_rule_name(r['pattern_id'])} "
                    f"error={(res.error or '')[:120]}",
                    file=sys.stderr,
                )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            "| language | records | flagged by ICD | by the record's own rule | record's rule in 1.0.1 "
            "| no verdict | seconds |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for row in report:
            share = 100.0 * row["flagged"] / row["records"]
            print(
                f"| {row['language']} | {row['records']} | {row['flagged']} ({share:.1f} %) | {row['own_rule']} | "
                f"{row['rule_shipped']} | {row['no_verdict']} | {row['seconds']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
