"""False alarms on HumanEval's reference solutions: how many of the 164 the default settings flag.

    python benchmarks/bench_false_alarms.py [--suite all] [--threshold note] [--json]

Each task's reference (the prompt, with its imports and docstring, followed by the canonical
solution) is answered the way the reference backend answers, one fenced block, and analyzed as the
loop analyzes a first attempt: the code block extracted, ``analyze_code`` with the configured suite,
skip list and analyzer timeout, flagged when a finding reaches the threshold. The references are
correct code that passes its tests, so every flagged one is a false alarm of the defaults, or a
real property of the reference that a rule decision in docs/EVAL.md explains ("False alarms on
HumanEval references (issue 11)"). An analyzer error on any reference ends the run (exit 1): an
error is no verdict, and would hide a false alarm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from patchloop.core.analyzers import analyze_code
from patchloop.core.config import LoopConfig
from patchloop.core.evaluation.datasets import load_humaneval
from patchloop.core.evaluation.reference import reference_answer
from patchloop.core.extract import extract_code


def main() -> int:
    defaults = LoopConfig()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite", default=defaults.analyzers, help=f"analyzer suite (default {defaults.analyzers})"
    )
    parser.add_argument(
        "--threshold",
        default=defaults.threshold,
        help=f"lowest severity that flags (default {defaults.threshold})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args()
    started = time.monotonic()
    flagged, by_rule = [], Counter()
    tasks = load_humaneval()
    for task in tasks:
        code = extract_code(reference_answer(task), task.language) or ""
        analysis = analyze_code(code, args.suite, skip=defaults.skip, timeout=defaults.analyzer_timeout)
        if analysis.errors:
            print(
                f"bench_false_alarms: {task.task_id}: analyzer error, no verdict: {analysis.errors}",
                file=sys.stderr,
            )
            return 1
        hits = analysis.flagged(args.threshold)
        if hits:
            flagged.append(
                {
                    "task": task.task_id,
                    "findings": [
                        {
                            "key": f.key,
                            "also": list(f.also),
                            "severity": f.severity,
                            "line": f.line,
                            "message": f.message,
                        }
                        for f in hits
                    ],
                }
            )
            by_rule.update(f.key for f in hits)
    result = {
        "suite": args.suite,
        "threshold": args.threshold,
        "skip": list(defaults.skip),
        "tasks": len(tasks),
        "flagged": len(flagged),
        "seconds": round(time.monotonic() - started, 1),
        "by_rule": dict(by_rule.most_common()),
        "flagged_tasks": flagged,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for item in flagged:
        for finding in item["findings"]:
            also = f" (= {', '.join(finding['also'])})" if finding["also"] else ""
            print(
                f"{item['task']}: {finding['key']}{also} {finding['severity']} line {finding['line']}: "
                f"{finding['message']}"
            )
    print(
        f"{len(flagged)} of {len(tasks)} HumanEval references flagged (suite {args.suite}, threshold "
        f"{args.threshold}), {result['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
