"""`patchloop config`: read and change settings.

Values come from the defaults, then the config file, then ``PATCHLOOP_*`` environment variables,
then CLI flags (``core/config.py``). ``get`` and ``list`` show the effective values and where each
came from; ``set`` and ``unset`` edit the file in place (``core/config_edit.py``), keeping comments.

``patchloop --config FILE`` with a FILE that does not exist is an error for every command except
``config path`` and ``config set`` (which creates it). A file with a bad value still lets
``config set``/``unset`` run, so they can repair it; ``get``, ``list`` and ``show`` report it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click
import tomlkit

from patchloop import cli_common as common
from patchloop.core.config import (
    ENVIRONMENT,
    SETTINGS,
    Config,
    ConfigError,
    ConfigNotFound,
    parse_value,
    unknown_key_message,
)

# The error `patchloop` hit reading the config, kept for the subcommands that do not need a good one.
CONFIG_ERROR = "patchloop.config_error"


def defer_config_error(ctx: click.Context, error: ConfigError) -> bool:
    """Called by the root command: True when the error is left for the `config` subcommand to
    judge (the command is `config ...`), False when it should fail now."""
    if ctx.invoked_subcommand != config_group.name:
        return False
    ctx.meta[CONFIG_ERROR] = error
    return True


def _works_despite(error: ConfigError, command: str | None) -> bool:
    if isinstance(error, ConfigNotFound):  # a file named with --config that is not there (yet)
        return command in ("path", "set")
    return command in ("path", "set", "unset")  # a bad file or variable: they may repair it


@click.group("config")
@click.pass_context
def config_group(ctx: click.Context) -> None:
    """Show or change settings: defaults, then the config file, then PATCHLOOP_* variables, then flags.

    Every key has a variable PATCHLOOP_<SECTION>_<NAME> (PATCHLOOP_LOOP_T_MAX); the short
    PATCHLOOP_MODEL, _ADAPTER, _DEVICE, _ENGINE, _T_MAX, _ANALYZERS, _THRESHOLD, _SKIP and _DB
    work too.
    """
    error = ctx.meta.get(CONFIG_ERROR)
    if error is not None and not _works_despite(error, ctx.invoked_subcommand):
        common.fail(str(error), common.EXIT_USAGE)


def say(message: str) -> None:
    """One line on stderr, as it is (no markup, no wrapping: paths stay whole for scripts)."""
    common.err.print(message, markup=False, highlight=False, soft_wrap=True)


def toml_value(value: Any) -> str:
    """A value as the file would spell it: "embedded", 3, true, ["B101"]."""
    return tomlkit.item(value).as_string()


def describe(config: Config, key: str) -> dict[str, Any]:
    """One setting for `get` and `list`: key, value, source (default | file | environment | cli) and
    from (the file, the variable or the flag; empty for a default)."""
    source, origin = config.source(key)
    if key.startswith("keys.") and key not in config.sources:
        value = _default_binding(key)
    else:
        value = config.get(key)
    return {"key": key, "value": value, "source": source, "from": origin}


def _default_binding(key: str) -> str:
    from patchloop.tui.keys import binding_catalogue

    binding = key.partition(".")[2]
    for entry in binding_catalogue():
        if entry.id == binding:
            return entry.keys
    raise ConfigError(f"no key binding {binding} (the app's help screen, F1, and docs/KEYS.md list the ids)")


def _all_keys(config: Config) -> list[str]:
    return [*SETTINGS, *(f"keys.{binding}" for binding in sorted(config.keys))]


@config_group.command("path")
@click.pass_context
def config_path_cmd(ctx: click.Context) -> None:
    """Print the config file's path (it need not exist yet)."""
    click.echo(common.get_config(ctx).path)


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="As JSON instead of TOML.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings as one TOML (or JSON) document."""
    import tomli_w

    config = common.get_config(ctx)
    data = {name: dataclasses.asdict(getattr(config, name)) for name in ("model", "loop", "log")}
    data["keys"] = config.keys
    click.echo(json.dumps(data, indent=2) if as_json else tomli_w.dumps(data))


@config_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {key, value, source, from}.")
@click.pass_context
def config_list(ctx: click.Context, as_json: bool) -> None:
    """Every key with its effective value and where it comes from: default, file, environment or cli.

    Key bindings ([keys]) are listed when the file or a PATCHLOOP_KEYS_<ID> variable sets them.
    """
    config = common.get_config(ctx)
    rows = [describe(config, key) for key in _all_keys(config)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["key"]) for r in rows)
    values = [toml_value(r["value"]) for r in rows]
    value_width = min(40, max(len(v) for v in values))
    for row, value in zip(rows, values, strict=True):
        where = f" ({row['from']})" if row["from"] else ""
        click.echo(f"{row['key']:<{width}} = {value:<{value_width}}  {row['source']}{where}")


@config_group.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="{key, value, source, from} as JSON.")
@click.pass_context
def config_get(ctx: click.Context, key: str, as_json: bool) -> None:
    """Print KEY's effective value (section.name, e.g. loop.t_max).

    A string prints as it is (for $(patchloop config get model.name)); anything else in TOML syntax.
    """
    try:
        row = describe(common.get_config(ctx), key)
    except ConfigError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if as_json:
        click.echo(json.dumps(row, indent=2))
    else:
        value = row["value"]
        click.echo(value if isinstance(value, str) else toml_value(value))


def _note_override(config: Config, key: str) -> None:
    source, origin = config.source(key)
    if source == ENVIRONMENT:
        say(f"note: {origin} is set and overrides the file in this environment")


@config_group.command("set", context_settings={"ignore_unknown_options": True})  # VALUE may be -1
@click.argument("key")
@click.argument("value")
@click.pass_context
def config_set(ctx: click.Context, key: str, value: str) -> None:
    """Set KEY (section.name, e.g. loop.t_max) to VALUE in the config file.

    Only that key changes: the file's comments and layout stay. The file (and its folder) is created
    when missing, also at a path given with --config. VALUE is a number, true/false, a word or a
    quoted string, a comma-separated list (loop.skip B101,B602) or a key for keys.<binding id>.
    """
    config = common.get_config(ctx)
    assert config.path is not None
    from patchloop.core.config_edit import set_value

    section, _, name = key.partition(".")
    try:
        if section == "keys" and name:
            parsed: Any = value
            check = _check_keymap
        elif key in SETTINGS:
            parsed, check = parse_value(SETTINGS[key], value), None
        else:
            raise ConfigError(unknown_key_message(key))
        set_value(config.path, key, parsed, check=check)
    except ConfigError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    say(f"{key} = {toml_value(parsed)} saved to {config.path}")
    _note_override(config, key)


def _check_keymap(config: Config) -> None:
    from patchloop.tui.keys import keymap_problems

    problems = keymap_problems(config.keys)
    if problems:
        raise ConfigError("; ".join(problems))


@config_group.command("unset")
@click.argument("key")
@click.pass_context
def config_unset(ctx: click.Context, key: str) -> None:
    """Remove KEY from the config file, so its default applies again (comments and layout stay)."""
    config = common.get_config(ctx)
    assert config.path is not None
    from patchloop.core.config_edit import unset_value

    try:
        removed, _after = unset_value(config.path, key)
    except ConfigError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if removed:
        default = (
            "the app's default binding"
            if key.startswith("keys.")
            else f"the default {toml_value(SETTINGS[key].default)}"
        )
        say(f"{key} removed from {config.path}; {default} applies")
    else:
        say(f"{key} is not set in {config.path}; nothing changed")
    _note_override(config, key)
