"""The command line: run, analyze, log, config, with their exit codes and JSON output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from doubles import ScriptedBackend

import patchloop.cli_common as cli_module
from patchloop.cli import cli

BAD = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"
GOOD = (
    "```python\nimport subprocess\n\n\ndef run(cmd: list[str]) -> int:\n    return subprocess.call(cmd)\n```"
)


def use_backend(monkeypatch, backend):
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: backend)


def test_run_patches_until_clean_and_prints_the_best_code(env, monkeypatch):
    use_backend(monkeypatch, ScriptedBackend([BAD, GOOD]))
    result = env("run", "-a", "security", "--no-autofix", "--candidates", "0", "run a shell command")
    assert result.exit_code == 0, result.output
    assert "subprocess.call(cmd)\n" in result.stdout and "shell=True" not in result.stdout
    listing = env("log", "--json")
    runs = json.loads(listing.stdout)
    assert runs[0]["stop_reason"] == "clean" and runs[0]["n_iterations"] == 2
    shown = json.loads(env("log", "show", str(runs[0]["id"]), "--json").stdout)
    assert shown["iterations"][0]["findings"][0]["rule_id"] in {"B602", "S602"}
    assert shown["best_index"] == 1


def test_run_json_has_every_iteration(env, monkeypatch):
    other = BAD.replace("subprocess.call(cmd, shell=True)", "subprocess.call(cmd + ' -l', shell=True)")
    use_backend(monkeypatch, ScriptedBackend([BAD, other]))
    result = env(
        "run",
        "--json",
        "-a",
        "security",
        "--t-max",
        "1",
        "--no-autofix",
        "--candidates",
        "0",
        "run a shell command",
    )
    assert result.exit_code == 1  # still flagged after t_max
    data = json.loads(result.stdout)
    assert data["stop_reason"] == "t_max" and len(data["iterations"]) == 2
    assert all(it["findings"] for it in data["iterations"])
    assert {
        "gen_seconds",
        "analysis_seconds",
        "completion_tokens",
        "response",
        "code",
        "origin",
        "origin_label",
        "candidates",
        "fixes",
    } <= set(data["iterations"][0])


def test_run_autofixes_before_asking_the_model_again(env, monkeypatch):
    backend = ScriptedBackend([BAD, GOOD])
    use_backend(monkeypatch, backend)
    result = env("run", "--json", "-a", "security", "run a shell command")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [it["origin"] for it in data["iterations"]] == ["model", "autofix"] and len(backend.calls) == 1
    assert "shell=True" not in data["iterations"][1]["code"]
    assert data["iterations"][1]["fixes"][0]["rule"] == "subprocess-no-shell"
    shown = env("log", "show", str(data["id"]))
    assert "v1 · autofix" in shown.stdout and "-    return subprocess.call(cmd, shell=True)" in shown.stdout


def test_run_without_code_exits_3(env, monkeypatch):
    use_backend(monkeypatch, ScriptedBackend(["I'd rather not."]))
    result = env("run", "do it")
    assert result.exit_code == 3


def test_empty_prompt_is_a_usage_error(env, monkeypatch):
    use_backend(monkeypatch, ScriptedBackend([GOOD]))
    assert env("run", "  ").exit_code == 2
    assert env("run").exit_code == 2


def test_prompt_from_stdin(env, monkeypatch):
    backend = ScriptedBackend([GOOD])
    use_backend(monkeypatch, backend)
    assert env("run", "-a", "security", "-f", "-", input="run a command safely\n").exit_code == 0
    assert backend.calls[0][-1]["content"] == "run a command safely"


def test_analyze_exit_codes_json_and_sarif(env, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    good = tmp_path / "good.py"
    good.write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    assert env("analyze", "-a", "security", str(good)).exit_code == 0
    result = env("analyze", "-a", "security", "--json", str(bad), str(good))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data[str(good)]["findings"] == [] and data[str(bad)]["findings"][0]["line"] == 5
    sarif = json.loads(env("analyze", "-a", "security", "--sarif", str(bad)).stdout)
    assert sarif["version"] == "2.1.0"
    assert any(
        r["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
        for run in sarif["runs"]
        for r in run["results"]
    )


def test_analyze_threshold_and_skip(env, tmp_path):
    source = tmp_path / "a.py"
    source.write_text("def check(x: int) -> int:\n    assert x > 0\n    return x\n")
    assert env("analyze", "-a", "security", str(source)).exit_code == 1
    assert env("analyze", "-a", "security", "--skip", "B101", str(source)).exit_code == 0
    assert env("analyze", "-a", "security", "--threshold", "error", str(source)).exit_code == 0


def test_log_label_and_config_set(env, monkeypatch):
    use_backend(monkeypatch, ScriptedBackend([BAD, GOOD]))
    env("run", "-a", "security", "shell")
    assert env("log", "label", "1", "0", "rejected").exit_code == 0
    assert json.loads(env("log", "show", "1", "--json").stdout)["labels"] == {"0": "rejected"}
    assert env("log", "label", "1", "7", "chosen").exit_code == 2
    assert env("config", "set", "loop.t_max", "5").exit_code == 0
    assert json.loads(env("config", "show", "--json").stdout)["loop"]["t_max"] == 5
    assert env("config", "set", "loop.threshold", "loud").exit_code == 2
    assert env("config", "set", "loop.nothing", "1").exit_code == 2


def test_corrupt_log_exits_5(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    db = tmp_path / "bad.db"
    db.write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(cli, ["--db", str(db), "log"])
    assert result.exit_code == 5 and "not a readable SQLite file" in result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["analyze"],
        ["log"],
        ["log", "show"],
        ["config"],
        ["model"],
        ["doctor"],
        ["eval"],
        ["eval", "humaneval"],
        ["pairs"],
        ["pairs", "export"],
        ["train"],
        ["train", "dpo"],
        ["train", "rounds"],
    ],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
