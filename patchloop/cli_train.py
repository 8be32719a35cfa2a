"""`patchloop train`: DPO on preference pairs (from a pairs file or straight from the log), and rounds
of generating, harvesting and training.

Exit codes follow patchloop.cli_common: 0 success; 2 bad usage or input (no pairs to train on, a bad
pairs file, bad task ids); 3 the model failed to load or train; 5 the log database cannot be used;
130 cancelled. cli.py adds the group to the root command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.cli_common import F
from patchloop.cli_pairs import open_log_at, pair_filters

# -- train ---------------------------------------------------------------------------------------


@click.group("train")
def train_group() -> None:
    """Fine-tune the model on pairs from the log with DPO (TRL): LoRA on CPU, QLoRA on CUDA."""


def dpo_options(fn: F) -> F:
    shown, positive = common.shown_default, click.FloatRange(min=0, min_open=True)
    return common.apply_options(
        fn,
        [
            shown(
                "--beta",
                type=positive,
                default=0.1,
                help="DPO beta: how far the model may move from the reference.",
            ),
            shown("--lr", "learning_rate", type=positive, default=5e-5, help="Learning rate."),
            shown("--epochs", type=positive, default=1.0),
            click.option(
                "--max-steps", type=int, default=-1, help="Stop after N optimizer steps (overrides --epochs)."
            ),
            shown("--lora-r", type=click.IntRange(1), default=16, help="LoRA rank."),
            click.option("--lora-alpha", type=click.IntRange(1), help="LoRA alpha (default 2 x rank)."),
            shown(
                "--max-length", type=click.IntRange(16), default=1024, help="Token limit of prompt + answer."
            ),
            shown("--batch-size", type=click.IntRange(1), default=2, help="Pairs per step per device."),
            shown("--grad-accum", type=click.IntRange(1), default=4, help="Gradient accumulation steps."),
            shown("--seed", type=int, default=0),
            common.device_option(default="auto"),
            click.option(
                "--no-4bit", "no_4bit", is_flag=True, help="On CUDA, LoRA on the bf16 model instead of QLoRA."
            ),
        ],
    )


def dpo_settings(opts: dict):
    from patchloop.train.dpo import DPOSettings

    return DPOSettings(
        beta=opts["beta"],
        learning_rate=opts["learning_rate"],
        epochs=opts["epochs"],
        max_steps=opts["max_steps"],
        lora_r=opts["lora_r"],
        lora_alpha=opts["lora_alpha"] or 2 * opts["lora_r"],
        max_length=opts["max_length"],
        batch_size=opts["batch_size"],
        grad_accum=opts["grad_accum"],
        seed=opts["seed"],
        device=opts["device"],
        load_in_4bit=not opts["no_4bit"],
    )


def _say(quiet: bool):

    def say(message: str) -> None:
        if not quiet:
            common.err.print(f"[dim]{message}[/]")

    return say


@train_group.command("dpo")
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pairs JSONL (from `patchloop pairs export`); without it, pairs come straight from the log.",
)
@click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), help="Log database to take pairs from."
)
@pair_filters
@common.model_option(help=f"Base model: {common.embedded_model_names()}, a HF id or a folder.")
@common.out_option("out_dir", "Folder for the adapter and training.json.", folder=True, required=True)
@click.option(
    "--init-adapter",
    type=click.Path(file_okay=False, exists=True),
    help="Continue training this adapter (the reference is then a frozen copy of it).",
)
@click.option("--merge", is_flag=True, help="Also write OUT/merged: the base with the adapter folded in.")
@dpo_options
@click.option("--json", "as_json", is_flag=True, help="Print training.json on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def train_dpo_cmd(
    ctx: click.Context,
    pairs_file: Path | None,
    db: Path | None,
    min_gap,
    source,
    run_source,
    eval_runs,
    model: str | None,
    out_dir: Path,
    init_adapter: str | None,
    merge: bool,
    as_json: bool,
    quiet: bool,
    **opts,
) -> None:
    """Train a LoRA adapter with DPO on preference pairs, write it and a record to OUT.

    Load it afterwards with `patchloop run --adapter OUT` (or eval, or the app).
    """
    from patchloop.core.log import LogError
    from patchloop.train.dpo import TrainError, describe_data, train_dpo
    from patchloop.train.pairs import PairsError, load_pairs, pairs_dataset

    config = common.get_config(ctx)
    spec = model or config.model.name
    say = _say(quiet)
    if pairs_file is not None and (db is not None or run_source or eval_runs or min_gap is not None):
        common.fail(
            "give either --pairs FILE or log filters (--db, --run-source, --eval-run, --min-gap), not both",
            common.EXIT_USAGE,
        )
    try:
        if pairs_file is not None:
            dataset = load_pairs(pairs_file)
            data_info = describe_data(dataset, kind="file", path=str(pairs_file))
        else:
            store = open_log_at(ctx, db)
            dataset = pairs_dataset(
                store, min_gap=min_gap, source=source, run_source=run_source, eval_run_ids=eval_runs or None
            )
            data_info = describe_data(
                dataset,
                kind="db",
                path=str(store.path),
                run_source=run_source,
                eval_runs=list(eval_runs) or None,
                min_gap=min_gap,
                source=source,
            )
    except PairsError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    except LogError as exc:
        common.fail(str(exc), common.EXIT_LOG)
    if len(dataset) == 0:
        common.fail(
            "there are no preference pairs to train on (see `patchloop pairs stats`)", common.EXIT_USAGE
        )
    say(f"{len(dataset)} pairs; base model {spec}")
    try:
        result = train_dpo(
            dataset,
            out_dir,
            dpo_settings(opts),
            model_spec=spec,
            init_adapter=init_adapter,
            merge=merge,
            data_info=data_info,
            show_progress=not quiet,
            progress=say,
        )
    except TrainError as exc:
        common.fail(str(exc), common.EXIT_MODEL)
    metrics = result.metrics
    if as_json:
        click.echo(json.dumps(result.record, indent=2, default=str))
    last = metrics.get("last") or {}
    common.err.print(
        f"adapter -> {result.out_dir} · {metrics['steps']} steps in {metrics['train_seconds']:.0f}s · "
        f"loss {last.get('loss', float('nan')):.4f} · reward margin {last.get('rewards/margins', float('nan')):.4f} "
        f"· reward accuracy {last.get('rewards/accuracies', float('nan')):.2f}"
        + (f" · merged -> {result.merged_dir}" if result.merged_dir else "")
    )
    common.err.print(f"use it: patchloop run --adapter {result.out_dir} ...")


@train_group.command("rounds")
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True)
@common.model_option(help="Base model (default: the configured one, normally embedded).")
@common.out_option("out_dir", "Folder for round-N adapters and rounds.json.", folder=True, required=True)
@click.option(
    "--train-tasks",
    default="mbpp:train",
    show_default=True,
    metavar="SET",
    help="Tasks to generate pairs on: mbpp:train, mbpp:511-600, cyberseceval:python[0:96], "
    "BENCH:@FILE.json (from `eval select`).",
)
@click.option(
    "--eval-tasks",
    multiple=True,
    metavar="SET",
    help="Task set to score each round on (repeatable; default mbpp:test).",
)
@common.t_max_option()
@common.analyzers_option()
@common.threshold_option()
@common.max_new_tokens_option()
@click.option(
    "--gen-batch-size",
    type=click.IntRange(1, 512),
    default=8,
    show_default=True,
    help="Tasks generated together (the backend's batch size).",
)
@common.engine_option()
@click.option(
    "--min-gap", type=click.IntRange(0), help="Rejected side has at least N more findings than chosen."
)
@click.option(
    "--start-adapter", type=click.Path(file_okay=False, exists=True), help="Start from this adapter."
)
@click.option("--tag", help="Name for this invocation in the eval records (default: a timestamp).")
@dpo_options
@click.option("--json", "as_json", is_flag=True, help="Print rounds.json on stdout at the end.")
@click.option("--quiet", "-q", is_flag=True)
@click.pass_context
def train_rounds_cmd(
    ctx: click.Context,
    rounds: int,
    out_dir: Path,
    train_tasks: str,
    eval_tasks: tuple[str, ...],
    gen_batch_size: int,
    min_gap,
    start_adapter,
    tag,
    as_json: bool,
    quiet: bool,
    **opts,
) -> None:
    """Iterate: generate on train tasks with the current model, harvest pairs, train DPO, score.

    Round 0 scores the starting model; the final table has pass@1 and EFR (first attempt and after
    patching) of every round on every eval task set.
    """
    from rich.console import Console

    from patchloop.core.backends import ModelError, backend_options, load_backend
    from patchloop.core.evaluation import DatasetError
    from patchloop.core.log import LogError
    from patchloop.train.dpo import TrainError
    from patchloop.train.rounds import RoundsConfig, load_task_set, run_rounds

    # The model and loop options reach the config as in every other command, with two of training's
    # own: --device defaults to "auto", which is no choice of the user's (a device set in the config
    # stands), and --seed seeds training, not generation.
    device = None if opts["device"] == "auto" else opts["device"]
    config = common.apply_cli(common.get_config(ctx), **{**opts, "device": device, "seed": None})
    try:
        train_set = load_task_set(train_tasks)
        eval_sets = [load_task_set(spec) for spec in (eval_tasks or ("mbpp:test",))]
    except DatasetError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    trained_on = {t.task_id for t in train_set.tasks}
    for eval_set in eval_sets:
        overlap = sorted(trained_on & {t.task_id for t in eval_set.tasks})
        if overlap:
            common.fail(
                f"{train_set.name} and {eval_set.name} share {len(overlap)} task(s), e.g. {overlap[0]}: "
                "a model would be scored on what it trained on",
                common.EXIT_USAGE,
            )
    store = common.open_log(config)
    say = _say(quiet)
    spec = config.model.name

    def backend_for(adapter: str | None):
        from patchloop.core.backends.hf_models import resolve_device

        options = backend_options(config.model, progress=say)
        if "load_in_4bit" in options and resolve_device(config.model.device) == "cpu":
            options["load_in_4bit"] = None  # 4-bit is a CUDA-only setting; on CPU the model runs in fp32
        options["adapter"] = adapter
        options["batch_size"] = gen_batch_size
        return load_backend(spec, **options)

    rounds_config = RoundsConfig(
        train=train_set,
        evals=eval_sets,
        out_dir=out_dir,
        model=spec,
        rounds=rounds,
        loop=common.loop_settings(config),
        dpo=dpo_settings(opts),
        min_gap=min_gap,
        start_adapter=start_adapter,
        chunk_size=gen_batch_size,
        tag=tag or "",
    )
    try:
        results = run_rounds(rounds_config, store, backend_for, report=say, show_progress=not quiet)
    except (ModelError, TrainError) as exc:
        common.fail(str(exc), common.EXIT_MODEL)
    except LogError as exc:
        common.fail(str(exc), common.EXIT_LOG)
    Console(highlight=False).print(rounds_table(results))
    if as_json:
        click.echo((out_dir / "rounds.json").read_text(encoding="utf-8"))


def rounds_table(results):
    from rich.table import Table

    table = Table(title="DPO rounds")
    for column in (
        "round",
        "pairs",
        "loss",
        "margin",
        "acc",
        "task set",
        "pass@1",
        "pass@1 patched",
        "EFR",
        "EFR patched",
        "adapter",
    ):
        table.add_column(column, justify="left" if column in ("task set", "adapter") else "right")

    def num(value, digits=3):
        return "" if value is None else f"{value:.{digits}f}"

    def pct(value):
        return "n/a" if value is None else f"{value:.1f}%"

    for r in results:
        first = True
        for name, s in r.scores.items() or [("", None)]:
            table.add_row(
                str(r.round) if first else "",
                str(r.pairs) if r.round and first else "",
                num(r.train.get("loss"), 4) if first else "",
                num(r.train.get("reward_margin"), 4) if first else "",
                num(r.train.get("reward_accuracy"), 2) if first else "",
                name,
                pct(s["pass_first"]) if s else "",
                pct(s["pass_final"]) if s else "",
                pct(s["efr_first"]) if s else "",
                pct(s["efr_final"]) if s else "",
                ((r.adapter or "base") + (f" ({r.note})" if r.note else "")) if first else "",
            )
            first = False
    return table
