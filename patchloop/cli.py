"""The `patchloop` command: composes core (engine), tui (app) and train (pairs, DPO).

The root group, `run`, `fix`, `log`, `model` and `doctor` live here; the other commands live in the
cli_*.py modules beside this one and are added below. What they share (exit codes, error
reporting, options, model loading) is cli_common.py, which lists the exit codes.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import click
from rich.console import Console

from patchloop import cli_common as common
from patchloop.cli_analyze import analyze
from patchloop.cli_cache import cache_group
from patchloop.cli_config import config_group, defer_config_error
from patchloop.cli_eval import eval_group
from patchloop.cli_train import pairs_group, train_group
from patchloop.core.backends.embedded import EMBEDDED_MODELS
from patchloop.core.config import (
    CLI,
    Config,
    ConfigError,
    apply_env,
    db_path,
    default_config_path,
    load_config,
)
from patchloop.core.languages import ANALYZED
from patchloop.core.log import LogError
from patchloop.core.types import Analysis

RUN_EXIT = {
    "clean": common.EXIT_OK,
    "t_max": common.EXIT_FINDINGS,
    "repeated": common.EXIT_FINDINGS,
    "no_code": common.EXIT_MODEL,
    "model_error": common.EXIT_MODEL,
    "analyzer_error": common.EXIT_ANALYZER,
    "cancelled": common.EXIT_CANCELLED,
}


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config TOML file (default: $PATCHLOOP_CONFIG or the user config dir); it must exist.",
)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="SQLite log file to use.")
@click.version_option(package_name="patchloop")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, db: Path | None) -> None:
    """patchloop: a local LLM writes code, analyzers check it, findings go back as patch requests.

    Run with no command to open the terminal app.
    """
    try:
        # Defaults, the file, then PATCHLOOP_* variables; each command's flags go on top.
        config = apply_env(load_config(config_path, must_exist=config_path is not None))
    except ConfigError as exc:
        if not defer_config_error(ctx, exc):  # `config set`/`unset` may create or repair the file
            common.fail(str(exc), common.EXIT_USAGE)
        config = Config(path=config_path.expanduser() if config_path else default_config_path())
    if db:
        config.set("log.db", str(db), CLI, "--db")
    ctx.obj = config
    if ctx.invoked_subcommand is None:
        from patchloop.tui.keys import keymap_problems

        problems = keymap_problems(config.keys)
        if problems:
            common.fail(f"[keys] in {config.path}: {'; '.join(problems)}", common.EXIT_USAGE)
        from patchloop.tui.app import run_app

        sys.exit(run_app(config))


# The commands of the cli_*.py modules: they never import this module, the root joins them here.
for command in (config_group, analyze, cache_group, eval_group, pairs_group, train_group):
    cli.add_command(command)


# -- run -----------------------------------------------------------------------------------------


@cli.command()
@click.argument("prompt", required=False)
@click.option(
    "--file", "-f", "prompt_file", type=click.File("rb"), help="Read the prompt from a file ('-' for stdin)."
)
@common.model_options
@common.loop_options
@click.option(
    "--language",
    "-l",
    type=click.Choice(["auto", *ANALYZED]),
    help="Language to write and analyze in (default auto: the one the prompt names, else the "
    "answer's code fence, else python).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole run as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No streaming progress on stderr.")
@click.pass_context
def run(ctx: click.Context, prompt: str | None, prompt_file, as_json: bool, quiet: bool, **opts) -> None:
    """Generate code for PROMPT, analyze it, and patch until clean or --t-max.

    Progress streams to stderr; the best iteration's code goes to stdout (or the whole run with --json).
    """
    from patchloop.core.languages import solution_file
    from patchloop.core.loop import run_loop
    from patchloop.core.loop_driver import validate_prompt
    from patchloop.core.loop_events import (
        CandidatesStarted,
        IterationFinished,
        IterationStarted,
        TokenReceived,
    )
    from patchloop.output import iteration_summary

    config = common.apply_cli(common.get_config(ctx), **opts)
    text = prompt
    if prompt_file is not None:
        limit = 400_000  # validate_prompt's 100,000 characters in the widest UTF-8
        data = prompt_file.read(limit + 1)
        if len(data) > limit:
            common.fail(f"the prompt file {prompt_file.name} is over {limit:,} bytes", common.EXIT_USAGE)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            common.fail(
                f"the prompt file {prompt_file.name} is not UTF-8 text (byte {exc.start})", common.EXIT_USAGE
            )
    if text is None:
        common.fail("give a PROMPT argument or --file", common.EXIT_USAGE)
    try:
        text = validate_prompt(text)
    except ValueError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    log = common.open_log(config)
    backend = common.load_model(config, quiet)
    settings = common.loop_settings(config)
    live = not quiet and common.err.is_terminal

    seen: dict = {}  # the run, for what to print should the log fail in the middle of it

    def on_event(event) -> None:
        seen.setdefault("run", getattr(event, "run", None))
        if quiet:
            return
        if isinstance(event, IterationStarted):
            label = "first attempt" if event.index == 0 else "repair"
            common.err.rule(f"v{event.index} · {label}")
        elif isinstance(event, CandidatesStarted):
            common.err.print(f"  sampling {event.count} candidate repairs", markup=False)
        elif isinstance(event, TokenReceived) and live:
            common.err.print(event.text, end="", style="dim", markup=False, highlight=False)
        elif isinstance(event, IterationFinished):
            if live:
                common.err.print()
            common.err.print(iteration_summary(event.iteration, settings.threshold), markup=False)
            for f in event.iteration.flagged(settings.threshold):
                common.err.print(
                    f"  {solution_file(event.run.language)}:{f.line}: {f.severity} {f.tool}:{f.rule_id} "
                    f"{f.message}",
                    markup=False,
                )

    cancel = threading.Event()
    try:
        result = run_loop(
            text, backend, settings, log=log, on_event=on_event, cancel=cancel, adapter=config.model.adapter
        )
    except LogError as exc:
        # The iterations finished so far are still the answer: print them, then say the log failed.
        partial = seen.get("run")
        done = partial.best if partial is not None else None
        if as_json and partial is not None:
            click.echo(json.dumps(partial.to_dict(), indent=2))
        elif done is not None and done.code:
            click.echo(done.code, nl=False)
        kept = f"; the code of v{done.index} was printed but the run is not fully logged" if done else ""
        common.fail(f"{exc}{kept}", common.EXIT_LOG)
    best = result.best
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif best is not None and best.code:
        click.echo(best.code, nl=False)
    if not quiet:
        last = result.last
        common.err.print(
            f"stop: {result.stop_reason} · run {result.id} in {log.path}"
            + (f" · best v{best.index}" if best else "")
            + (f" · last v{last.index}" if last else "")
        )
        if result.error:
            common.err.print(f"[red]{result.error}[/]")
    code = RUN_EXIT[result.stop_reason or "model_error"]
    if code in (common.EXIT_OK, common.EXIT_FINDINGS):
        # What matters to a script is whether the answer it got (the best iteration) is clean.
        code = (
            common.EXIT_OK if best is not None and best.is_clean(settings.threshold) else common.EXIT_FINDINGS
        )
    sys.exit(code)


# -- analyze (cli_analyze.py) and fix ------------------------------------------------------------


def read_checked(path: Path) -> str:
    """A source file's text; a FIFO, a device, a binary, non-UTF-8 or too large file is bad input."""
    from patchloop.core.analyzers import read_source

    try:
        return read_source(path)
    except ValueError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    except OSError as exc:
        common.fail(f"cannot read {path}: {exc.strerror or exc}", common.EXIT_USAGE)
    raise AssertionError("unreachable")


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@common.analyzers_option()
@common.threshold_option(help="Lowest severity that counts.")
@common.skip_option()
@click.option("--diff", "show_diff", is_flag=True, help="Print the changes as a unified diff; write no file.")
@click.option(
    "--task",
    default="",
    help="What the code is for: some rewrites depend on it (a digest the task asks for).",
)
@click.option("--json", "as_json", is_flag=True, help="What was fixed and what remains, as JSON.")
@click.pass_context
def fix(
    ctx: click.Context, files: tuple[Path, ...], show_diff: bool, task: str, as_json: bool, **opts
) -> None:
    """Apply patchloop's deterministic fixes to FILES in place, like `ruff check --fix`.

    Only flagged code is rewritten (clean files stay byte-identical), and a rewrite is kept only if
    the file still parses and the analyzers flag no more than before. Exit 0 when nothing at or
    above the threshold remains, 1 when something does, 4 when an analyzer failed.
    """
    from patchloop.core.analyzers import analyze_code, language_of
    from patchloop.core.autofix import fix_until_stable
    from patchloop.output import code_diff

    config = common.apply_cli(common.get_config(ctx), **opts)
    threshold, suite = config.loop.threshold, config.loop.analyzers
    report, remaining, errors = {}, 0, False
    for path in files:
        code = read_checked(path)
        language = language_of(path)

        def analyze(text: str, language: str = language) -> Analysis:
            return analyze_code(
                text, suite, language=language, skip=config.loop.skip, timeout=config.loop.analyzer_timeout
            )

        before = analyze(code)
        outcome = fix_until_stable(code, before, analyze, task=task, language=language, threshold=threshold)
        after = outcome.analysis
        errors = errors or bool(after.errors)
        left = after.flagged(threshold)
        remaining += len(left)
        if outcome.code != code:
            if show_diff:
                click.echo(code_diff(code, outcome.code, old=f"a/{path}", new=f"b/{path}"), nl=False)
            else:
                path.write_text(outcome.code, encoding="utf-8")
        report[str(path)] = {
            "fixed": [a.to_dict() for a in outcome.applied],
            "before": len(before.flagged(threshold)),
            "remaining": [f.to_dict() for f in left],
            "errors": after.errors,
            "changed": outcome.code != code,
        }
        if not as_json:
            for a in outcome.applied:
                common.err.print(
                    f"{path}:{a.line}: fixed {a.rule}: {a.description}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            for f in left:
                common.err.print(
                    f"{path}:{f.line}:{f.column}: {f.rule_id} {f.message}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            for error in after.errors:
                common.err.print(
                    f"{path}: analyzer error: {error}", markup=False, highlight=False, soft_wrap=True
                )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        fixed = sum(len(r["fixed"]) for r in report.values())
        verb = "would fix" if show_diff else "fixed"
        common.err.print(f"{verb} {fixed} finding(s); {remaining} remaining", highlight=False)
    if errors:
        sys.exit(common.EXIT_ANALYZER)
    sys.exit(common.EXIT_FINDINGS if remaining else common.EXIT_OK)


# -- log -----------------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
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


# -- model ---------------------------------------------------------------------------------------


@cli.group("model")
def model_group() -> None:
    """The embedded default model: prepare it, find it."""


@model_group.command("prepare")
@common.model_options
@click.pass_context
def model_prepare(ctx: click.Context, **opts) -> None:
    """Assemble, verify and cache the model now, so the first run starts fast."""
    import time

    config = common.apply_cli(common.get_config(ctx), **opts)
    started = time.monotonic()
    backend = common.load_model(config)
    common.err.print(
        f"ready: {backend.info.model} on {backend.info.device} ({time.monotonic() - started:.1f}s)"
    )


@model_group.command("path")
@click.option(
    "--model",
    "-m",
    default="embedded",
    show_default=True,
    help=f"The embedded model: {', '.join(EMBEDDED_MODELS)}.",
)
def model_path(model: str) -> None:
    """Print the path of the embedded model's GGUF file (for llama.cpp's server, say)."""
    from patchloop.core.backends import ModelError
    from patchloop.core.backends.embedded import ensure_gguf

    try:
        click.echo(ensure_gguf(model))
    except ModelError as exc:
        common.fail(str(exc), common.EXIT_MODEL)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json: bool) -> None:
    """Check which analyzers are installed, per language: each with its version, or the command that
    installs it (a missing one makes every run in that language an 'analyzer_error')."""
    from patchloop.core.analyzers import tools_by_language

    by_language = tools_by_language()
    if as_json:
        click.echo(
            json.dumps(
                {
                    lang: [
                        {
                            "analyzer": t.analyzer,
                            "tool": t.tool,
                            "version": t.version,
                            "install": None if t.version else t.install,
                        }
                        for t in tools
                    ]
                    for lang, tools in by_language.items()
                },
                indent=2,
            )
        )
    else:
        for lang, tools in by_language.items():
            click.echo(lang)
            for t in tools:
                click.echo(f"  {t.analyzer:18} {t.version or 'MISSING, install: ' + t.install}")
    missing = any(t.version is None for tools in by_language.values() for t in tools)
    sys.exit(common.EXIT_ANALYZER if missing else common.EXIT_OK)


def main() -> None:
    # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit 1 (the code for
    # "findings remain"); here it is 130, as the shell reports a SIGINT.
    try:
        code = cli.main(prog_name="patchloop", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt)
        common.err.print("cancelled" if interrupted else "aborted")
        sys.exit(common.EXIT_CANCELLED if interrupted else common.EXIT_FINDINGS)
    sys.exit(code if isinstance(code, int) else common.EXIT_OK)
