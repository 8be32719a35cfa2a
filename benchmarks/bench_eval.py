"""HumanEval throughput of the whole evaluation path: tasks per minute on this machine.

    python benchmarks/bench_eval.py --limit 8                   # the embedded model, loop on (t_max 3)
    python benchmarks/bench_eval.py --limit 40 --canonical      # scoring path only: analyzers + sandbox
    python benchmarks/bench_eval.py --limit 8 --t-max 0 --json  # first attempts only

One task = the full loop for one HumanEval prompt: batched generation of every iteration level,
the analyzer suite on each answer, the task's tests in the sandbox. ``--canonical`` answers with
the reference solutions, so the figure is the harness's own cost (analysis + sandbox) without
a model. The model's load time is reported apart and not counted in the rate. Nothing is written
to the user's log: the runs go to a temporary database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from patchloop.core.evaluation import ReferenceBackend, load_tasks, run_eval, summarize
from patchloop.core.log import Log
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.sandbox import sandbox_info
from patchloop.core.types import GenParams


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=8, help="first N HumanEval tasks (default 8)")
    parser.add_argument("--model", default="embedded", help="model spec (default: embedded)")
    parser.add_argument("--canonical", action="store_true", help="reference solutions instead of a model")
    parser.add_argument(
        "--t-max", type=int, default=3, help="patch iterations (default 3; 0 with --canonical)"
    )
    parser.add_argument("--analyzers", default="all", choices=["defects", "security", "all", "fast"])
    parser.add_argument(
        "--batch-size", type=int, default=None, help="tasks generated together (default: all)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--no-tests", action="store_true", help="skip the sandboxed tests")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    tasks = load_tasks("humaneval", limit=args.limit)
    load_seconds = 0.0
    if args.canonical:
        backend = ReferenceBackend(tasks, "humaneval")
        t_max = 0
    else:
        from patchloop.core.backends import load_backend

        started = time.monotonic()
        backend = load_backend(args.model, device="cpu" if not _cuda() else "auto", load_in_4bit=False)
        load_seconds = time.monotonic() - started
        t_max = args.t_max
    if args.batch_size and hasattr(backend, "batch_size"):
        backend.batch_size = args.batch_size
    settings = LoopSettings(
        t_max=t_max, analyzers=args.analyzers, gen=GenParams(max_new_tokens=args.max_new_tokens)
    )
    mode = "none" if args.no_tests else sandbox_info().mode
    with tempfile.TemporaryDirectory() as folder:
        log = Log(Path(folder) / "bench.db")
        started = time.monotonic()
        results = run_eval(
            tasks,
            backend,
            settings,
            log=log,
            chunk_size=args.batch_size or len(tasks),
            tests=not args.no_tests,
        )
        seconds = time.monotonic() - started
        tokens = sum(
            row["t"] or 0 for row in log.db.query("SELECT SUM(completion_tokens) AS t FROM iterations")
        )
        iterations = log.db["iterations"].count
        log.close()
    summary = summarize(results)
    figures = {
        "subject": "reference solutions" if args.canonical else backend.info.model,
        "device": getattr(backend.info, "device", "cpu"),
        "tasks": len(results),
        "iterations": iterations,
        "t_max": t_max,
        "analyzers": args.analyzers,
        "sandbox": mode,
        "seconds": round(seconds, 1),
        "tasks_per_minute": round(60 * len(results) / seconds, 2) if seconds else None,
        "completion_tokens": tokens,
        "model_load_seconds": round(load_seconds, 1),
        "pass_first": summary.pass_first,
        "pass_final": summary.pass_final,
        "efr_first": summary.efr_first,
        "efr_final": summary.efr_final,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"HumanEval, {figures['tasks']} tasks, {figures['subject']} on {figures['device']}, t_max {t_max}, "
        f"analyzers {args.analyzers}, sandbox {mode}, {figures['cpus']} CPUs"
    )
    print(
        f"  {figures['tasks_per_minute']} tasks/min ({seconds:.1f} s, {iterations} iterations, "
        f"{tokens} completion tokens; model load {load_seconds:.1f} s not counted)"
    )
    print(
        f"  pass@1 {summary.pass_first} -> {summary.pass_final} · EFR {summary.efr_first} -> {summary.efr_final}"
    )


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    main()
