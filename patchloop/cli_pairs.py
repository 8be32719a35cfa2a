"""`patchloop pairs`: preference pairs harvested from the log, counted or written as TRL's JSON lines;
and the pair filters, which `patchloop train dpo` takes too.

Exit codes follow patchloop.cli_common: 0 success; 1 `pairs export` found no pair; 2 bad usage or
input; 5 the log database cannot be used. cli.py adds the group to the root command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.cli_common import F

SOURCE_HELP = "Which pairs: loop (both sides chosen by the rules), labels (a human label on a side), all."


def open_log_at(ctx: click.Context, db: Path | None):
    """The log named by --db here, else the global --db / config one."""
    config = common.get_config(ctx)
    if db is not None:
        config.log.db = str(db)
    return common.open_log(config)


def pair_filters(fn: F) -> F:
    return common.apply_options(
        fn,
        [
            click.option(
                "--min-gap",
                type=click.IntRange(0),
                help="Rejected side has at least N more findings than chosen.",
            ),
            click.option(
                "--source",
                type=click.Choice(["loop", "labels", "all"]),
                default="all",
                show_default=True,
                help=SOURCE_HELP,
            ),
            click.option(
                "--run-source",
                metavar="PREFIX",
                help="Only runs whose source starts with PREFIX (cli, tui, eval, eval:cyberseceval).",
            ),
            click.option(
                "--eval-run",
                "eval_runs",
                type=int,
                multiple=True,
                metavar="ID",
                help="Only the runs of this evaluation (ids from `patchloop eval list`); repeatable.",
            ),
        ],
    )


# -- pairs ---------------------------------------------------------------------------------------


@click.group("pairs")
def pairs_group() -> None:
    """Preference pairs (chosen = clean/test-passing or human-chosen, rejected = flagged) from the log."""


def _harvest(ctx: click.Context, min_gap, source, run_source, eval_runs):
    from patchloop.core.log import LogError
    from patchloop.train.pairs import PairsError, harvest

    store = open_log_at(ctx, None)
    try:
        return store, harvest(
            store, min_gap=min_gap, source=source, run_source=run_source, eval_run_ids=eval_runs or None
        )
    except PairsError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    except LogError as exc:
        common.fail(str(exc), common.EXIT_LOG)
    raise AssertionError("unreachable")


def _stats_table(stats, title: str):
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_row("runs read", str(stats.runs))
    table.add_row("runs giving pairs", str(stats.runs_with_pairs))
    table.add_row("pairs", str(stats.pairs))
    for origin, n in sorted(stats.by_origin.items()):
        table.add_row(f"  from {origin}", str(n))
    if stats.pairs:
        table.add_row("mean findings gap", f"{stats.mean_gap:.2f}")
    for reason, n in stats.skipped.most_common():
        table.add_row(f"skipped: {reason}", str(n))
    return table


@pairs_group.command("stats")
@pair_filters
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def pairs_stats(ctx: click.Context, min_gap, source, run_source, eval_runs, as_json: bool) -> None:
    """How many pairs the log gives, and why runs gave none."""
    from rich.console import Console

    store, found = _harvest(ctx, min_gap, source, run_source, eval_runs)
    if as_json:
        click.echo(json.dumps({"db": str(store.path), **found.stats.to_dict()}, indent=2))
    else:
        Console(highlight=False).print(_stats_table(found.stats, f"pairs in {store.path}"))


@pairs_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pair_filters
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def pairs_export(
    ctx: click.Context, out: Path, min_gap, source, run_source, eval_runs, as_json: bool
) -> None:
    """Write the pairs to OUT as JSON lines in TRL's conversational prompt/chosen/rejected format.

    Load it with datasets.load_dataset("json", data_files=OUT). Exit 1 (and no file) when there is no pair.
    """
    from patchloop.train.pairs import PairsError, write_jsonl

    store, found = _harvest(ctx, min_gap, source, run_source, eval_runs)
    stats = found.stats
    if not found.pairs:
        reasons = "; ".join(f"{k}: {v}" for k, v in stats.skipped.most_common()) or "the log has no runs"
        common.err.print(f"no pairs in {store.path} ({stats.runs} runs read; {reasons}); nothing written")
        sys.exit(1)
    try:
        path = write_jsonl(found.pairs, out)
    except PairsError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if as_json:
        click.echo(json.dumps({"out": str(path), **stats.to_dict()}, indent=2))
    else:
        origins = ", ".join(f"{n} {o}" for o, n in sorted(stats.by_origin.items()))
        common.err.print(f"{stats.pairs} pairs ({origins}) from {stats.runs_with_pairs} runs -> {path}")
