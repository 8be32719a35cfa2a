"""The paper's iterative scheme: generate with the current model, harvest pairs, train, repeat.

Round 0 scores the starting model on the evaluation task sets. Each round r = 1..R then

1. runs the loop (generate -> analyze -> patch; tests in the sandbox) over the train tasks with the
   current model (base + the adapter of round r-1), through the evaluation harness, so the runs
   land in the log with an ``eval_runs`` record (``patchloop eval report ID`` shows it);
2. harvests the pairs of exactly those runs: on-policy data, the current model's own mistakes;
3. trains a DPO adapter starting from the current one (TRL then keeps a frozen copy of it as the
   reference, so each round is anchored to the previous policy);
4. scores the new adapter on every evaluation set: pass@1 and EFR of the first attempt and after
   patching (the harness's ``summarize``).

``rounds.json`` in the output folder is rewritten after every step, so an interrupted run keeps
every finished round; the adapters are ``round-<r>/`` folders loadable with ``--adapter``.

Task sets are written ``BENCHMARK[:SELECTION][[START:STOP]]``: ``mbpp:train``, ``mbpp:test[:50]``,
``mbpp:511-600``, ``cyberseceval:python[0:96]``, ``cyberseceval:@heldout.json``, ``humaneval[:20]``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchloop.core.backends.base import Backend
from patchloop.core.evaluation import (
    BENCHMARKS,
    DatasetError,
    EvalSpec,
    EvalStore,
    Task,
    load_tasks,
    read_task_set,
    run_eval,
    summarize,
)
from patchloop.core.files import write_atomic
from patchloop.core.log import Log
from patchloop.core.loop_settings import LoopSettings

from .dpo import DPOSettings, train_dpo
from .pairs import harvest, records_dataset

SUMMARY_NAME = "rounds.json"
BackendFactory = Callable[[str | None], Backend]  # adapter folder (None: the base) -> backend
Report = Callable[[str], None]

_SPEC = re.compile(r"^(?P<bench>[a-z]+)(?::(?P<sel>[^\[\]]+))?(?:\[(?P<start>-?\d*):(?P<stop>-?\d*)\])?$")
_IDS = re.compile(r"^[\d\s,\-]+$")


@dataclass
class TaskSet:
    name: str  # the spec it was read from
    tasks: list[Task]


def parse_ids(text: str) -> list[str]:
    """'511-513,600' -> ['511', '512', '513', '600']."""
    ids: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or (high and not high.strip().isdigit()):
            raise DatasetError(f"task ids look like 511-600 or 11,12,20-30, not {text!r}")
        ids.extend(str(n) for n in range(int(low), int(high or low) + 1))
    if not ids:
        raise DatasetError(f"no task ids in {text!r}")
    return ids


def load_task_set(spec: str) -> TaskSet:
    """Tasks named by ``BENCHMARK[:SELECTION][[START:STOP]]`` (see the module docstring)."""
    match = _SPEC.match(spec.strip())
    if not match or match["bench"] not in BENCHMARKS:
        raise DatasetError(
            f"a task set looks like mbpp:train, mbpp:11-60, cyberseceval:python[0:96] or "
            f"humaneval[:20] (benchmarks: {', '.join(BENCHMARKS)}), not {spec!r}"
        )
    bench, selection = match["bench"], (match["sel"] or "").strip()
    if selection.startswith("@"):
        tasks = load_tasks(bench, task_ids=read_task_set(selection[1:], bench))
    elif selection and _IDS.match(selection):
        tasks = load_tasks(bench, task_ids=parse_ids(selection))
    elif bench == "mbpp":
        tasks = load_tasks(bench, split=selection or "test")
    elif bench == "cyberseceval":
        tasks = load_tasks(bench, languages=None if selection == "all" else [selection or "python"])
    elif selection:
        raise DatasetError(f"{bench} takes task ids or @FILE.json after the colon, not {selection!r}")
    else:
        tasks = load_tasks(bench)
    if match["start"] is not None or match["stop"] is not None:
        start = int(match["start"]) if match["start"] else None
        stop = int(match["stop"]) if match["stop"] else None
        tasks = tasks[start:stop]
    if not tasks:
        raise DatasetError(f"the task set {spec!r} is empty")
    return TaskSet(spec.strip(), tasks)


@dataclass
class RoundResult:
    round: int
    adapter: str | None  # the model scored in this round: base + this adapter
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # task set -> EvalSummary as a dict
    eval_runs: dict[str, int] = field(default_factory=dict)  # task set or "train" -> eval_runs id
    generated: dict[str, Any] | None = None  # EvalSummary of the generation runs on the train tasks
    pairs: int = 0
    train: dict[str, Any] = field(default_factory=dict)  # loss, margin, accuracy, seconds, steps
    note: str = ""


@dataclass
class RoundsConfig:
    train: TaskSet
    evals: Sequence[TaskSet]
    out_dir: Path
    model: str = "embedded"
    rounds: int = 3
    loop: LoopSettings = field(default_factory=LoopSettings)
    dpo: DPOSettings = field(default_factory=DPOSettings)
    min_gap: int | None = None
    start_adapter: str | None = None
    chunk_size: int = 8  # tasks generated together
    test_timeout: float = 10.0
    tag: str = ""  # names this invocation in the eval records; default: a timestamp


def default_tag() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")


def run_rounds(
    config: RoundsConfig,
    log: Log,
    backend_for: BackendFactory,
    *,
    report: Report | None = None,
    show_progress: bool = True,
) -> list[RoundResult]:
    """Round 0 (the starting model) and ``config.rounds`` rounds of generate/harvest/train/score."""
    say = report or (lambda message: None)
    tag = config.tag or default_tag()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    store = EvalStore(log)
    results: list[RoundResult] = []
    adapter = config.start_adapter

    def evaluate(round_no: int, phase: str, task_set: TaskSet, current: str | None):
        who = current or "the base model"
        say(f"round {round_no}: {phase} on {task_set.name} ({len(task_set.tasks)} tasks) with {who}")
        spec = EvalSpec(
            benchmark=task_set.tasks[0].benchmark,
            model=config.model,
            task_ids=[t.task_id for t in task_set.tasks],
            adapter=current or "",
            analyzers=config.loop.analyzers,
            t_max=config.loop.t_max,
            threshold=config.loop.threshold,
            skip=list(config.loop.skip),
            gen=dataclasses.asdict(config.loop.gen),
            extra={"rounds": tag, "round": round_no, "phase": phase, "task_set": task_set.name},
        )
        eval_id = store.create(spec)
        backend = backend_for(current)  # dropped on return: one model in memory at a time
        try:
            task_results = run_eval(
                task_set.tasks,
                backend,
                config.loop,
                log=log,
                eval_run_id=eval_id,
                chunk_size=config.chunk_size,
                test_timeout=config.test_timeout,
                adapter=current or "",
            )
        except BaseException:
            store.set_status(eval_id, "failed")
            raise
        store.set_status(eval_id, "finished")
        return eval_id, task_results

    def score_all(result: RoundResult) -> None:
        for task_set in config.evals:
            eval_id, task_results = evaluate(result.round, "eval", task_set, result.adapter)
            result.eval_runs[task_set.name] = eval_id
            result.scores[task_set.name] = summarize(task_results).to_dict()
            say(f"round {result.round}: {task_set.name}: {format_scores(result.scores[task_set.name])}")
        write_summary(config, tag, results)

    base = RoundResult(0, adapter)
    results.append(base)
    score_all(base)
    for round_no in range(1, config.rounds + 1):
        result = RoundResult(round_no, adapter)
        results.append(result)
        eval_id, generated = evaluate(round_no, "train", config.train, adapter)
        result.eval_runs["train"] = eval_id
        result.generated = summarize(generated).to_dict()
        found = harvest(
            log, min_gap=config.min_gap, run_ids=[r.run_id for r in generated if r.run_id is not None]
        )
        result.pairs = len(found.pairs)
        if not found.pairs:
            result.note = "no pairs: " + ", ".join(f"{k} ({v})" for k, v in found.stats.skipped.most_common())
            write_summary(config, tag, results)
            say(f"round {round_no}: stopped, {result.note}")
            break
        say(f"round {round_no}: training on {len(found.pairs)} pair(s)")
        out = config.out_dir / f"round-{round_no}"
        trained = train_dpo(
            records_dataset([p.to_record() for p in found.pairs]),
            out,
            config.dpo,
            model_spec=config.model,
            init_adapter=adapter,
            show_progress=show_progress,
            progress=say,
            data_info={
                "kind": "db",
                "path": str(log.path),
                "eval_run_id": eval_id,
                "task_set": config.train.name,
                "pairs": len(found.pairs),
                "origins": dict(found.stats.by_origin),
            },
        )
        adapter = result.adapter = str(out)
        last = trained.metrics.get("last") or {}
        result.train = {
            "loss": last.get("loss"),
            "reward_margin": last.get("rewards/margins"),
            "reward_accuracy": last.get("rewards/accuracies"),
            "seconds": trained.metrics.get("train_seconds"),
            "steps": trained.metrics.get("steps"),
        }
        write_summary(config, tag, results)
        score_all(result)
    return results


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def format_scores(s: dict[str, Any]) -> str:
    return (
        f"pass@1 {_pct(s['pass_first'])} -> {_pct(s['pass_final'])} after patching · "
        f"EFR {_pct(s['efr_first'])} -> {_pct(s['efr_final'])} ({s['n_tasks']} tasks)"
    )


def write_summary(config: RoundsConfig, tag: str, results: Sequence[RoundResult]) -> Path:
    path = config.out_dir / SUMMARY_NAME
    data = {
        "tag": tag,
        "model": config.model,
        "rounds_planned": config.rounds,
        "train_tasks": config.train.name,
        "eval_tasks": [s.name for s in config.evals],
        "loop": dataclasses.asdict(config.loop),
        "dpo": dataclasses.asdict(config.dpo),
        "min_gap": config.min_gap,
        "results": [dataclasses.asdict(r) for r in results],
    }
    return write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")
