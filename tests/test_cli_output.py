"""What people read: tables at 80 columns, plain lines in pipes, `eval list --json`, model and
adapter checks before any load, shell completion."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from doubles import ScriptedBackend
from patchloop.core import backends
from patchloop.core.evaluation import EvalSpec, EvalStore
from patchloop.core.log import Log, RunSummary
from patchloop.core.types import Finding, Iteration, Run
from rich.console import Console

import patchloop.cli_common as cli_module
from patchloop.cli import cli
from patchloop.output import eval_table, findings_table, runs_table

BAD = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"
PROMPT = "Write a function that returns the sum of the positive numbers in a list, skipping None values"


def render(table, width: int = 80) -> str:
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    console.print(table)
    return console.export_text()


def words_intact(text: str, rendered: str) -> bool:
    """Every word of ``text`` appears whole in the rendering (wrapping only at spaces)."""
    found = set(rendered.split())
    return all(word in found for word in text.split())


# --- tables at 80 columns ----------------------------------------------------------------------


FINDINGS = [
    Finding(
        "pyright",
        "reportOptionalMemberAccess",
        "error",
        '"group" is not a known attribute of "None"',
        12,
        5,
        cwe="CWE-476",
    ),
    Finding(
        "bandit",
        "B307",
        "warning",
        "Use of possibly insecure function - consider using safer ast.literal_eval.",
        4,
        12,
        cwe="CWE-78",
        also=("ruff:S307",),
    ),
    Finding("pylint", "W0611", "note", "Unused import os [red]x[/red] (unused-import)", 130, 1),
]


def test_findings_table_at_80_columns_wraps_only_the_message_at_spaces():
    text = render(findings_table(FINDINGS, title="src/app.py", width=80))
    assert max(len(line) for line in text.splitlines()) <= 80
    for f in FINDINGS:
        assert f.rule_id in text and f.tool in text and (not f.cwe or f.cwe in text)
        assert words_intact(f.message, text), f.message  # also: markup in a message is shown as text
    assert "…" not in text
    assert "┃" not in text and "│" not in text  # no vertical rules eating the width
    wide = render(findings_table(FINDINGS, width=140), 140)
    assert re.search(r"line\s+severity\s+tool\s+rule\s+cwe\s+message", wide)


def _summary(
    id_: int, prompt: str = PROMPT, model: str = "embedded-1.5b", stop: str | None = "analyzer_error"
):
    return RunSummary(id_, "2025-05-01T10:22:33", prompt, model, "all", stop, 3, 2, 5, 0, "cli")


def test_runs_table_at_80_columns_gives_the_prompt_the_room():
    text = render(runs_table([_summary(12), _summary(7, "short", stop=None)], 80))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = lines[0]
    for column in ("id", "created", "stop", "iters", "findings", "prompt"):
        assert column in header
    assert "analyzer_error" in text and "05-01 10:22" in text and "5→0" in text
    row = next(line for line in lines if line.lstrip().startswith("12 "))
    shown = row[header.index("prompt") :].rstrip().rstrip("…")
    assert len(shown) >= 25 and PROMPT.startswith(shown)
    wide = render(runs_table([_summary(12)], 200), 200)
    assert "model" in wide and "embedded-1.5b" in wide and PROMPT in wide


def test_eval_table_at_80_columns_keeps_every_short_cell_whole():
    rows = [
        {
            "id": 3,
            "created": "2025-05-01T10:22:33",
            "benchmark": "cyberseceval",
            "model": "embedded-1.5b",
            "adapter": "",
            "analyzers": "security",
            "t_max": 3,
            "n_done": 164,
            "n_tasks": 164,
            "status": "cancelled",
        },
        {
            "id": 2,
            "created": "2025-05-01T09:00:00",
            "benchmark": "humaneval",
            "model": "Qwen/Qwen2.5-Coder-7B-Instruct",
            "adapter": "adapters/round-2",
            "analyzers": "all",
            "t_max": 3,
            "n_done": 1,
            "n_tasks": 164,
            "status": "running",
        },
    ]
    text = render(eval_table(rows, 80))
    assert max(len(line) for line in text.splitlines()) <= 80
    for cell in (
        "cyberseceval",
        "humaneval",
        "embedded-1.5b",
        "security",
        "164/164",
        "1/164",
        "cancelled",
        "running",
        "05-01 10:22",
    ):
        assert cell in text, cell
    assert text.count("…") == 1  # only the one long model + adapter cell is cut
    assert "t_max" in render(eval_table(rows, 140), 140)


# --- pipes get lines -------------------------------------------------------------------------------


def test_log_in_a_pipe_prints_tab_separated_lines(env, monkeypatch):
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: ScriptedBackend([BAD, BAD]))
    env(
        "run", "-a", "security", "--t-max", "0", "--no-autofix", "--candidates", "0", PROMPT + "\nsecond line"
    )
    out = env("log").stdout
    [line] = out.splitlines()
    fields = line.split("\t")
    assert fields[0] == "1" and fields[3] == "t_max" and fields[-1] == PROMPT + " second line"
    assert not any(c in out for c in "┏━│─")


def test_eval_list_json_holds_settings_as_an_object_and_a_pipe_gets_lines(env):
    log = Log(env.db)
    EvalStore(log).create(EvalSpec("humaneval", "embedded", ["HumanEval/0", "HumanEval/1"], skip=["B101"]))
    log.close()
    [row] = json.loads(env("eval", "list", "--json").stdout)
    assert isinstance(row["settings"], dict) and row["settings"]["skip"] == ["B101"]
    [line] = env("eval", "list").stdout.splitlines()
    assert line.split("\t")[2:5] == ["humaneval", "embedded", "-"]


# --- model names and adapters are checked before anything loads ----------------------------------------


@pytest.fixture
def no_loading(monkeypatch):
    loads: list[str] = []

    def load_backend(spec, **options):
        loads.append(spec)
        raise backends.ModelError("the test does not load models")

    monkeypatch.setattr(backends, "load_backend", load_backend)
    return loads


def test_a_mistyped_model_fails_fast_with_a_suggestion(env, no_loading):
    started = time.monotonic()
    result = env("run", "-m", "embeded", "write code")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown model 'embeded'; did you mean 'embedded'?"
    assert time.monotonic() - started < 5 and no_loading == []
    assert "did you mean 'embedded-1.5b'" in env("model", "prepare", "-m", "embedded1.5b").stderr
    lone = env("run", "-m", "mistral", "write code")
    assert lone.exit_code == 2 and "owner/name" in lone.stderr
    assert env("run", "-m", "missing.gguf", "write code").exit_code == 2
    assert no_loading == []


def test_known_model_forms_reach_the_loader(env, no_loading, tmp_path):
    folder = tmp_path / "local-model"
    folder.mkdir()
    for spec in ("embedded", "embedded-1.5b", "openai:qwen", "Qwen/Qwen2.5-Coder-0.5B-Instruct", str(folder)):
        result = env("run", "-m", spec, "write code")
        assert result.exit_code == 3, (spec, result.output)  # the loader's failure: it was reached
    assert len(no_loading) == 5


def test_the_adapter_folder_is_checked_before_the_model_loads(env, no_loading, tmp_path):
    missing = env("run", "--adapter", str(tmp_path / "nothing"), "write code")
    assert missing.exit_code == 2 and "no adapter folder" in missing.stderr
    not_adapter = tmp_path / "not-adapter"
    not_adapter.mkdir()
    result = env("run", "--adapter", str(not_adapter), "write code")
    assert result.exit_code == 2 and "adapter_config.json" in result.stderr
    assert no_loading == []
    (not_adapter / "adapter_config.json").write_text("{}")
    assert env("run", "--adapter", str(not_adapter), "write code").exit_code == 3 and no_loading == [
        "embedded"
    ]


# --- the rest ------------------------------------------------------------------------------------------


def test_finding_ends_survive_the_log(tmp_path):
    log = Log(tmp_path / "log.db")
    finding = Finding("bandit", "B307", "warning", "eval", 4, 12, end_line=4, end_column=28)
    run = Run(prompt="p", model="m", analyzers="all", t_max=0, threshold="note")
    run.id = log.start_run(run)
    log.add_iteration(run.id, Iteration(index=0, prompt=[], code="x", findings=[finding]))
    [iteration] = log.load_run(run.id).iterations
    assert iteration.findings == [finding]
    log.close()


def test_shell_completion_as_the_readme_says():
    result = CliRunner().invoke(cli, [], prog_name="patchloop", env={"_PATCHLOOP_COMPLETE": "bash_source"})
    assert result.exit_code == 0 and "_patchloop_completion" in result.output
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "_PATCHLOOP_COMPLETE=bash_source patchloop" in readme
