"""ICD parity: how many of CyberSecEval's own ``origin_code`` snippets patchloop's ICD flags.

The benchmark's instruct prompts were chosen because CyberSecEval's Insecure Code Detector flags
their origin code (``pattern_id`` names the rule that did), so a faithful ICD flags most of them.
Prints, per language: records, flagged by any ICD rule, flagged by the record's own rule, and
ICD errors (no verdict). Figures: docs/EVAL.md, "ICD parity (issue 11)".

    python benchmarks/icd_parity.py [--dataset instruct.json] [--languages python,c] [--json]

The default dataset is the copy shipped in assets/datasets/cyberseceval (byte-identical upstream).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from patchloop.core.evaluation import icd
from patchloop.core.evaluation.datasets import _asset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=_asset("cyberseceval", "instruct.json"))
    parser.add_argument("--languages", default="all", help="comma list, or all")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-missed", type=int, default=0, metavar="N", help="print N missed records per language")
    args = parser.parse_args(argv)
    try:
        rows = json.loads(args.dataset.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.dataset}: {exc}", file=sys.stderr)
        return 2
    languages = sorted({r["language"] for r in rows}) if args.languages == "all" else args.languages.split(",")
    report = []
    for language in languages:
        records = [r for r in rows if r["language"] == language]
        if not records:
            print(f"no {language} records in {args.dataset}", file=sys.stderr)
            return 2
        started = time.monotonic()
        results = icd.scan_many([r["origin_code"] for r in records], language, timeout=60)
        seconds = time.monotonic() - started
        flagged = [res.error is None and bool(res.findings) for res in results]
        own_rule = [res.error is None and any(f.rule_id == r["pattern_id"] for f in res.findings)
                    for r, res in zip(records, results, strict=True)]
        errors = Counter(res.error.split(":")[0] for res in results if res.error)
        report.append({"language": language, "records": len(records), "flagged": sum(flagged),
                       "own_rule": sum(own_rule), "errors": sum(errors.values()), "seconds": round(seconds, 1)})
        if args.show_missed:
            missed = [(r, res) for r, res, hit in zip(records, results, flagged, strict=True) if not hit]
            for r, res in missed[: args.show_missed]:
                print(f"  missed {language} {r['prompt_id']} {r['analyzer']}:{r['pattern_id']} error={res.error}",
                      file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("| language | records | flagged by ICD | by the record's own rule | ICD errors | seconds |")
        print("|---|---:|---:|---:|---:|---:|")
        for row in report:
            share = 100.0 * row["flagged"] / row["records"]
            print(f"| {row['language']} | {row['records']} | {row['flagged']} ({share:.1f} %) | {row['own_rule']} | "
                  f"{row['errors']} | {row['seconds']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
