"""`patchloop model` (the embedded model prepared ahead, its file's path) and `patchloop doctor` (which
analyzers are installed).

Exit codes follow patchloop.cli_common; cli.py adds both to the root command.
"""

from __future__ import annotations

import json
import sys

import click

from patchloop import cli_common as common
from patchloop.core.backends.embedded import EMBEDDED_MODELS


@click.group("model")
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


@click.command()
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
