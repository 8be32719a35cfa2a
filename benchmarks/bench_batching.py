#!/usr/bin/env python
"""Waves against continuous batching on the llama.cpp engine, side by side on the same answers.

The first --tasks HumanEval prompts, as the loop asks them (system prompt and task), greedy,
--max-new-tokens each, on one engine loaded with --slots parallel sequences:

  waves S       groups of S prompts, one ``LlamaEngine.run`` per group: a group waits for its
                longest answer before the next starts (how generate_batch worked before)
  continuous S  one ``run`` over all prompts with S slots: a slot that ends takes the next prompt
  lookup S      continuous, and each answer also feeds prompt-lookup guesses (the engine's default)

Modes alternate over --rounds so load on a shared machine hits each alike. Prints a JSON record
(machine, command, date, figures) on stdout and a summary on stderr.
Exit codes: 0 done, 2 bad arguments, 3 the model could not be loaded or run.
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
LOOKUP = 16  # the engine's default


def _jobs(backend, conversations, max_new: int):
    from patchloop.core.backends.llamacpp_batch import Job

    return [Job(backend._prompt_tokens(m), max_new) for m in conversations]


def measure(backend, conversations, max_new: int, mode: str, size: int) -> dict:
    engine = backend.engine
    engine._reset_cache()  # every mode starts from an empty cache: no prefix left by the one before
    engine.lookup = LOOKUP if mode == "lookup" else 0
    jobs = _jobs(backend, conversations, max_new)
    decodes = 0
    real = engine._decode

    def counted(entries, cancel):
        nonlocal decodes
        decodes += 1
        return real(entries, cancel)

    engine._decode = counted
    started = time.perf_counter()
    if mode == "waves":
        for start in range(0, len(jobs), size):
            for _ in engine.run(jobs[start : start + size], max_live=size):
                pass
    else:
        for _ in engine.run(jobs, max_live=size):
            pass
    seconds = time.perf_counter() - started
    engine._decode = real
    tokens = sum(job.completion_tokens for job in jobs)
    return {
        "mode": mode,
        "slots": size,
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "decodes": decodes,
        "tokens_per_s": round(tokens / seconds, 1),
        "texts": [job.text for job in jobs],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--slots", default="8", help="comma-separated slot counts, e.g. 8,16")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--modes", default="waves,continuous,lookup", help="comma-separated, in the order run"
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.slots.split(",")]
    except ValueError:
        print("error: --slots takes comma-separated integers", file=sys.stderr)
        return EXIT_USAGE
    from patchloop.core.backends.base import ModelError
    from patchloop.core.backends.llamacpp_backend import LlamaCppBackend
    from patchloop.core.evaluation import load_tasks
    from patchloop.core.feedback import first_messages

    conversations = [first_messages(t.prompt) for t in load_tasks("humaneval")[: args.tasks]]
    try:
        backend = LlamaCppBackend(args.model, batch_size=max(sizes), n_ctx=max(16384, 1024 * max(sizes)))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    rows = []
    for _ in range(args.rounds):
        for size in sizes:
            for mode in args.modes.split(","):
                row = measure(backend, conversations, args.max_new_tokens, mode, size)
                rows.append(row)
                print(
                    f"{mode:>10} {size:>2} slots: {row['tokens']} tokens, {row['decodes']} decodes, {row['seconds']} s = "
                    f"{row['tokens_per_s']} tok/s (load {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                )
    # Batch composition can flip a near-tie in llama.cpp's float sums, so answers may differ by a token.
    reference = rows[0]["texts"]
    for row in rows:
        row["answers_as_first_row"] = sum(a == b for a, b in zip(row.pop("texts"), reference))
    record = {
        "benchmark": "bench_batching",
        "date": date.today().isoformat(),
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "command": " ".join(["bench_batching.py", *(argv or sys.argv[1:])]),
        "tasks": args.tasks,
        "max_new_tokens": args.max_new_tokens,
        "rows": rows,
    }
    print(json.dumps(record, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
