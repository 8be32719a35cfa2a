"""Analyzer wall time per loop iteration: the warm suite (long-lived workers) against the cold path
(every tool started per call), side by side in one run, on a new 60-line file each call.

    python benchmarks/bench_analyzers.py [--suite all] [--calls 20] [--without semgrep] [--json]

One call is one analyze_code() call, exactly what the loop does after each answer: write the code to
a temp dir and run the suite's analyzers in parallel. Every call gets a file of its own (60 lines,
names and constants drawn from the call's number), so no tool can answer from a cache keyed by
content. Reported, per path:

- first call: the first analyze_code() of this fresh process on that path (warm: the workers start;
  cold: the tools start as they always do), with its CPU seconds;
- median and p90 of the next ``--calls`` calls, warm and cold calls alternated so that other load on
  the machine hits both alike;
- each analyzer's median seconds, to show which tool the suite waits for;
- CPU seconds per call (this process, the tools it started and waited for, and the warm workers'
  process trees, read from /proc): wall time on N idle cores is at least CPU / N, so this figure
  shows what a loaded machine cannot: whether the suite fits the budget at all.

``--without NAME``: also the warm suite without those analyzers (alternated with the others), to
show what one analyzer costs the suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import resource
import statistics
import time
from pathlib import Path

from patchloop.core.analyzers import ANALYZERS, SUITES, analyze_code, workers

TEMPLATE = '''"""Inventory report for store {n}."""
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class {cls}:
    name: str
    price: float
    quantity: int = 0
    tags: list[str] = field(default_factory=list)

    def value(self) -> float:
        return self.price * self.quantity


def load_{noun}(path: str) -> list[{cls}]:
    with open(path, encoding="utf-8") as handle:
        rows = json.load(handle)
    return [{cls}(row["name"], float(row["price"]), int(row.get("quantity", 0))) for row in rows]


def {verb}_by_tag(items: list[{cls}]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for item in items:
        for tag in item.tags or ["untagged"]:
            totals[tag] += item.value()
    return dict(totals)


def restock(items: list[{cls}], minimum: int = {minimum}) -> list[str]:
    low = []
    for item in items:
        if item.quantity < minimum:
            low.append(item.name)
    return sorted(low)


def price_stats(items: list[{cls}]) -> tuple[float, float]:
    if not items:
        return 0.0, 0.0
    prices = [item.price for item in items]
    mean = sum(prices) / len(prices)
    spread = math.sqrt(sum((p - mean) ** 2 for p in prices) / len(prices))
    return round(mean, {digits}), round(spread, {digits})


def discount(item: {cls}, percent: float = {percent}) -> float:
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return item.price * (1 - percent / 100)


def report(items: list[{cls}]) -> str:
    mean, spread = price_stats(items)
    lines = [f"{{len(items)}} items, mean price {{mean}}, spread {{spread}}"]
    lines += [f"restock: {{name}}" for name in restock(items)]
    return "\\n".join(lines)
'''
NOUNS = ["items", "products", "stock", "goods", "articles", "wares", "parts", "supplies"]
VERBS = ["total", "sum", "value", "weigh", "tally", "count", "rank", "score"]
CLASSES = ["Item", "Product", "Article", "Part", "Good", "Ware", "Supply", "Entry"]


def sixty_line_file(number: int) -> str:
    """A model-sized module of exactly 60 lines, different for every ``number``."""
    rng = random.Random(number)
    code = TEMPLATE.format(
        n=number,
        cls=rng.choice(CLASSES) + str(number),
        noun=rng.choice(NOUNS),
        verb=rng.choice(VERBS),
        minimum=rng.randint(2, 50),
        digits=rng.randint(1, 4),
        percent=rng.randint(5, 60),
    )
    assert code.count("\n") == 60, code.count("\n")
    return code


def cold_analyzers() -> None:
    """Make every analyzer with a warm mode start its tool per call (the path before the workers)."""
    for name, factory in list(ANALYZERS.items()):
        sample = factory()
        if dataclasses.is_dataclass(sample) and any(f.name == "warm" for f in dataclasses.fields(sample)):
            ANALYZERS[f"{name}/cold"] = lambda factory=factory: dataclasses.replace(factory(), warm=False)


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def cpu_now() -> float:
    """CPU seconds of this process, its waited-for children and the warm workers' trees."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    pids = [worker.pid for worker in list(workers._workers.values())]
    return (
        own.ru_utime
        + own.ru_stime
        + waited.ru_utime
        + waited.ru_stime
        + sum(_tree_cpu(pid) for pid in pids if pid)
    )


def timed(code: str, suite: str) -> tuple[float, dict]:
    started = time.perf_counter()
    analysis = analyze_code(code, suite)
    seconds = time.perf_counter() - started
    if analysis.errors:
        raise SystemExit(f"bench_analyzers: suite {suite!r} gave errors: {analysis.errors}")
    return seconds, {r.analyzer.removesuffix("/cold"): r.seconds for r in analysis.results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="all", choices=sorted(SUITES), help="suite to time (default all)")
    parser.add_argument(
        "--calls", type=int, default=20, help="timed calls per path after the first (default 20)"
    )
    parser.add_argument(
        "--without", default="", help="comma-separated analyzers: also time the warm suite without them"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    cold_analyzers()
    paths = {
        "warm": SUITES[args.suite],
        "cold": tuple(f"{n}/cold" if f"{n}/cold" in ANALYZERS else n for n in SUITES[args.suite]),
    }
    left_out = [name for name in args.without.split(",") if name]
    if left_out:
        paths["warm without " + ",".join(left_out)] = tuple(
            n for n in SUITES[args.suite] if n not in left_out
        )
    for label, names in paths.items():
        SUITES[f"bench:{label}"] = names
    number = 0
    first: dict[str, float] = {}
    first_cpu: dict[str, float] = {}
    for label in ("warm", "cold"):  # the first call of each path, before any other call of it
        number += 1
        before = cpu_now()
        first[label] = timed(sixty_line_file(number), f"bench:{label}")[0]
        first_cpu[label] = cpu_now() - before
    calls: dict[str, list[float]] = {label: [] for label in paths}
    cpu: dict[str, float] = {label: 0.0 for label in paths}
    tools: dict[str, dict[str, list[float]]] = {label: {} for label in paths}
    if len(paths) > 2:
        timed(sixty_line_file(0), f"bench:{list(paths)[2]}")  # its workers are the warm path's: untimed
    for _ in range(args.calls):
        for label in paths:
            number += 1
            before = cpu_now()
            seconds, per_tool = timed(sixty_line_file(number), f"bench:{label}")
            cpu[label] += cpu_now() - before
            calls[label].append(seconds)
            for tool, tool_seconds in per_tool.items():
                tools[label].setdefault(tool, []).append(tool_seconds)
    rows = []
    for label in paths:
        times = sorted(calls[label])
        rows.append(
            {
                "path": label,
                "first_call_s": round(first[label], 3) if label in first else None,
                "first_call_cpu_s": round(first_cpu[label], 3) if label in first_cpu else None,
                "median_s": round(statistics.median(times), 3),
                "p90_s": round(times[min(len(times) - 1, int(0.9 * len(times)))], 3),
                "cpu_per_call_s": round(cpu[label] / len(times), 3),
                "per_analyzer_median_s": {
                    tool: round(statistics.median(v), 3)
                    for tool, v in tools[label].items()
                    if statistics.median(v) >= 0.001
                },
            }
        )
    result = {
        "suite": args.suite,
        "calls": args.calls,
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"suite {args.suite}, {args.calls} calls per path, {os.cpu_count()} CPUs, "
        f"load average at the end {result['load_average']}"
    )
    print(
        f"{'path':22} {'first call s (CPU s)':>20} {'median s':>9} {'p90 s':>7} {'CPU s':>6}  per-analyzer median s"
    )
    for row in rows:
        first_call = (
            f"{row['first_call_s']:.3f} ({row['first_call_cpu_s']:.3f})"
            if row["first_call_s"] is not None
            else "-"
        ).rjust(20)
        per_tool = ", ".join(f"{tool} {s:.3f}" for tool, s in row["per_analyzer_median_s"].items())
        print(
            f"{row['path']:22} {first_call} {row['median_s']:9.3f} {row['p90_s']:7.3f} "
            f"{row['cpu_per_call_s']:6.3f}  {per_tool}"
        )


if __name__ == "__main__":
    main()
