"""Faults and bad input: each gives one clear line on stderr and the documented exit code
(2 bad input or config, 5 log unusable, 130 Ctrl-C), never a traceback, and loses nothing finished.

benchmarks/probe_bad_input.py runs the same cases against the installed command."""

from __future__ import annotations

import datetime
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import patchloop.core.loop_settings as loop_settings_module
import pytest
from click.testing import CliRunner
from doubles import ScriptedBackend
from patchloop.core.log import Log
from patchloop.core.types import Analysis, Finding, Iteration, Run

import patchloop.cli_common as cli_module
from patchloop.cli import cli

BAD = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"
BAD_CODE = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
OTHER = BAD.replace("call(cmd, shell=True)", "call(cmd + ' -l', shell=True)")
OTHER_CODE = BAD_CODE.replace("call(cmd, shell=True)", "call(cmd + ' -l', shell=True)")
PLAIN = ["-a", "security", "--no-autofix", "--candidates", "0"]


def one_error_line(result) -> str:
    """The stderr of a failed command: exactly one line starting with error:, no traceback."""
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def short_busy_timeout(monkeypatch):
    monkeypatch.setattr(cli_module, "Log", functools.partial(Log, busy_timeout=0.2))


class LockingBackend(ScriptedBackend):
    """Another process takes the log's write lock while answer ``lock_at`` is generated."""

    def __init__(self, responses, db, lock_at):
        super().__init__(responses)
        self.db, self.lock_at, self.holder = db, lock_at, None

    def generate(self, messages, params, cancel=None, stats=None):
        if len(self.calls) == self.lock_at:
            self.holder = sqlite3.connect(self.db, isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")
        yield from super().generate(messages, params, cancel, stats)


# -- the log -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_at", [0, 1], ids=["before-v0-is-logged", "after-v0-is-logged"])
def test_a_lock_taken_mid_run_prints_the_finished_code_and_exits_5(env, monkeypatch, lock_at):
    short_busy_timeout(monkeypatch)
    backend = LockingBackend([BAD, OTHER], env.db, lock_at)
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: backend)
    result = env("run", *PLAIN, "--t-max", "1", "run a shell command")
    assert result.exit_code == 5
    line = one_error_line(result)
    # The iteration that finished when the lock was hit is the answer so far (the best of those done).
    assert "locked" in line and f"v{lock_at} was printed" in line
    assert result.stdout == [BAD_CODE, OTHER_CODE][lock_at]
    backend.holder.rollback()
    backend.holder.close()
    store = Log(env.db)
    logged = store.load_run(store.list_runs()[0].id).iterations
    assert [it.code for it in logged] == ([] if lock_at == 0 else [BAD_CODE])


def make_log_with_runs(path, n=40) -> None:
    store = Log(path)
    for k in range(n):
        run = Run(prompt=f"prompt {k} " + "x" * 500, model="m", analyzers="all", t_max=3, threshold="note")
        store.start_run(run)
        store.add_iteration(run.id, Iteration(index=0, prompt=[], response="r" * 2000, code="y = 1\n" * 100))
    store.close()


def test_a_database_with_corrupt_pages_exits_5_and_is_not_written(env, monkeypatch):
    make_log_with_runs(env.db)
    data = bytearray(env.db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) > 8 * page
    data[3 * page : 6 * page] = os.urandom(3 * page)  # the header (page 1) stays good
    env.db.write_bytes(bytes(data))
    before = env.db.read_bytes()
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: ScriptedBackend([BAD]))
    for args in (["run", *PLAIN, "run a shell command"], ["log"], ["log", "show", "1"]):
        result = env(*args)
        assert result.exit_code == 5, (args, result.output)
        assert "not a readable SQLite file" in one_error_line(result)
    assert env.db.read_bytes() == before
    assert not env.db.with_name(env.db.name + "-wal").exists()


def test_a_db_in_a_folder_that_cannot_be_created_exits_5(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = env("log", db_path=blocker / "sub" / "log.db")
    assert result.exit_code == 5
    assert "cannot create the folder" in one_error_line(result)


def test_log_label_on_a_locked_database_exits_5_and_a_missing_run_2(env, monkeypatch):
    store = Log(env.db)
    run = Run(prompt="p", model="m", analyzers="all", t_max=1, threshold="note")
    store.start_run(run)
    store.add_iteration(run.id, Iteration(index=0, prompt=[], code="x = 1\n"))
    store.close()
    short_busy_timeout(monkeypatch)
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = env("log", "label", str(run.id), "0", "chosen")
        assert result.exit_code == 5
        assert "locked" in one_error_line(result)
    finally:
        holder.rollback()
        holder.close()
    assert env("log", "label", "99", "0", "chosen").exit_code == 2
    assert env("log", "label", str(run.id), "0", "chosen").exit_code == 0


def test_runs_killed_mid_way_show_as_unfinished_and_can_be_pruned(env):
    store = Log(env.db)
    runs = []
    for stop in ("clean", None, None):
        run = Run(prompt=f"run {stop}", model="m", analyzers="all", t_max=1, threshold="note")
        store.start_run(run)
        it = Iteration(
            index=0, prompt=[], code="x = 1\n", findings=[Finding("bandit", "B101", "note", "assert", 1)]
        )
        store.add_iteration(run.id, it)
        store.set_label(it.id, "rejected")
        if stop:
            run.stop_reason = stop
            store.finish_run(run)
        runs.append(run)
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).isoformat(timespec="seconds")
    killed, running = runs[1], runs[2]
    for run in runs[:2]:  # the finished run and the killed one are old; the last still runs
        store.write(
            lambda run=run: (
                store.db.execute("UPDATE runs SET created = ? WHERE id = ?", [old, run.id]),
                store.db.execute("UPDATE iterations SET created = ? WHERE run_id = ?", [old, run.id]),
            )
        )
    store.close()

    listing = {r["id"]: r for r in json.loads(env("log", "--json").stdout)}
    assert listing[killed.id]["unfinished"] and not listing[running.id]["unfinished"]
    table = env("log").stdout
    assert "unfinished" in table and "(running)" in table

    assert env("log", "prune").exit_code == 2  # says what to prune
    result = env("log", "prune", "--unfinished", "--older-than", "1")
    assert result.exit_code == 0 and "deleted 1 unfinished run(s)" in result.stderr
    store = Log(env.db)
    assert {r.id for r in store.list_runs()} == {runs[0].id, running.id}
    assert store.db["iterations"].count == store.db["findings"].count == store.db["labels"].count == 2
    store.close()


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "binary file"),
        ('name = "caf\u00e9"\n'.encode("latin-1"), "not UTF-8 text"),
    ],
    ids=["binary", "latin-1"],
)
def test_analyze_refuses_binary_and_non_utf8_files(env, tmp_path, content, message):
    path = tmp_path / "input.py"
    path.write_bytes(content)
    result = env("analyze", str(path))
    assert result.exit_code == 2
    assert message in one_error_line(result)


def test_analyze_refuses_a_file_over_the_size_cap(env, tmp_path):
    path = tmp_path / "huge.py"
    with path.open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)  # sparse, but NUL bytes: the size check comes first
    result = env("analyze", str(path))
    assert result.exit_code == 2 and "larger than 10 MB" in one_error_line(result)


def patchloop(*args, env_vars=None, **kwargs):
    """The real command in a child process (the console script's main())."""
    code = "import sys; from patchloop.cli import main; sys.argv[0] = 'patchloop'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env_vars or {})},
        **kwargs,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_analyze_refuses_a_fifo_and_a_device_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    env_vars = {"PATCHLOOP_CONFIG": str(tmp_path / "c.toml")}
    for target in (str(fifo), "/dev/zero"):
        result = patchloop("--db", str(tmp_path / "l.db"), "analyze", target, env_vars=env_vars, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_run_with_a_non_utf8_prompt_file_exits_2(env, tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: ScriptedBackend([BAD]))
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes("Écris une fonction".encode("latin-1"))
    result = env("run", "-f", str(prompt))
    assert result.exit_code == 2
    assert "not UTF-8" in one_error_line(result)
    assert not env.db.exists() or Log(env.db).list_runs() == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("loop = 5\n", "must be a [loop] table"),
        ("keys = 3\n", "must be a [keys] table"),
        ("[loop]\nanalyzer_timeout = -1\n", "loop.analyzer_timeout"),
        ("[loop]\nanalyzer_timeout = nan\n", "loop.analyzer_timeout"),
        ("[model]\ntop_p = 7\n", "model.top_p"),
        ('[keys]\ncompare = ""\n', "keys.compare"),
    ],
    ids=["section-not-table", "keys-not-table", "negative-timeout", "nan-timeout", "top-p", "empty-key"],
)
def test_a_bad_config_file_exits_2_on_any_command(env, text, message):
    env.config.write_text(text, encoding="utf-8")
    result = env("log")
    assert result.exit_code == 2
    assert message in one_error_line(result)


@pytest.mark.parametrize(
    "key, value",
    [
        ("loop.analyzer_timeout", "-1"),
        ("loop.analyzer_timeout", "0"),
        ("model.temperature", "-2"),
        ("model.temperature", "2.5"),
        ("model.top_p", "7"),
        ("model.top_p", "0"),
        ("model.max_new_tokens", "0"),
        ("model.seed", "-5"),
        ("model.timeout", "0"),
        ("loop.t_max", "-1"),
    ],
)
def test_config_set_range_checks_numbers(env, key, value):
    result = env("config", "set", key, value)
    assert result.exit_code == 2, result.output
    assert key in one_error_line(result)
    assert not env.config.exists()  # nothing saved


def test_config_set_checks_key_bindings(env):
    result = env("config", "set", "keys.compare", "c")  # c labels an iteration chosen
    assert result.exit_code == 2
    assert "bound to both compare and label_chosen" in one_error_line(result)
    result = env("config", "set", "keys.no_such_binding", "z")
    assert result.exit_code == 2 and "unknown key binding id" in one_error_line(result)
    assert env("config", "set", "keys.compare", "v").exit_code == 0


def test_the_app_refuses_clashing_key_bindings_before_it_opens(env, monkeypatch):
    import patchloop.tui.app as app_module

    monkeypatch.setattr(app_module, "run_app", lambda config: pytest.fail("the app opened"))
    env.config.write_text('[keys]\ncompare = "ctrl+q"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(env.db)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "bound to both compare and quit" in one_error_line(result)


def test_eval_out_to_an_unwritable_path_keeps_the_results(env, tmp_path, monkeypatch):
    monkeypatch.setattr(loop_settings_module, "analyze_code", lambda code, *a, **k: Analysis())
    monkeypatch.setattr("patchloop.cli_eval_run._check_analyzers", lambda *args: None)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = env(
        "eval", "humaneval", "--canonical", "--tasks", "0", "--no-tests", "--out", str(blocker / "r.md")
    )
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "stored in the log" in line and "patchloop eval report 1" in line
    assert "reference:humaneval" in result.stdout  # the report still reached stdout
    again = env("eval", "report", "1")
    assert again.exit_code == 0 and "reference:humaneval" in again.stdout


# -- Ctrl-C --------------------------------------------------------------------------------------

SLOW_ANALYZE = """
import signal, sys, time
import patchloop.core.analyzers as analyzers
from patchloop.cli import main

# A background job of a non-interactive shell (CI started with `&`) starts with SIGINT ignored, and
# Python then leaves it ignored; a terminal's Ctrl-C is what this test is about.
signal.signal(signal.SIGINT, signal.default_int_handler)

def slow(*args, **kwargs):
    print("analyzing", file=sys.stderr, flush=True)
    time.sleep(60)

analyzers.analyze_file = slow
sys.argv = ["patchloop", *sys.argv[1:]]
main()
"""


def test_ctrl_c_in_analyze_exits_130(tmp_path):
    source = tmp_path / "code.py"
    source.write_text("x = 1\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_ANALYZE, "--db", str(tmp_path / "l.db"), "analyze", str(source)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATCHLOOP_CONFIG": str(tmp_path / "c.toml")},
    )
    assert proc.stderr.readline().strip() == "analyzing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=30) == 130, stderr
    assert "Aborted!" not in stderr and "Traceback" not in stderr and "cancelled" in stderr


def test_main_keeps_clicks_exit_codes(tmp_path):
    env_vars = {"PATCHLOOP_CONFIG": str(tmp_path / "c.toml")}
    assert patchloop("--help", env_vars=env_vars).returncode == 0
    bad = patchloop("log", "--no-such-option", env_vars=env_vars)
    assert bad.returncode == 2 and "No such option" in bad.stderr
    assert patchloop("analyze", str(tmp_path / "missing.py"), env_vars=env_vars).returncode == 2
