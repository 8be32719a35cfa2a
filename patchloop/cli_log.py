"""`patchloop log`: the runs in the SQLite log listed, shown, labelled and pruned, and its path.

Exit codes follow patchloop.cli_common; cli.py adds the group to the root command.
"""

from __future__ import annotations

import json

import click
from rich.console import Console

from patchloop import cli_common as common
from patchloop.core.config import db_path
from patchloop.core.log import LogError


@click.group(invoke_without_command=True)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs.")
@click.option(
    "--search",
    "-s",
    help="Full-text search over prompts, code and findings (words as prefixes), best match first.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log(ctx: click.Context, limit: int, search: str | None, as_json: bool) -> None:
    """List recent runs from the SQLite log."""
    if ctx.invoked_subcommand is not None:
        return
    from patchloop.output import print_rows, runs_lines, runs_table

    store = common.open_log(common.get_config(ctx))
    rows = store.list_runs(limit=limit, search=search)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2))
    elif not rows:
        common.err.print(f"no runs in {store.path} yet")
    else:
        print_rows(rows, runs_lines, runs_table)


@log.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log_show(ctx: click.Context, run_id: int, as_json: bool) -> None:
    """Show one run with every iteration and finding."""
    from patchloop.output import print_run

    store = common.open_log(common.get_config(ctx))
    try:
        result = store.load_run(run_id)
    except LogError as exc:
        common.fail(str(exc), common.log_exit(exc))
    if as_json:
        data = result.to_dict()
        data["labels"] = store.labels_for_run(run_id)
        click.echo(json.dumps(data, indent=2))
    else:
        print_run(Console(highlight=False), result)


@log.command("label")
@click.argument("run_id", type=int)
@click.argument("index", type=int)
@click.argument("label", type=click.Choice(["chosen", "rejected", "none"]))
@click.pass_context
def log_label(ctx: click.Context, run_id: int, index: int, label: str) -> None:
    """Label iteration INDEX (0 = v0) of RUN_ID as chosen or rejected (none clears it)."""
    store = common.open_log(common.get_config(ctx))
    try:
        iteration = next((it for it in store.load_run(run_id).iterations if it.index == index), None)
        if iteration is None:
            common.fail(f"run {run_id} has no iteration v{index}", common.EXIT_USAGE)
        assert iteration.id is not None, "an iteration read from the log has its row id"
        store.set_label(iteration.id, None if label == "none" else label)
    except LogError as exc:
        common.fail(str(exc), common.log_exit(exc))
    common.err.print(f"run {run_id} v{index}: {label}")


@log.command("prune")
@click.option(
    "--unfinished",
    is_flag=True,
    help="Delete runs that never recorded how they ended (their process was killed).",
)
@click.option(
    "--finished", is_flag=True, help="Delete runs that ended, older than --older-than (which it needs)."
)
@click.option(
    "--eval",
    "evals",
    type=int,
    multiple=True,
    metavar="ID",
    help="Delete evaluation ID (`patchloop eval list`) with its tasks and runs; repeatable.",
)
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(0),
    default=None,
    help="Only runs with no write for this many days [--unfinished: 1].",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="What was deleted, as JSON.")
@click.pass_context
def log_prune(
    ctx: click.Context,
    unfinished: bool,
    finished: bool,
    evals: tuple[int, ...],
    days: float | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete runs from the log, with their iterations, findings, candidates and labels.

    Pruning by age keeps the runs an evaluation's tasks refer to; --eval ID deletes those. Combine
    the options to prune several ways in one transaction.
    """
    import datetime

    from patchloop.core.log import LogInUse

    if not (unfinished or finished or evals):
        common.fail(
            "say what to prune: --unfinished, --finished --older-than DAYS, or --eval ID", common.EXIT_USAGE
        )
    if finished and days is None:
        common.fail(
            "--finished deletes runs that ended: say how old with --older-than DAYS", common.EXIT_USAGE
        )
    age = datetime.timedelta(days=1.0 if days is None else days)
    store = common.open_log(common.get_config(ctx))
    try:
        pruned = store.prune(
            unfinished=age if unfinished else None,
            finished=age if finished else None,
            evals=evals,
            dry_run=dry_run,
        )
    except LogError as exc:
        common.fail(str(exc), common.EXIT_USAGE if isinstance(exc, LogInUse) else common.log_exit(exc))
    ids = sorted(pruned.runs)
    if as_json:
        click.echo(
            json.dumps(
                {"dry_run": dry_run, "runs": ids, "eval_tasks": pruned.eval_tasks, "evals": pruned.evals},
                indent=2,
            )
        )
        return
    verb = "would delete" if dry_run else "deleted"
    evals_part = (
        f"{len(pruned.evals)} evaluation(s) ({', '.join(map(str, pruned.evals))}) with "
        f"{pruned.eval_tasks} task(s), "
        if pruned.evals
        else ""
    )
    kinds = [k for k, on in (("unfinished", unfinished), ("finished", finished)) if on]
    kind = f"{kinds[0]} " if len(kinds) == 1 and not evals else ""
    common.err.print(
        f"{verb} {evals_part}{len(ids)} {kind}run(s) from {store.path}"
        + (f": {', '.join(map(str, ids))}" if ids and len(ids) <= 50 else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@log.command("path")
@click.pass_context
def log_path(ctx: click.Context) -> None:
    """Print the log database's path."""
    from patchloop.core.log import default_db_path

    click.echo(db_path(common.get_config(ctx)) or default_db_path())
