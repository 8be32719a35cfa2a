"""`patchloop config`: get, set, unset, list, environment variables, a missing --config, exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from patchloop.cli import cli

COMMENTED = "# mine\n[loop]\nt_max = 4  # four is plenty\n\n# below: the model\n[model]\nname = 'x/y'\n"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Invoke `patchloop` on a config file and log of this test's own; no PATCHLOOP_* from outside."""
    import os

    for name in list(os.environ):
        if name.startswith("PATCHLOOP_"):
            monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(path))
    db = tmp_path / "log.db"

    def invoke(*args, environ=None):
        result = CliRunner().invoke(cli, ["--db", str(db), *args], env=environ, catch_exceptions=False)
        if result.exit_code:
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.output, result.output
        return result

    invoke.path = path
    return invoke


def test_get_prints_the_effective_value(env):
    env.path.write_text(COMMENTED)
    assert env("config", "get", "loop.t_max").stdout == "4\n"
    assert env("config", "get", "model.name").stdout == "x/y\n"  # a string as it is, for $(...)
    assert env("config", "get", "loop.skip").stdout == "[]\n"
    data = json.loads(env("config", "get", "loop.t_max", "--json").stdout)
    assert data == {"key": "loop.t_max", "value": 4, "source": "file", "from": str(env.path)}
    assert json.loads(env("config", "get", "loop.candidates", "--json").stdout)["source"] == "default"


def test_get_an_unknown_key_is_exit_2(env):
    result = env("config", "get", "loop.tmax")
    assert result.exit_code == 2 and "no setting loop.tmax (did you mean loop.t_max?)" in result.stderr


def test_list_shows_every_key_and_its_source(env):
    env.path.write_text(COMMENTED + "[keys]\nsend = 'ctrl+s'\n")
    rows = json.loads(env("config", "list", "--json", environ={"PATCHLOOP_ANALYZERS": "security"}).stdout)
    by_key = {row["key"]: row for row in rows}
    from patchloop.core.config import SETTINGS

    assert set(SETTINGS) <= set(by_key) and by_key["keys.send"]["value"] == "ctrl+s"
    assert by_key["loop.t_max"] == {"key": "loop.t_max", "value": 4, "source": "file", "from": str(env.path)}
    assert (
        by_key["loop.analyzers"]["source"] == "environment"
        and by_key["loop.analyzers"]["from"] == "PATCHLOOP_ANALYZERS"
    )
    assert by_key["loop.threshold"] == {
        "key": "loop.threshold",
        "value": "note",
        "source": "default",
        "from": "",
    }
    assert by_key["log.db"]["source"] == "cli" and by_key["log.db"]["from"] == "--db"
    text = env("config", "list").stdout
    assert any(
        line.startswith("loop.t_max") and "= 4" in line and line.rstrip().endswith(f"file ({env.path})")
        for line in text.splitlines()
    )


def test_set_keeps_comments_and_unset_removes(env):
    env.path.write_text(COMMENTED)
    result = env("config", "set", "loop.t_max", "6")
    assert result.exit_code == 0 and f"loop.t_max = 6 saved to {env.path}" in result.stderr
    assert env("config", "set", "model.seed", "-1").exit_code == 0  # a negative VALUE is not an option
    assert env.path.read_text() == COMMENTED.replace("t_max = 4", "t_max = 6").replace(
        "name = 'x/y'\n", "name = 'x/y'\nseed = -1\n"
    )
    assert env("config", "unset", "loop.t_max").exit_code == 0
    assert "t_max" not in env.path.read_text() and "# below: the model" in env.path.read_text()
    again = env("config", "unset", "loop.t_max")
    assert again.exit_code == 0 and "is not set" in again.stderr


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("loop.t_max", "99", "must be between 0 and 50"),
        ("loop.t_max", "many", "loop.t_max must be an integer"),
        ("loop.threshold", "loud", "must be one of"),
        ("loop.nothing", "1", "no setting loop.nothing"),
        ("keys.nothing", "x", "unknown key binding id"),
    ],
)
def test_set_refuses_bad_values_without_touching_the_file(env, key, value, message):
    env.path.write_text(COMMENTED)
    result = env("config", "set", key, value)
    assert result.exit_code == 2 and message in result.stderr
    assert env.path.read_text() == COMMENTED


def test_environment_overrides_and_flags_win(env):
    env.path.write_text(COMMENTED)
    assert env("config", "get", "loop.t_max", environ={"PATCHLOOP_T_MAX": "7"}).stdout == "7\n"
    assert env("config", "get", "loop.t_max", environ={"PATCHLOOP_LOOP_T_MAX": "8"}).stdout == "8\n"
    # --db (a flag) over PATCHLOOP_DB (a variable).
    result = env("config", "get", "log.db", "--json", environ={"PATCHLOOP_DB": "/from/env.db"})
    assert json.loads(result.stdout)["source"] == "cli"
    # `config set` writes the file; it says when a variable hides the value.
    result = env("config", "set", "loop.t_max", "5", environ={"PATCHLOOP_T_MAX": "7"})
    assert (
        result.exit_code == 0
        and "PATCHLOOP_T_MAX is set" in result.stderr
        and "t_max = 5" in env.path.read_text()
    )


@pytest.mark.parametrize("command", [["log"], ["config", "list"], ["config", "get", "loop.t_max"]])
def test_a_bad_variable_is_exit_2(env, command):
    result = env(*command, environ={"PATCHLOOP_T_MAX": "lots"})
    assert result.exit_code == 2 and "PATCHLOOP_T_MAX must be an integer" in result.stderr


def test_a_missing_explicit_config_is_exit_2(env, tmp_path):
    missing = tmp_path / "typo.toml"
    for command in (
        ["log"],
        ["config", "list"],
        ["config", "get", "loop.t_max"],
        ["config", "unset", "loop.t_max"],
    ):
        result = env("--config", str(missing), *command)
        assert result.exit_code == 2 and f"the config file {missing} does not exist" in result.stderr
    # ... except where it names the file to create: `config path` and `config set`.
    assert env("--config", str(missing), "config", "path").stdout == f"{missing}\n"
    assert env("--config", str(missing), "config", "set", "loop.t_max", "2").exit_code == 0
    assert env("--config", str(missing), "config", "get", "loop.t_max").stdout == "2\n"


def test_the_default_config_path_missing_means_defaults(env):
    assert not env.path.exists()
    assert env("config", "get", "loop.t_max").stdout == "3\n"


def test_unset_repairs_a_bad_file(env):
    env.path.write_text("[loop]\nt_max = 99\n")
    assert env("log").exit_code == 2
    assert env("config", "list").exit_code == 2
    assert env("config", "unset", "loop.t_max").exit_code == 0
    assert env("log").exit_code == 0


@pytest.mark.parametrize(
    "command",
    [
        ["config"],
        ["config", "get"],
        ["config", "set"],
        ["config", "unset"],
        ["config", "list"],
        ["config", "path"],
        ["config", "show"],
    ],
)
def test_every_config_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
