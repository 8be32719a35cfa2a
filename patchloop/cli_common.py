"""What every `patchloop` command module shares: exit codes, error reporting, the invocation's config
and log, the model and loop options, and loading the model.

Exit codes (scripts rely on them):
  0  success; for `run` and `analyze`: the code is clean
  1  findings remain (at or above the threshold)
  2  bad usage, bad config or bad input (empty prompt, missing file)
  3  the model failed (missing model files, load or generation error, no code in the answer)
  4  an analyzer failed (crash, timeout, missing tool): never reported as clean
  5  the log database cannot be used (locked, corrupt)
  130 cancelled with Ctrl-C (every finished iteration is in the log)

The command modules (cli_*.py) import this one at the top and call into it as ``common.NAME``, so a
test that replaces ``load_model`` or ``Log`` here reaches every command. cli.py imports the command
modules and adds their groups to the root command; no command module imports cli.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from patchloop.core.backends.embedded import EMBEDDED_MODELS
from patchloop.core.config import (
    CANDIDATES_RANGE,
    DEVICES,
    ENGINES,
    FEEDBACK,
    SUITE_NAMES,
    T_MAX_RANGE,
    Config,
    ConfigError,
    LoopConfig,
    ModelSettings,
    apply_overrides,
    db_path,
)
from patchloop.core.log import Log, LogError, LogNotFound
from patchloop.core.types import SEVERITIES

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_MODEL, EXIT_ANALYZER, EXIT_LOG, EXIT_CANCELLED = (
    0,
    1,
    2,
    3,
    4,
    5,
    130,
)

err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    sys.exit(code)


def get_config(ctx: click.Context) -> Config:
    return ctx.find_object(Config)  # type: ignore[return-value]


def log_exit(exc: LogError) -> int:
    """A run or iteration that is not there is bad input (2); anything else means the log is unusable (5)."""
    return EXIT_USAGE if isinstance(exc, LogNotFound) else EXIT_LOG


def open_log(config: Config) -> Log:
    try:
        return Log(db_path(config))
    except LogError as exc:
        fail(str(exc), EXIT_LOG)


def read_checked(path: Path, walked: bool = False) -> str:
    """A source file's text; a FIFO, a device, a binary, non-UTF-8 or too large file is bad input
    (``walked``: found under a folder given, so --exclude can leave it out)."""
    from patchloop.core.analyzers import read_source

    hint = "; leave it out with --exclude" if walked else ""
    try:
        return read_source(path)
    except ValueError as exc:
        fail(f"{exc}{hint}", EXIT_USAGE)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}{hint}", EXIT_USAGE)


# -- options -------------------------------------------------------------------------------------
# One factory per option that several commands take, so each has one spelling, one type and one
# range; a command passes its own help (or default) where the option means something narrower there.


def embedded_model_names() -> str:
    """The shipped models as help text lists them: "embedded (default), embedded-1.5b"."""
    default = ModelSettings.name
    return ", ".join(f"{name} (default)" if name == default else name for name in EMBEDDED_MODELS)


MODEL_HELP = f"{embedded_model_names()}, a HF id or folder, or openai:NAME."


def model_option(help: str = MODEL_HELP):
    return click.option("--model", "-m", help=help)


def device_option(default: str | None = None):
    """Where the model runs; a command with a default of its own (training: auto) shows it."""
    shown = {"default": default, "show_default": True} if default is not None else {}
    return click.option("--device", type=click.Choice(DEVICES), help="Where to run the model.", **shown)


def engine_option():
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        help="What runs a GGUF model: llama.cpp (the default on a CPU) or transformers.",
    )


def max_new_tokens_option():
    return click.option("--max-new-tokens", type=click.IntRange(1), help="Token limit per answer.")


def analyzers_option():
    return click.option("--analyzers", "-a", type=click.Choice(SUITE_NAMES), help="Analyzer suite.")


def t_max_option():
    return click.option(
        "--t-max",
        type=click.IntRange(*T_MAX_RANGE),
        help=f"Patch iterations after the first attempt (default {LoopConfig.t_max}).",
    )


def threshold_option(help: str = "Lowest severity that counts and goes to the model."):
    return click.option("--threshold", type=click.Choice(SEVERITIES), help=help)


def skip_option():
    return click.option(
        "--skip", multiple=True, help="Rule to ignore (B101, bandit:B101, assert_used); repeatable."
    )


def out_option(dest: str, help: str, *, folder: bool = False, required: bool = False):
    """-o/--out: the file (or, with ``folder``, the folder) a command writes to."""
    kind = {"file_okay": False} if folder else {"dir_okay": False}
    return click.option(
        "--out", "-o", dest, type=click.Path(path_type=Path, **kind), required=required, help=help
    )


def shown_default(*flags: str, type: Any, default: Any, help: str | None = None):
    """An option whose --help shows its default."""
    return click.option(*flags, type=type, default=default, show_default=True, help=help)


def apply_options(fn: F, decorators: list) -> F:
    """``decorators`` on ``fn`` in the order they would be written above it."""
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def model_options(fn: F) -> F:
    return apply_options(
        fn,
        [
            model_option(),
            click.option(
                "--adapter",
                type=click.Path(file_okay=False),
                help="LoRA adapter folder to load on the model.",
            ),
            click.option("--base-url", help="OpenAI-compatible server URL, for openai:NAME models."),
            device_option(),
            engine_option(),
            click.option(
                "--no-4bit",
                "no_4bit",
                is_flag=True,
                default=None,
                help="On CUDA, load full bf16 instead of 4-bit NF4.",
            ),
            max_new_tokens_option(),
            click.option(
                "--temperature", type=click.FloatRange(0), help="0 (default) is greedy, as in the paper."
            ),
            click.option("--seed", type=int, help="Sampling seed (iteration i samples with seed + i)."),
        ],
    )


def loop_options(fn: F) -> F:
    return apply_options(
        fn,
        [
            analyzers_option(),
            t_max_option(),
            threshold_option(),
            skip_option(),
            click.option(
                "--autofix/--no-autofix",
                default=None,
                help="Apply deterministic rewrites before each repair request (default on).",
            ),
            click.option(
                "--feedback",
                type=click.Choice(FEEDBACK),
                help="Repair requests as a fresh conversation (default) or appended to the chat.",
            ),
            click.option(
                "--candidates",
                type=click.IntRange(*CANDIDATES_RANGE),
                help=f"Repairs sampled when the greedy one repeats or does not help (default "
                f"{LoopConfig.candidates}; 0 off).",
            ),
        ],
    )


# -- what the options make ---------------------------------------------------------------------


def apply_cli(config: Config, **opts) -> Config:
    try:
        return apply_overrides(
            config,
            model__name=opts.get("model"),
            model__adapter=opts.get("adapter"),
            model__base_url=opts.get("base_url"),
            model__engine=opts.get("engine"),
            model__device=opts.get("device"),
            model__load_in_4bit=False if opts.get("no_4bit") else None,
            model__max_new_tokens=opts.get("max_new_tokens"),
            model__temperature=opts.get("temperature"),
            model__seed=opts.get("seed"),
            analyzers=opts.get("analyzers"),
            t_max=opts.get("t_max"),
            threshold=opts.get("threshold"),
            skip=list(opts["skip"]) if opts.get("skip") else None,
            autofix=opts.get("autofix"),
            feedback=opts.get("feedback"),
            candidates=opts.get("candidates"),
            language=opts.get("language"),
        )
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def loop_settings(config: Config):
    from patchloop.core.loop_settings import settings_from_config

    return settings_from_config(config)


def load_model(config: Config, quiet: bool = False):
    """The backend for the configured model, with load progress on stderr. A model name that
    names nothing or an adapter folder that is not one is bad input (2), found before the load."""
    from patchloop.core.backends import (
        ModelError,
        backend_options,
        check_adapter,
        check_model_spec,
        load_backend,
    )

    try:
        check_model_spec(config.model.name)
        if config.model.adapter:
            check_adapter(config.model.adapter)
    except ModelError as exc:
        fail(str(exc), EXIT_USAGE)

    def progress(stage: str) -> None:
        if not quiet:
            err.print(f"[dim]model: {stage}[/]")

    try:
        return load_backend(config.model.name, **backend_options(config.model, progress=progress))
    except ModelError as exc:
        fail(str(exc), EXIT_MODEL)
