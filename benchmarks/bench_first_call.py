"""The first analysis of a fresh process (every worker and language server starting) and the warm calls
after it, for variants of the basedpyright language server's V8 flags, side by side.

    python benchmarks/bench_first_call.py --rounds 8 --variants "default=--max-opt=2;turbofan="

Each round starts one fresh process per variant, in turn (so load on the machine hits every variant
alike); the process times its first ``analyze_code`` of a new 60-line module (``sixty_line_file``
of bench_analyzers.py) with the suite, then ``--calls`` warm calls, and prints its figures. A
variant is ``NAME=FLAGS``: the node flags the server gets (``lsp.NODE_FLAGS``), space-separated,
empty for none. Reported per variant: the median over rounds of the first call's wall time, of its
CPU seconds (this process, its waited-for children and the workers' process trees), of the
basedpyright server's CPU seconds at its first answer, and of the warm calls' median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAGS_VARIABLE = "BENCH_FIRST_CALL_NODE_FLAGS"


def child(flags: str, number: int, suite: str, calls: int) -> None:
    sys.path.insert(0, str(HERE))
    from bench_analyzers import _tree_cpu, cpu_now, sixty_line_file
    from patchloop.core.analyzers import analyze_code, lsp
    from patchloop.core.analyzers.pyright import pyright_server

    lsp.NODE_FLAGS = tuple(flags.split())
    started = time.perf_counter()
    first = analyze_code(sixty_line_file(number), suite)
    first_s = time.perf_counter() - started
    first_cpu = cpu_now()
    server = pyright_server().pid
    server_cpu = _tree_cpu(server) if server else None
    if first.errors:
        raise SystemExit(f"bench_first_call: the first call gave errors: {first.errors}")
    warm = []
    for offset in range(calls):
        started = time.perf_counter()
        analyze_code(sixty_line_file(1000 * (number + 1) + offset), suite)
        warm.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "first_s": first_s,
                "first_cpu_s": first_cpu,
                "pyright_first_cpu_s": server_cpu,
                "warm_median_s": statistics.median(warm) if warm else None,
                "per_analyzer_first_s": {r.analyzer: round(r.seconds, 3) for r in first.results},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8, help="fresh processes per variant (default 8)")
    parser.add_argument("--calls", type=int, default=12, help="warm calls after the first (default 12)")
    parser.add_argument("--suite", default="all", help="suite to time (default all)")
    parser.add_argument(
        "--variants",
        default="default=--max-opt=2;turbofan=",
        help="NAME=FLAGS;...: node flags of the basedpyright server (default: patchloop's, and none)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--child", type=int, metavar="NUMBER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # the flags come in the environment: they begin with "--"
        child(os.environ.get(FLAGS_VARIABLE, ""), args.child, args.suite, args.calls)
        return
    variants = dict(part.split("=", 1) for part in args.variants.split(";") if part)
    samples: dict[str, list[dict]] = {name: [] for name in variants}
    for round_number in range(args.rounds):
        for index, (name, flags) in enumerate(variants.items()):
            command = [sys.executable, __file__, "--suite", args.suite, "--calls", str(args.calls)]
            command += ["--child", str(round_number * len(variants) + index)]
            environment = {**os.environ, FLAGS_VARIABLE: flags}
            done = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
            if done.returncode != 0:
                raise SystemExit(f"bench_first_call: variant {name} failed: {done.stderr.strip()[-500:]}")
            samples[name].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(name: str, key: str) -> float | None:
        values = [s[key] for s in samples[name] if s[key] is not None]
        return round(statistics.median(values), 3) if values else None

    rows = [
        {
            "variant": name,
            "node_flags": variants[name],
            "first_call_s": median(name, "first_s"),
            "first_call_cpu_s": median(name, "first_cpu_s"),
            "pyright_first_cpu_s": median(name, "pyright_first_cpu_s"),
            "warm_median_s": median(name, "warm_median_s"),
            "first_call_s_all": [round(s["first_s"], 3) for s in samples[name]],
        }
        for name in variants
    ]
    result = {
        "suite": args.suite,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"suite {args.suite}, {args.rounds} rounds, load average at the end {result['load_average']}")
    print(f"{'variant':12} {'node flags':16} {'first s':>8} {'CPU s':>6} {'pyright CPU s':>14} {'warm s':>7}")
    for row in rows:
        print(
            f"{row['variant']:12} {row['node_flags'] or '(none)':16} {row['first_call_s']:>8} "
            f"{row['first_call_cpu_s']:>6} {row['pyright_first_cpu_s']!s:>14} {row['warm_median_s']!s:>7}"
        )


if __name__ == "__main__":
    main()
