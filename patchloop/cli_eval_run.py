"""What the `patchloop eval` benchmark commands share: planning the subjects (every model x adapter x
suite, or the stored ones of a resumed evaluation), checking the analyzers and the sandbox first,
running each subject's evaluation with its progress bar, and writing the report.

Exit codes as in patchloop.cli_eval's docstring; the commands themselves are in cli_eval.py.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from patchloop import cli_common as common
from patchloop.progress import TaskProgress

if TYPE_CHECKING:
    from patchloop.core.evaluation import EvalReport, EvalSpec

# -- building what an evaluation needs ---------------------------------------------------------


@dataclasses.dataclass
class Subject:
    """One row of the comparison: a model (or the reference solutions), an adapter, a suite."""

    model: str
    adapter: str
    analyzers: str
    resume_id: int | None = None


def _load_tasks(benchmark: str, task_ids, limit, extra: dict[str, Any]):
    from patchloop.core.evaluation import DatasetError, load_tasks

    try:
        tasks = load_tasks(
            benchmark,
            task_ids=task_ids,
            limit=limit,
            languages=extra.get("languages", ("python",)),
            split=extra.get("split", "test"),
        )
    except DatasetError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if extra.get("answer_start", True):
        return tasks
    # --no-answer-start: the model writes the whole function, as instruct evaluations ask.
    return [dataclasses.replace(task, answer_start="") for task in tasks]


def _stops(benchmark: str, extra: dict[str, Any]) -> tuple[str, ...]:
    """Where the benchmark's answers end (--no-stops: where the model ends them)."""
    from patchloop.core.evaluation.prompts import answer_stops

    return answer_stops(benchmark) if extra.get("answer_stops", True) else ()


def _check_analyzers(suites: set[str], languages: set[str]) -> None:
    """Stop before any model loads when a tool the tasks' languages need is missing."""
    from patchloop.core.analyzers import ANALYZERS, SUITES, available_analyzers

    found = available_analyzers()
    needed = {
        name for suite in suites for name in SUITES[suite] if set(ANALYZERS[name]().languages) & languages
    }
    missing = sorted(name for name in needed if not found.get(name))
    if missing:
        common.fail(
            f"analyzer(s) missing: {', '.join(missing)}; every task would end in an analyzer error "
            "(run `patchloop doctor`)",
            common.EXIT_ANALYZER,
        )


def _check_sandbox() -> None:
    from patchloop.core.sandbox import SandboxError, sandbox_info

    try:
        info = sandbox_info()
    except SandboxError as exc:
        common.fail(f"{exc}; or pass --no-tests to skip the tests (no pass@1)", common.EXIT_USAGE)
    if info.warning:
        common.err.print(f"[yellow]warning:[/] {info.warning}")


def _backend_for(config, subject: Subject, tasks, benchmark: str, batch_size, concurrency, quiet: bool):
    if subject.model.startswith("reference:"):
        from patchloop.core.evaluation import ReferenceBackend

        return ReferenceBackend(tasks, benchmark)
    backend = common.load_model(config, quiet)
    # Only backends that have these knobs get them (transformers: batch_size; openai: concurrency); the
    # Backend protocol names neither, hence setattr.
    if batch_size and hasattr(backend, "batch_size"):
        setattr(backend, "batch_size", batch_size)  # noqa: B010
    if concurrency and hasattr(backend, "concurrency"):
        setattr(backend, "concurrency", concurrency)  # noqa: B010
    return backend


def _subject_config(root, subject: Subject, opts: dict[str, Any]):
    """The config for one subject: the file's settings, the command's flags, the subject's own."""
    config = copy.deepcopy(root)
    overrides = {k: v for k, v in opts.items() if k not in ("model", "adapter", "analyzers")}
    model = None if subject.model.startswith("reference:") else subject.model
    config = common.apply_cli(config, model=model, analyzers=subject.analyzers, **overrides)
    config.model.adapter = subject.adapter  # "" is the bare model, even when the config names an adapter
    return config


def write_outputs(reports, out_path: Path | None, as_json: bool) -> None:
    from patchloop.core.evaluation import render_json, render_markdown

    markdown, data = render_markdown(reports), render_json(reports)
    # The report goes to stdout first: a file that cannot be written loses nothing.
    click.echo(data if as_json else markdown)
    if out_path is not None:
        json_path = (
            out_path.with_suffix(".json")
            if out_path.suffix != ".json"
            else out_path.with_suffix(".tasks.json")
        )
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(markdown, encoding="utf-8")
            json_path.write_text(data + "\n", encoding="utf-8")
        except OSError as exc:
            ids = " ".join(str(r.eval_run_id) for r in reports if r.eval_run_id is not None)
            common.fail(
                f"cannot write the report to {exc.filename or out_path}: {exc.strerror or exc}; the results "
                f"are stored in the log (`patchloop eval report {ids} --out FILE` writes them again)",
                common.EXIT_USAGE,
            )
        common.err.print(f"report: {out_path} · per-task JSON: {json_path}")


def eval_report(eval_id: int, spec: EvalSpec, results: list, status: str) -> EvalReport:
    """The report of one stored evaluation: its spec's settings, its task results, its status."""
    from patchloop.core.evaluation import EvalReport
    from patchloop.core.evaluation.report import repair_label

    return EvalReport(
        eval_run_id=eval_id,
        benchmark=spec.benchmark,
        model=spec.model,
        adapter=spec.adapter,
        analyzers=spec.analyzers,
        t_max=spec.t_max,
        threshold=spec.threshold,
        results=results,
        status=status,
        n_planned=len(spec.task_ids),
        repair=repair_label(spec.repair),
    )


# The repair settings an evaluation stored before they existed ran with: the paper's plain loop.
_PLAIN_LOOP = {"autofix": False, "feedback": "chat", "candidates": 0}
_REPAIR_FIELDS = (
    "autofix",
    "feedback",
    "candidates",
    "candidate_min_temperature",
    "candidate_max_temperature",
)


def _repair_of(settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in _REPAIR_FIELDS}


def run_benchmark(
    ctx: click.Context, benchmark: str, extra: dict[str, Any], opts: dict[str, Any], *, select: bool = False
) -> list:
    """Shared body of the benchmark commands: plan the subjects, run each, report."""
    from patchloop.core.evaluation import (
        DatasetError,
        EvalAborted,
        EvalSpec,
        EvalStore,
        parse_task_spec,
        run_eval,
    )
    from patchloop.core.log import LogError
    from patchloop.core.loop_events import IterationStarted
    from patchloop.core.types import GenParams

    root = common.get_config(ctx)
    models, adapters, suites = opts.pop("model"), opts.pop("adapter"), opts.pop("analyzers")
    resume_ids = opts.pop("resume_ids")
    tasks_spec, limit, canonical = opts.pop("tasks_spec"), opts.pop("limit"), opts.pop("canonical")
    run_tests, test_timeout = opts.pop("run_tests"), opts.pop("test_timeout")
    batch_size, concurrency = opts.pop("batch_size"), opts.pop("concurrency")
    as_json, out_path, quiet = opts.pop("as_json"), opts.pop("out_path"), opts.pop("quiet")

    log = common.open_log(root)
    store = EvalStore(log)
    plans: list[tuple[Subject, EvalSpec]] = []
    if resume_ids:
        given = [
            name
            for name, value in (
                ("--model", models),
                ("--adapter", adapters),
                ("--analyzers", suites),
                ("--tasks", tasks_spec),
                ("--limit", limit),
                ("--canonical", canonical),
            )
            if value
        ]
        if given:
            common.fail(
                f"--resume takes the stored settings of the evaluation; drop {', '.join(given)}",
                common.EXIT_USAGE,
            )
        for eval_id in resume_ids:
            try:
                spec = store.spec(eval_id)
            except LogError as exc:
                common.fail(str(exc), common.EXIT_USAGE)
            if spec.benchmark != benchmark:
                common.fail(
                    f"evaluation {eval_id} is a {spec.benchmark} evaluation, not {benchmark}",
                    common.EXIT_USAGE,
                )
            plans.append((Subject(spec.model, spec.adapter, spec.analyzers, eval_id), spec))
    else:
        if canonical and (models or adapters):
            common.fail(
                "--canonical scores the reference solutions; drop --model/--adapter", common.EXIT_USAGE
            )
        try:
            task_ids = parse_task_spec(tasks_spec, benchmark)
        except DatasetError as exc:
            common.fail(str(exc), common.EXIT_USAGE)
        tasks = _load_tasks(benchmark, task_ids, limit, extra)
        if not tasks:
            common.fail(f"no {benchmark} tasks selected", common.EXIT_USAGE)
        model_names = [f"reference:{benchmark}"] if canonical else list(models) or [root.model.name]
        adapter_names = (
            [""]
            if canonical
            else ["" if a.lower() in ("none", "") else a for a in adapters] or [root.model.adapter]
        )
        # Every model x adapter x suite, each once (repeats of a flag add nothing).
        for model in dict.fromkeys(model_names):
            for adapter in dict.fromkeys(adapter_names):
                for suite in dict.fromkeys(list(suites) or [root.loop.analyzers]):
                    subject = Subject(model, adapter, suite)
                    config = _subject_config(root, subject, dict(opts))
                    settings = common.loop_settings(config)
                    t_max = 0 if canonical or select else settings.t_max
                    plans.append(
                        (
                            subject,
                            EvalSpec(
                                benchmark=benchmark,
                                model=model,
                                task_ids=[t.task_id for t in tasks],
                                adapter=adapter,
                                analyzers=suite,
                                t_max=t_max,
                                threshold=settings.threshold,
                                skip=list(settings.skip),
                                tests=run_tests and not select and any(t.has_tests for t in tasks),
                                gen=dataclasses.asdict(
                                    dataclasses.replace(settings.gen, stop=_stops(benchmark, extra))
                                ),
                                repair=_repair_of(settings),
                                extra={
                                    **extra,
                                    **({"base_url": config.model.base_url} if config.model.base_url else {}),
                                    **({"select": True} if select else {}),
                                },
                            ),
                        )
                    )

    _check_analyzers(
        {spec.analyzers for _, spec in plans},
        {t.language for _, spec in plans for t in _load_tasks(benchmark, spec.task_ids, None, spec.extra)},
    )
    if any(spec.tests for _, spec in plans):
        _check_sandbox()

    reports = []
    cancel = threading.Event()
    loaded: tuple[tuple[str, str], Any] | None = None
    backend = None
    with TaskProgress(common.err, quiet=quiet) as progress:
        for subject, spec in plans:
            config = _subject_config(root, subject, {} if subject.resume_id else dict(opts))
            if subject.resume_id:
                config.loop.t_max, config.loop.threshold, config.loop.skip = (
                    spec.t_max,
                    spec.threshold,
                    spec.skip,
                )
                if spec.extra.get("base_url"):
                    config.model.base_url = spec.extra["base_url"]
            settings = common.loop_settings(config)
            settings = dataclasses.replace(
                settings,
                t_max=spec.t_max,
                analyzers=spec.analyzers,
                gen=GenParams(**{**spec.gen, "stop": tuple(spec.gen.get("stop", ()))})
                if spec.gen
                else settings.gen,
                **(spec.repair or _PLAIN_LOOP),
            )
            tasks = _load_tasks(benchmark, spec.task_ids, None, spec.extra)
            key = (subject.model, subject.adapter)
            if loaded is None or loaded[0] != key:
                loaded = backend = None
                gc.collect()  # let the previous model go before the next one loads
                loaded = (
                    key,
                    _backend_for(
                        config, subject, tasks, benchmark, batch_size, concurrency, quiet or as_json
                    ),
                )
            backend = loaded[1]
            try:
                eval_id = subject.resume_id or store.create(spec)
                if subject.resume_id:
                    store.set_status(eval_id, "running")
            except LogError as exc:
                common.fail(str(exc), common.EXIT_LOG)
            label = (
                f"eval {eval_id} {benchmark} · {subject.model}"
                f"{' + ' + subject.adapter if subject.adapter else ''} · {spec.analyzers}"
            )
            bar = progress.add(label, total=len(tasks), done=len(store.done_ids(eval_id)))

            def on_event(event, bar=bar) -> None:
                if isinstance(event, IterationStarted) and event.index > 0:
                    progress.note(bar, f"repair v{event.index}")

            def on_task(result, bar=bar) -> None:
                progress.advance(bar, f"{result.task_id} {result.outcome}")

            started = time.monotonic()
            status = "finished"
            try:
                results = run_eval(
                    tasks,
                    backend,
                    settings,
                    log=log,
                    eval_run_id=eval_id,
                    # By default several times the backend's slots: a continuous-batching backend refills
                    # a slot as an answer ends, so a chunk's tail (last answers decoding alone) comes rarely.
                    chunk_size=batch_size or 4 * (getattr(backend, "batch_size", None) or 8),
                    tests=spec.tests,
                    test_timeout=test_timeout,
                    cancel=cancel,
                    on_event=on_event,
                    on_task=on_task,
                    adapter=spec.adapter,
                )
            except KeyboardInterrupt:
                cancel.set()
                results, status = store.results(eval_id), "cancelled"
            except EvalAborted as exc:
                store.set_status(eval_id, "failed")
                common.fail(
                    f"{exc}\nfinished tasks are kept: resume with `patchloop eval {benchmark} --resume {eval_id}`",
                    common.EXIT_MODEL,
                )
            except LogError as exc:
                common.fail(str(exc), common.EXIT_LOG)
            if cancel.is_set():
                status = "cancelled"
            store.set_status(eval_id, status)
            reports.append(eval_report(eval_id, spec, results, status))
            if not quiet:
                common.err.print(
                    f"eval {eval_id}: {len(results)} task(s) in {time.monotonic() - started:.0f}s"
                )
            if status == "cancelled":
                break
    if cancel.is_set():
        ids = " ".join(f"--resume {r.eval_run_id}" for r in reports if r.status == "cancelled")
        if not select:
            write_outputs(reports, out_path, as_json)
        common.err.print(
            f"cancelled; finished tasks are in {log.path}: continue with `patchloop eval {benchmark} {ids}`"
        )
        sys.exit(common.EXIT_CANCELLED)
    if not select:
        write_outputs(reports, out_path, as_json)
    return reports
