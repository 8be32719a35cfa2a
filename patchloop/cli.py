"""The `patchloop` command: composes core (engine), tui (app) and train (pairs, DPO).

The root group (no command: the terminal app) and `main` live here; the commands live in the cli_*.py
modules beside this one and are added below. What they share (exit codes, error reporting, options,
model loading) is cli_common.py, which lists the exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.cli_analyze import analyze
from patchloop.cli_cache import cache_group
from patchloop.cli_config import config_group, defer_config_error
from patchloop.cli_eval import eval_group
from patchloop.cli_log import log
from patchloop.cli_model import doctor, model_group
from patchloop.cli_pairs import pairs_group
from patchloop.cli_run import fix, run
from patchloop.cli_train import train_group
from patchloop.core.config import CLI, Config, ConfigError, apply_env, default_config_path, load_config


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
for command in (
    run,
    fix,
    log,
    model_group,
    doctor,
    config_group,
    analyze,
    cache_group,
    eval_group,
    pairs_group,
    train_group,
):
    cli.add_command(command)


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
