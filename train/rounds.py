"""The paper's iterative scheme: generate with the current model, harvest pairs, train, repeat.

Round 0 scores the starting model on the held-out tasks. Each round r = 1..R then

1. runs the loop (generate -> analyze -> patch, tests in the sandbox) over the train tasks with
   the current model (base + the adapter of round r-1), logging every run under the source
   ``rounds:<tag>:r<r>:train``;
2. harvests the pairs of exactly those runs (on-policy data: the current model's own mistakes);
3. trains a DPO adapter starting from the current one (TRL then keeps a frozen copy of it as the
   reference, so each round is anchored to the previous policy);
4. scores the new adapter on the held-out tasks: pass@1 and EFR of the first attempt, and of the
   best iteration after patching.

``rounds.json`` in the output folder is rewritten after every step, so an interrupted run keeps
every finished round; the adapters are ``round-<r>/`` folders loadable with ``--adapter``.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchloop.core.backends.base import Backend
from patchloop.core.log import Log
from patchloop.core.loop import LoopSettings, run_loops
from patchloop.core.types import Run

from .dpo import DPOSettings, train_dpo
from .pairs import harvest, records_dataset
from .tasks import CodeTask, loop_tasks

SUMMARY_NAME = "rounds.json"
BackendFactory = Callable[[str | None], Backend]  # adapter folder (None: the base) -> backend
Report = Callable[[str], None]


@dataclass
class Scores:
    """How a model did on a task set: first attempt (v0) and best iteration after patching."""

    tasks: int = 0
    pass_at_1: float = 0.0  # v0 passes its tests
    efr: float = 0.0  # Error-Free Rate: v0 has code and no finding at or above the threshold
    clean_and_passing: float = 0.0  # v0 both
    pass_at_1_patched: float = 0.0  # the run's best iteration passes its tests
    efr_patched: float = 0.0
    no_code: int = 0  # runs whose first answer had no code block
    analyzer_errors: int = 0  # runs with an analyzer failure (never counted clean)


def score_runs(runs: Sequence[Run]) -> Scores:
    n = len(runs)
    if not n:
        return Scores()

    def share(flags: list[bool]) -> float:
        return sum(flags) / n

    firsts = [r.iterations[0] if r.iterations else None for r in runs]
    bests = [r.best for r in runs]
    first_clean = [bool(it and it.is_clean(r.threshold)) for it, r in zip(firsts, runs)]
    first_pass = [bool(it and it.tests_passed) for it in firsts]
    return Scores(
        tasks=n,
        pass_at_1=share(first_pass),
        efr=share(first_clean),
        clean_and_passing=share([c and p for c, p in zip(first_clean, first_pass)]),
        pass_at_1_patched=share([bool(b and b.tests_passed) for b in bests]),
        efr_patched=share([bool(b and b.is_clean(r.threshold)) for b, r in zip(bests, runs)]),
        no_code=sum(1 for it in firsts if it is None or it.code is None),
        analyzer_errors=sum(1 for r in runs if any(it.analyzer_errors for it in r.iterations)),
    )


@dataclass
class RoundResult:
    round: int
    adapter: str | None  # the model scored in this round: base + this adapter
    scores: Scores
    train_scores: Scores | None = None  # the generation runs on the train tasks (rounds >= 1)
    pairs: int = 0
    train: dict[str, Any] = field(default_factory=dict)  # loss, margin, accuracy, seconds
    note: str = ""


@dataclass
class RoundsConfig:
    train_tasks: Sequence[CodeTask]
    eval_tasks: Sequence[CodeTask]
    out_dir: Path
    model: str = "embedded"
    rounds: int = 3
    loop: LoopSettings = field(default_factory=LoopSettings)
    dpo: DPOSettings = field(default_factory=DPOSettings)
    min_gap: int | None = None
    start_adapter: str | None = None
    test_timeout: float = 10.0
    tag: str = ""  # names this invocation's runs in the log; default: a timestamp


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
    results: list[RoundResult] = []
    adapter = config.start_adapter

    def generate(round_no: int, phase: str, tasks: Sequence[CodeTask], current: str | None) -> list[Run]:
        say(f"round {round_no}: {phase} on {len(tasks)} task(s) with {'base' if not current else current}")
        backend = backend_for(current)
        try:
            return run_loops(loop_tasks(tasks, test_timeout=config.test_timeout), backend, config.loop, log=log,
                             source=f"rounds:{tag}:r{round_no}:{phase}", adapter=current or "")
        finally:
            del backend
            gc.collect()

    scores = score_runs(generate(0, "eval", config.eval_tasks, adapter))
    results.append(RoundResult(0, adapter, scores))
    write_summary(config, tag, results)
    say(f"round 0: {format_scores(scores)}")
    for round_no in range(1, config.rounds + 1):
        runs = generate(round_no, "train", config.train_tasks, adapter)
        found = harvest(log, min_gap=config.min_gap, run_ids=[r.id for r in runs if r.id is not None])
        result = RoundResult(round_no, adapter, Scores(), train_scores=score_runs(runs), pairs=len(found.pairs))
        if not found.pairs:
            result.note = "no pairs: " + ", ".join(f"{k} ({v})" for k, v in found.stats.skipped.items())
            results.append(result)
            write_summary(config, tag, results)
            say(f"round {round_no}: stopped, {result.note}")
            break
        say(f"round {round_no}: training on {len(found.pairs)} pair(s)")
        out = config.out_dir / f"round-{round_no}"
        trained = train_dpo(
            records_dataset([p.to_record() for p in found.pairs]), out, config.dpo, model_spec=config.model,
            init_adapter=adapter, show_progress=show_progress, progress=say,
            data_info={"kind": "db", "path": str(log.path), "run_source": f"rounds:{tag}:r{round_no}:train",
                       "pairs": len(found.pairs), "origins": dict(found.stats.by_origin)},
        )
        gc.collect()
        adapter = str(out)
        result.adapter = adapter
        last = trained.metrics.get("last") or {}
        result.train = {
            "loss": last.get("loss"), "reward_margin": last.get("rewards/margins"),
            "reward_accuracy": last.get("rewards/accuracies"), "seconds": trained.metrics.get("train_seconds"),
            "steps": trained.metrics.get("steps"),
        }
        result.scores = score_runs(generate(round_no, "eval", config.eval_tasks, adapter))
        results.append(result)
        write_summary(config, tag, results)
        say(f"round {round_no}: {format_scores(result.scores)}")
    return results


def format_scores(s: Scores) -> str:
    return (f"pass@1 {s.pass_at_1:.3f} · EFR {s.efr:.3f} · after patching pass@1 {s.pass_at_1_patched:.3f} "
            f"EFR {s.efr_patched:.3f} ({s.tasks} tasks)")


def write_summary(config: RoundsConfig, tag: str, results: Sequence[RoundResult]) -> Path:
    path = config.out_dir / SUMMARY_NAME
    data = {
        "tag": tag,
        "model": config.model,
        "rounds_planned": config.rounds,
        "train_tasks": [t.task_id for t in config.train_tasks],
        "eval_tasks": [t.task_id for t in config.eval_tasks],
        "loop": dataclasses.asdict(config.loop),
        "dpo": dataclasses.asdict(config.dpo),
        "min_gap": config.min_gap,
        "results": [dataclasses.asdict(r) for r in results],
    }
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
