#!/usr/bin/env python
"""HumanEval first attempts on the llama.cpp engine with and without the answer start, side by side.

The first --tasks HumanEval prompts as the loop asks them (system prompt and task), greedy, through
``generate_batch`` on one engine:

  restated   the model answers from scratch and restates the signature and docstring
  continued  the request ends with the answer's start (the task's own code), which the engine reads
             as prompt in one batched pass; the model writes the body
  stopped    continued, and each answer ends where the model starts demonstrating its function
             (prompts.answer_stops: a top-level print, assert, main guard or test comment)

Generation only (no analysis, no tests). The modes alternate over --rounds, each from an empty cache,
so load on a shared machine hits both alike. Prints a JSON record (machine, command, date, figures)
on stdout and a summary on stderr. Exit codes: 0 done, 2 bad arguments, 3 the model could not be
loaded or run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date

EXIT_OK, EXIT_USAGE, EXIT_MODEL = 0, 2, 3
MODES = ("restated", "continued", "stopped")


def conversations(limit: int, mode: str) -> list[list[dict]]:
    from patchloop.core.backends.base import with_answer_start
    from patchloop.core.evaluation import load_tasks
    from patchloop.core.feedback import first_messages

    tasks = load_tasks("humaneval", limit=limit)
    if mode in ("continued", "stopped"):
        return [with_answer_start(first_messages(task.prompt), task.answer_start) for task in tasks]
    return [first_messages(task.prompt) for task in tasks]


def measure(backend, limit: int, mode: str, max_new: int) -> dict:
    from patchloop.core.backends.base import generate_each
    from patchloop.core.evaluation.prompts import answer_stops
    from patchloop.core.types import GenParams

    backend.engine._reset_cache()  # each mode starts from an empty cache
    asked = conversations(limit, mode)
    stop = answer_stops("humaneval") if mode == "stopped" else ()
    started = time.perf_counter()
    answers = generate_each(
        backend, asked, GenParams(max_new_tokens=max_new, stop=stop), None, lambda i, a: None
    )
    seconds = time.perf_counter() - started
    completion = sum(stats.completion_tokens for _, stats in answers)
    prompt = sum(stats.prompt_tokens for _, stats in answers)
    return {
        "mode": mode,
        "seconds": round(seconds, 2),
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "answer_chars": sum(len(text) for text, _ in answers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated; ratios are to the first (default: all)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if args.tasks < 1 or args.rounds < 1 or not modes or set(modes) - set(MODES):
        print(
            f"error: --tasks and --rounds must be at least 1, --modes from {', '.join(MODES)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from patchloop.core.backends.base import ModelError
    from patchloop.core.backends.llamacpp_backend import LlamaCppBackend

    try:
        backend = LlamaCppBackend(args.model)
        rows = []
        for round_ in range(args.rounds):
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                row = measure(backend, args.tasks, mode, args.max_new_tokens)
                rows.append(row)
                print(
                    f"{mode:>10}: {row['seconds']:7.1f} s, {row['completion_tokens']} completion tokens, "
                    f"{row['prompt_tokens']} prompt tokens (load {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                )
        backend.close()
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    seconds = {mode: sum(r["seconds"] for r in rows if r["mode"] == mode) for mode in modes}
    ratios = {f"{mode}_to_{modes[0]}": round(seconds[mode] / seconds[modes[0]], 3) for mode in modes[1:]}
    for name, ratio in ratios.items():
        print(f"time ratio {name.replace('_to_', ' / ')}: {ratio:.2f}", file=sys.stderr)
    record = {
        "benchmark": "answer_start",
        "command": " ".join(["python", "benchmarks/bench_answer_start.py", *(argv or sys.argv[1:])]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version()},
        "rows": rows,
        "time_ratios": ratios,
    }
    print(json.dumps(record, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
