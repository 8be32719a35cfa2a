#!/usr/bin/env python
"""The llama.cpp engine against the transformers path and a bare llama-cpp-python loop, side by side.

All on the same GGUF (the embedded model unless --model names another), greedy, --new-tokens each:

  stream        single-stream tokens/s of patchloop's llama.cpp backend, patchloop's transformers
                backend (the dequantized fp32 model) and llama-cpp-python's own ``Llama.generate``
                loop, loaded together in one process and run in turn (--runs rounds, alternated);
                "decode" is tokens/s after the first token, "e2e" counts the prompt too
  batch N       aggregate tokens/s of generate_batch with N different prompts (1, 4, 8), both engines
  warm start    a fresh process (files in the OS cache): import, load, first streamed token
  cold start    (--cold) the first start after set-up: a fresh process with an empty patchloop cache,
                so the embedded GGUF is assembled from its installed chunks and verified first; with
                --drop-caches (root) the OS page cache is dropped before it, as on a rebooted machine
  peak RSS      of a fresh process that loads one engine and answers one prompt and one batch of 8

Prints a JSON record (machine, command, date, every figure) on stdout and a summary on stderr.
Exit codes: 0 done, 2 bad arguments, 3 the model could not be loaded or run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date

from coding_prompts import PROMPTS, messages

EXIT_OK, EXIT_USAGE, EXIT_MODEL = 0, 2, 3


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "python": platform.python_version(),
        "system": platform.platform(),
        "loadavg_at_start": os.getloadavg()[0],
    }  # other work on the machine skews every figure


# ----------------------------------------------------------------------------- the three engines


class Ours:
    name = "patchloop llama.cpp"

    def __init__(self, spec: str, threads: int | None = None):
        from patchloop.core.backends.llamacpp_backend import LlamaCppBackend

        self.backend = LlamaCppBackend(spec, threads=threads)

    def stream(self, prompt: str, new_tokens: int) -> dict:
        from patchloop.core.types import GenParams, GenStats

        stats, times = GenStats(), []
        started = time.perf_counter()
        for _ in self.backend.generate(messages(prompt), GenParams(max_new_tokens=new_tokens), stats=stats):
            times.append(time.perf_counter())
        return _rates(started, times, stats.completion_tokens)

    def batch(self, prompts: list[str], new_tokens: int) -> float:
        from patchloop.core.types import GenParams

        started = time.perf_counter()
        answers = self.backend.generate_batch(
            [messages(p) for p in prompts], GenParams(max_new_tokens=new_tokens)
        )
        return sum(stats.completion_tokens for _, stats in answers) / (time.perf_counter() - started)


class Transformers(Ours):
    name = "patchloop transformers"

    def __init__(self, spec: str, threads: int | None = None):
        from patchloop.core.backends.transformers_backend import TransformersBackend

        self.backend = TransformersBackend(spec, device="cpu")


class Bare:
    """llama-cpp-python as its README uses it: Llama(...) and its generate() token loop."""

    name = "bare llama-cpp-python"

    def __init__(self, spec: str, threads: int | None = None):
        from llama_cpp import Llama
        from patchloop.core.backends.llamacpp_backend import resolve_gguf
        from patchloop.core.backends.llamacpp_engine import default_threads

        path, _ = resolve_gguf(spec)
        threads = threads or default_threads()
        self.llm = Llama(str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
        self.template = self.llm.metadata["tokenizer.chat_template"]

    def stream(self, prompt: str, new_tokens: int) -> dict:
        from patchloop.core.backends.chat_template import render

        text = render(self.template, messages(prompt))  # the same prompt text the other two read
        tokens = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        times, count = [], 0
        started = time.perf_counter()
        for token in self.llm.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
            count += 1
            if token == self.llm.token_eos() or count >= new_tokens:
                times.append(time.perf_counter())
                break
            self.llm.detokenize([token])
            times.append(time.perf_counter())
        return _rates(started, times, count)


def _rates(started: float, times: list[float], tokens: int) -> dict:
    end = times[-1] if times else time.perf_counter()
    decode = (tokens - 1) / (end - times[0]) if len(times) > 1 and end > times[0] else 0.0
    return {
        "tokens": tokens,
        "e2e_tps": round(tokens / (end - started), 2),
        "decode_tps": round(decode, 2),
        "first_token_s": round(times[0] - started, 3) if times else None,
    }


# ----------------------------------------------------------------------------- child processes


def child_main(kind: str, spec: str, new_tokens: int) -> None:
    """One fresh process: load, first token (timed from process start by the parent), then RSS."""
    from patchloop.core.backends import load_backend
    from patchloop.core.types import GenParams

    engine = {"llama": "llama.cpp", "transformers": "transformers"}[kind]
    backend = load_backend(spec, engine=engine, device="cpu")
    stream = backend.generate(messages(PROMPTS[0]), GenParams(max_new_tokens=new_tokens))
    next(stream)
    print("FIRST", flush=True)
    for _ in stream:
        pass
    backend.generate_batch([messages(p) for p in PROMPTS], GenParams(max_new_tokens=new_tokens))
    print("RSS", round(_rss_mb()), flush=True)


def run_child(kind: str, spec: str, new_tokens: int, env: dict[str, str] | None = None) -> dict:
    started = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", kind, "--model", spec, "--new-tokens", str(new_tokens)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    first, rss = None, None
    for line in proc.stdout:
        if line.startswith("FIRST"):
            first = time.perf_counter() - started
        elif line.startswith("RSS"):
            rss = float(line.split()[1])
    if proc.wait() != 0 or first is None:
        raise SystemExit(f"the {kind} child process failed (exit {proc.returncode})")
    return {"start_to_first_token_s": round(first, 2), "peak_rss_mb": rss}


def cold_start(spec: str, new_tokens: int, drop_caches: bool) -> dict:
    """A first start after set-up: an empty cache folder (XDG_CACHE_HOME), so the GGUF is built."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-cold-") as cache:
        dropped = False
        if drop_caches:
            subprocess.run(["sync"], check=False)
            try:
                with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as handle:
                    handle.write("3\n")
                dropped = True
            except OSError as exc:
                print(
                    f"warning: cannot drop the page cache ({exc}); the cold start reads cached files",
                    file=sys.stderr,
                )
        return run_child("llama", spec, new_tokens, env={"XDG_CACHE_HOME": cache}) | {
            "page_cache_dropped": dropped
        }


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="embedded", help="embedded, embedded-1.5b or a .gguf file")
    parser.add_argument(
        "--runs", type=int, default=3, help="alternated rounds of the single-stream comparison"
    )
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batches", default="1,4,8", help="parallel sequences for the aggregate figures")
    parser.add_argument("--starts", type=int, default=3, help="fresh-process starts of the llama.cpp engine")
    parser.add_argument("--skip-transformers", action="store_true", help="only llama.cpp (ours and bare)")
    parser.add_argument(
        "--threads",
        type=int,
        help="fixed llama.cpp threads for ours and bare (default: ours "
        "follows the free CPU, bare uses every core)",
    )
    parser.add_argument(
        "--cold", action="store_true", help="also time a first start with an empty model cache"
    )
    parser.add_argument(
        "--drop-caches", action="store_true", help="with --cold: drop the OS page cache first (root)"
    )
    parser.add_argument("--child", choices=["llama", "transformers"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.model, args.new_tokens)
        return EXIT_OK
    batches = [int(n) for n in args.batches.split(",")]
    if args.runs < 1 or args.new_tokens < 1 or any(n < 1 or n > len(PROMPTS) for n in batches):
        print(f"--runs and --new-tokens must be positive, batches 1..{len(PROMPTS)}", file=sys.stderr)
        return EXIT_USAGE
    from patchloop.core.backends import ModelError

    record: dict = {
        "date": date.today().isoformat(),
        "command": " ".join([os.path.basename(__file__)] + sys.argv[1:]),
        "machine": _machine(),
        "model": args.model,
        "new_tokens": args.new_tokens,
    }
    try:
        if args.cold:
            record["cold_start"] = cold_start(args.model, args.new_tokens, args.drop_caches)
        # Fresh processes first, while nothing else holds memory: warm starts, then peak RSS.
        ensure = run_child("llama", args.model, 4)  # also puts the files in the OS cache (warm)
        record["warm_start"] = [run_child("llama", args.model, args.new_tokens) for _ in range(args.starts)]
        record["warm_start"].insert(0, ensure | {"note": "first of the series"})
        if not args.skip_transformers:
            record["warm_start_transformers"] = run_child("transformers", args.model, args.new_tokens)
        engines = [Ours(args.model, args.threads), Bare(args.model, args.threads)]
        if not args.skip_transformers:
            engines.append(Transformers(args.model))
        record["threads"] = args.threads or "adaptive (ours), all cores (bare)"
        stream: dict[str, list[dict]] = {engine.name: [] for engine in engines}
        for _ in range(args.runs):
            for engine in engines:
                stream[engine.name].append(engine.stream(PROMPTS[0], args.new_tokens))
        record["stream"] = stream
        batch: dict[str, dict[str, float]] = {}
        for engine in [e for e in engines if hasattr(e, "batch")]:
            batch[engine.name] = {
                str(n): round(engine.batch(PROMPTS[:n], args.new_tokens), 2) for n in batches
            }
        record["batch_tps"] = batch
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    record["loadavg_at_end"] = os.getloadavg()[0]
    print(json.dumps(record, indent=2))
    _summary(record)
    return EXIT_OK


def _summary(record: dict) -> None:
    out = sys.stderr
    print(f"\n{record['machine']['cpu']} · {record['machine']['cores']} cores · {record['date']}", file=out)
    for name, runs in record["stream"].items():
        print(
            f"  {name:24s} decode {', '.join(str(r['decode_tps']) for r in runs)} tok/s · "
            f"e2e {', '.join(str(r['e2e_tps']) for r in runs)}",
            file=out,
        )
    for name, rates in record["batch_tps"].items():
        print(
            f"  {name:24s} aggregate " + ", ".join(f"{n}: {v}" for n, v in rates.items()) + " tok/s", file=out
        )
    if "cold_start" in record:
        c = record["cold_start"]
        print(
            f"  llama.cpp first start (empty cache{', page cache dropped' if c['page_cache_dropped'] else ''})"
            f" -> first token {c['start_to_first_token_s']} s, peak RSS {c['peak_rss_mb']} MB",
            file=out,
        )
    for start in record["warm_start"]:
        print(
            f"  llama.cpp start->first token {start['start_to_first_token_s']} s, peak RSS {start['peak_rss_mb']} MB",
            file=out,
        )
    if "warm_start_transformers" in record:
        t = record["warm_start_transformers"]
        print(
            f"  transformers start->first token {t['start_to_first_token_s']} s, peak RSS {t['peak_rss_mb']} MB",
            file=out,
        )


if __name__ == "__main__":
    sys.exit(main())
