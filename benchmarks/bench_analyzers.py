"""Analyzer wall time per loop iteration, for each suite, on typical model-sized solutions.

    python benchmarks/bench_analyzers.py [--repeat 5] [--json]

One "iteration" is one analyze_code() call, exactly what the loop does after each answer: write the
code to a temp dir and run the suite's analyzers in parallel. The first call of each suite is reported
separately (cold: tool start-up, caches empty); the rest are the warm median.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from patchloop.core.analyzers import SUITES, analyze_code

SOLUTIONS = {
    "clean": '''from dataclasses import dataclass


@dataclass
class Account:
    owner: str
    balance: float = 0.0

    def deposit(self, amount: float) -> float:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        return self.balance


def sum_positive(values: list[float]) -> float:
    return sum(v for v in values if v > 0)
''',
    "flagged": '''import hashlib
import pickle
import subprocess


def load(path):
    f = open(path, "rb")
    return pickle.loads(f.read())


def run(cmd, day):
    if day != "Sat" or day != "Sun":
        password = "hunter2"
    subprocess.call(cmd, shell=True)
    return hashlib.md5(password.encode()).hexdigest()
''',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="warm calls per suite and solution")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    rows = []
    for suite in SUITES:
        for name, code in SOLUTIONS.items():
            started = time.perf_counter()
            first = analyze_code(code, suite)
            cold = time.perf_counter() - started
            warm = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                analyze_code(code, suite)
                warm.append(time.perf_counter() - started)
            rows.append({"suite": suite, "solution": name, "cold_s": round(cold, 3),
                         "warm_median_s": round(statistics.median(warm), 3),
                         "findings": len(first.findings), "errors": first.errors})
    if args.json:
        print(json.dumps({"machine": f"{platform.machine()} {platform.processor()}", "rows": rows}, indent=2))
        return
    print(f"{'suite':10} {'solution':8} {'cold s':>7} {'warm s':>7} findings")
    for r in rows:
        print(f"{r['suite']:10} {r['solution']:8} {r['cold_s']:7.2f} {r['warm_median_s']:7.2f} {r['findings']}"
              + (f"  ERRORS: {r['errors']}" if r["errors"] else ""))


if __name__ == "__main__":
    main()
