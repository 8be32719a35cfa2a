#!/usr/bin/env python
"""Speed of the embedded model in the transformers backend.

Measures, on this machine:
  cold load    no cache: assemble the GGUF from its packages, verify, convert, save, load
  warm load    from the converted cache
  stream       one greedy answer streamed token by token (--max-new-tokens, default 128)
  batch N      aggregate tokens/s of generate_batch with N prompts per forward pass

The cold load uses a fresh temporary cache folder (removed afterwards) unless --cache-dir
names one; --skip-cold measures the user's own cache instead.

Exit codes: 0 done, 2 bad arguments, 3 the model could not be loaded or run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from coding_prompts import PROMPTS, messages

PROMPT = PROMPTS[0]
BATCH_PROMPTS = PROMPTS

EXIT_OK, EXIT_USAGE, EXIT_MODEL = 0, 2, 3


def _load(spec: str, cache_dir: Path | None) -> tuple[object, dict]:
    """Load a backend; return it and how long loading took (and when each progress stage began)."""
    from patchloop.core.backends.transformers_backend import TransformersBackend

    stages: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), time.process_time()

    def progress(stage: str) -> None:
        stages[stage] = round(time.perf_counter() - started, 2)
        print(f"  [{stages[stage]:6.1f}s] {stage}", file=sys.stderr)

    backend = TransformersBackend(spec, device="cpu", progress=progress, cache_dir=cache_dir)
    seconds = time.perf_counter() - started
    cpu_share = _cpu_share(time.process_time() - cpu_started, seconds)
    return backend, {"seconds": round(seconds, 2), "cpu_share": cpu_share, "stage_started_at": stages}


def _cpu_share(cpu_seconds: float, wall_seconds: float) -> float:
    """Share of the machine's cores this process got: well below 1.0 means other work competed."""
    return round(cpu_seconds / max(wall_seconds, 1e-9) / (os.cpu_count() or 1), 2)


def _stream(backend, max_new_tokens: int) -> dict[str, float]:
    from patchloop.core.types import GenParams, GenStats

    stats = GenStats()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in backend.generate(messages(PROMPT), GenParams(max_new_tokens=max_new_tokens), stats=stats):
        pass
    seconds = time.perf_counter() - started
    first = stats.first_token_seconds or 0.0
    return {
        "cpu_share": _cpu_share(time.process_time() - cpu_started, seconds),
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "seconds": round(seconds, 2),
        "first_token_seconds": round(first, 3),
        "tokens_per_second": round(stats.completion_tokens / seconds, 2),
        # After the first token: the steady decoding rate, without reading the prompt.
        "decode_tokens_per_second": round((stats.completion_tokens - 1) / max(seconds - first, 1e-9), 2),
    }


def _batch(backend, size: int, max_new_tokens: int) -> dict[str, float]:
    from patchloop.core.types import GenParams

    prompts = [messages(BATCH_PROMPTS[i % len(BATCH_PROMPTS)]) for i in range(size)]
    started, cpu_started = time.perf_counter(), time.process_time()
    answers = backend.generate_batch(prompts, GenParams(max_new_tokens=max_new_tokens), batch_size=size)
    seconds = time.perf_counter() - started
    tokens = sum(stats.completion_tokens for _, stats in answers)
    return {
        "cpu_share": _cpu_share(time.process_time() - cpu_started, seconds),
        "batch_size": size,
        "completion_tokens": tokens,
        "seconds": round(seconds, 2),
        "aggregate_tokens_per_second": round(tokens / seconds, 2),
    }


def run(args: argparse.Namespace) -> dict:
    import torch
    import transformers

    report: dict = {
        "model": args.model,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "max_new_tokens": args.max_new_tokens,
        # Other work on the machine slows every figure; the load average and each step's
        # cpu_share (near 1.0 on an idle machine) show how much.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    cache_dir: Path | None = None  # None: the user's cache
    temp_cache: Path | None = None  # ours to remove afterwards
    if not args.skip_cold:
        cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="patchloop-bench-cache-"))
        temp_cache = None if args.cache_dir else cache_dir
    try:
        if not args.skip_cold:
            print(f"cold load (cache: {cache_dir})", file=sys.stderr)
            backend, report["cold_load"] = _load(args.model, cache_dir)
            del backend
            gc.collect()
        print("warm load", file=sys.stderr)
        backend, report["warm_load"] = _load(args.model, cache_dir)
        report["info"] = vars(backend.info)
        # One short answer first so one-time setup (allocations, kernels) is not in the figures.
        _stream(backend, 4)
        print(f"stream ({args.max_new_tokens} new tokens)", file=sys.stderr)
        report["stream"] = _stream(backend, args.max_new_tokens)
        report["batches"] = []
        for size in args.batch_sizes:
            print(f"batch {size}", file=sys.stderr)
            report["batches"].append(_batch(backend, size, args.max_new_tokens))
    finally:
        if temp_cache is not None:
            shutil.rmtree(temp_cache, ignore_errors=True)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def _print_table(report: dict) -> None:
    print(f"load average at start {report['load_average_at_start']}, at end {report['load_average_at_end']}")
    if "cold_load" in report:
        print(
            f"cold load (assemble + verify + convert + save + load): {report['cold_load']['seconds']:.1f} s"
        )
    print(f"warm load (cached weights):                            {report['warm_load']['seconds']:.1f} s")
    s = report["stream"]
    print(
        f"stream, greedy, {s['completion_tokens']} tokens: {s['tokens_per_second']:.2f} tok/s overall, "
        f"{s['decode_tokens_per_second']:.2f} tok/s after the first token "
        f"(first token {s['first_token_seconds']:.2f} s, prompt {s['prompt_tokens']} tokens)"
    )
    for b in report["batches"]:
        print(
            f"batch {b['batch_size']:2d}: {b['aggregate_tokens_per_second']:6.2f} tok/s aggregate "
            f"({b['completion_tokens']} tokens in {b['seconds']:.1f} s)"
        )


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("batch sizes must be positive integers")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded", help="model spec (default: embedded)")
    parser.add_argument("--cache-dir", type=Path, help="cache folder for the cold load (kept afterwards)")
    parser.add_argument("--skip-cold", action="store_true", help="only measure loading from the user's cache")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="new tokens per answer (default 128)")
    parser.add_argument("--batch-sizes", type=_batch_sizes, default=[1, 4, 8], help="default 1,4,8")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.max_new_tokens < 2:
        parser.error("--max-new-tokens must be at least 2")

    from patchloop.core.backends import ModelError

    try:
        report = run(args)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
