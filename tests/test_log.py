"""The SQLite log: migrations, WAL, labels, reading runs back, locked and corrupt files."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils
from patchloop.core import times
from patchloop.core.log import Log, LogError
from patchloop.core.migrations import MIGRATIONS, migrate
from patchloop.core.types import Finding, Iteration, Run


def make_run() -> Run:
    return Run(prompt="sum positives", model="m", analyzers="all", t_max=3, threshold="note")


def test_migrations_apply_once_and_in_order(tmp_path):
    db = sqlite_utils.Database(tmp_path / "a.db")
    applied = migrate(db)
    assert applied == [fn.__name__ for fn in MIGRATIONS]
    assert migrate(db) == []  # idempotent
    assert {"runs", "iterations", "findings", "labels", "_migrations"} <= set(db.table_names())
    assert "adapter" in db["runs"].columns_dict


def test_a_database_from_an_older_version_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    MIGRATIONS[0](db)  # a v1 database: runs/iterations/findings only
    db["_migrations"].insert({"name": MIGRATIONS[0].__name__, "applied_at": "then"})
    db["runs"].insert({"prompt": "old run", "model": "m"})
    db.conn.close()
    store = Log(path)
    assert store.list_runs()[0].prompt == "old run"
    assert "labels" in store.db.table_names()


def test_wal_mode(tmp_path):
    store = Log(tmp_path / "w.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_round_trip_of_a_run(tmp_path):
    store = Log(tmp_path / "r.db")
    run = make_run()
    store.start_run(run)
    finding = Finding("bandit", "B307", "error", "eval", 3, 4, "high", "CWE-78", also=("ruff:S307",))
    it = Iteration(
        index=0,
        prompt=[{"role": "user", "content": "x"}],
        response="r",
        code="c\n",
        findings=[finding],
        completion_tokens=7,
        tests_passed=False,
    )
    store.add_iteration(run.id, it)
    run.iterations.append(it)
    run.stop_reason = "t_max"
    store.finish_run(run)
    loaded = store.load_run(run.id)
    assert loaded.stop_reason == "t_max"
    assert loaded.iterations[0].findings == [finding]
    assert loaded.iterations[0].tests_passed is False
    assert loaded.iterations[0].prompt == [{"role": "user", "content": "x"}]
    summary = store.list_runs(search="positives")[0]
    assert (summary.first_findings, summary.last_findings, summary.n_iterations) == (1, 1, 1)
    assert store.list_runs(search="nothing like it") == []


def test_labels_replace_and_clear(tmp_path):
    store = Log(tmp_path / "l.db")
    run = make_run()
    store.start_run(run)
    iteration_id = store.add_iteration(run.id, Iteration(index=0, prompt=[], code="x\n"))
    store.set_label(iteration_id, "chosen")
    store.set_label(iteration_id, "rejected")
    assert store.labels_for_run(run.id) == {0: "rejected"}
    store.set_label(iteration_id, None)
    assert store.labels_for_run(run.id) == {}
    with pytest.raises(ValueError):
        store.set_label(iteration_id, "great")
    with pytest.raises(LogError, match="no iteration"):
        store.set_label(999, "chosen")


def test_corrupt_file_is_a_clear_error_and_left_untouched(tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    before = path.read_bytes()
    with pytest.raises(LogError, match="not a readable SQLite file"):
        Log(path)
    assert path.read_bytes() == before


def test_locked_database_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.db"
    Log(path).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(LogError, match="locked"):
        store = Log(path, busy_timeout=0.1)
        store.start_run(make_run())
    holder.rollback()
    holder.close()


def test_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(LogError, match="no run with id 42"):
        Log(tmp_path / "e.db").load_run(42)


# One writer process: a run with a few iterations and findings, as `patchloop run` logs it.
WRITER = """
import sys
from patchloop.core.log import Log
from patchloop.core.types import Finding, Iteration, Run

log = Log(sys.argv[1], busy_timeout=30)
run = Run(prompt="writer " + sys.argv[2], model="m", analyzers="all", t_max=3, threshold="note")
log.start_run(run)
for index in range(4):
    finding = Finding("bandit", "B602", "error", "shell=True", 3, 1, "high", "CWE-78")
    it = Iteration(index=index, prompt=[], response="r", code="x = %d\\n" % index, findings=[finding])
    log.add_iteration(run.id, it)
    run.iterations.append(it)
run.stop_reason = "t_max"
log.finish_run(run)
"""


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "existing"])
def test_concurrent_writer_processes_all_land(tmp_path, fresh):
    import subprocess
    import sys

    path = tmp_path / "shared.db"
    if not fresh:
        Log(path).close()
    failures = []
    for batch in range(3):  # 18 writers, 6 at a time
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), f"{batch}-{k}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(6)
        ]
        for proc in procs:
            _, stderr = proc.communicate(timeout=120)
            if proc.returncode:
                failures.append(stderr.strip().splitlines()[-1:])
    assert failures == []
    store = Log(path)
    runs = store.list_runs(limit=100)
    assert len(runs) == 18
    assert all(r.stop_reason == "t_max" and r.n_iterations == 4 for r in runs)
    assert store.db["findings"].count == 18 * 4
    assert len(store.list_runs(limit=100, search="writer")) == 18


# -- full-text search ---------------------------------------------------------------------------------


def logged_run(
    store: Log,
    prompt: str,
    code: str = "x = 1\n",
    findings: tuple[Finding, ...] = (),
    stop: str | None = "clean",
    **start,
) -> int:
    run = Run(prompt=prompt, model="m", analyzers="all", t_max=3, threshold="note")
    store.start_run(run, **start)
    it = Iteration(index=0, prompt=[], response="r", code=code, findings=list(findings))
    store.add_iteration(run.id, it)
    run.iterations.append(it)
    if stop:
        run.stop_reason, run.finished_at = stop, times.now()
        store.finish_run(run)
    return run.id


SHELL = Finding(
    "bandit", "B602", "error", "subprocess call with shell=True identified", 2, 1, "high", "CWE-78"
)


def test_search_covers_prompt_code_and_findings_best_match_first(tmp_path):
    store = Log(tmp_path / "s.db")
    in_code = logged_run(
        store, "read a file", code="import hashlib\n\ndef digest(data):\n    return hashlib.md5(data)\n"
    )
    in_prompt = logged_run(store, "hash a password")
    in_finding = logged_run(
        store,
        "run a command",
        findings=(
            Finding("bandit", "B324", "error", "Use of weak MD5 hash for security", 4, 1, "high", "CWE-327"),
        ),
    )
    unrelated = logged_run(store, "sum positives")
    found = [r.id for r in store.list_runs(search="hash")]
    assert found[0] == in_prompt and set(found) == {in_prompt, in_finding, in_code}  # the prompt counts most
    assert [r.id for r in store.list_runs(search="hashlib")] == [in_code]
    assert [r.id for r in store.list_runs(search="CWE-327")] == [in_finding]
    assert [r.id for r in store.list_runs(search="B324")] == [in_finding]
    assert [r.id for r in store.list_runs(search="sum pos")] == [unrelated]  # words are prefixes, ANDed
    assert store.list_runs(search="sum hash") == []
    assert [r.id for r in store.list_runs(search="hash", limit=2, offset=1)] == found[1:]


def test_search_ranks_a_finding_above_the_same_word_in_code(tmp_path):
    store = Log(tmp_path / "rank.db")

    def unused(name: str) -> Finding:
        return Finding("ruff", "F841", "warning", f"{name} is unused", 1)

    # Two runs of the same length, "zebra" once in each: in the code, in a finding.
    # (The finding's run is the older: on a tie the newer would come first.)
    in_finding = logged_run(store, "two", code="y = 1\n", findings=(unused("zebra"),))
    in_code = logged_run(store, "one", code="zebra = 1\n", findings=(unused("y"),))
    for number in range(8):  # bm25 counts a word only when it is rare
        logged_run(store, f"other {number}")
    assert [r.id for r in store.list_runs(search="zebra")] == [in_finding, in_code]


def test_search_follows_new_iterations_and_findings(tmp_path):
    store = Log(tmp_path / "f.db")
    run_id = logged_run(store, "run a shell command", code="import os\n")
    assert store.list_runs(search="subprocess") == []
    store.add_iteration(run_id, Iteration(index=1, prompt=[], code="import subprocess\n", findings=[SHELL]))
    store.add_iteration(
        run_id, Iteration(index=2, prompt=[], code="import subprocess  # v2\n", findings=[SHELL])
    )
    assert [r.id for r in store.list_runs(search="subprocess")] == [run_id]
    assert [r.id for r in store.list_runs(search="bandit:B602")] == [run_id]
    text = store.db["runs"].get(run_id)["search_findings"]
    assert text.count("B602") == 1  # a finding repeated across iterations is indexed once


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        "-",
        "*",
        ":",
        '"unbalanced',
        "a:b",
        "-shell",
        "shell*",
        "NOT",
        "AND OR",
        "(",
        ")",
        "NEAR(a b)",
        "col:umn",
        "^x",
        "x OR",
        '""',
        "'; DROP TABLE runs; --",
        "   ",
        "über",
        "a\tb",
        "%",
        "_",
    ],
)
def test_search_with_query_syntax_characters_does_not_fail(tmp_path, query):
    store = Log(tmp_path / "q.db")
    logged_run(store, "run a shell command", code="subprocess.call(cmd, shell=True)\n", findings=(SHELL,))
    store.list_runs(search=query)  # no exception is the point
    assert store.db["runs"].count == 1


@pytest.mark.parametrize("query", ["shell=True", '"shell', "shell-command", "CWE-78", "(shell)", "shell*"])
def test_search_characters_are_plain_text(tmp_path, query):
    store = Log(tmp_path / "p.db")
    run_id = logged_run(
        store, "run a shell command", code="subprocess.call(cmd, shell=True)\n", findings=(SHELL,)
    )
    logged_run(store, "sum positives")
    assert [r.id for r in store.list_runs(search=query)] == [run_id]


def test_search_and_source_filter_combine(tmp_path):
    store = Log(tmp_path / "src.db")
    cli_run = logged_run(store, "parse numbers")
    with store.lock:
        store.db["runs"].update(cli_run, {"source": "cli"})
    tui_run = logged_run(store, "parse dates")
    with store.lock:
        store.db["runs"].update(tui_run, {"source": "tui"})
    assert [r.id for r in store.list_runs(search="parse", source="tui")] == [tui_run]


def test_search_query_quotes_everything():
    from patchloop.core.log import search_query

    assert search_query('say "hi" -x *') == '"say"* """hi"""* "-x"*'
    assert search_query(" - * : ") is None


# -- the old database, migrated -----------------------------------------------------------------------


def test_migration_brings_search_times_and_indexes_to_an_old_database(tmp_path):
    path = tmp_path / "v6.db"
    db = sqlite_utils.Database(path)
    db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    for fn in MIGRATIONS[:6]:  # a database as m006 left it: FTS on the prompt only, epoch times
        fn(db)
        db["_migrations"].insert({"name": fn.__name__, "applied_at": "2025-01-02T03:04:05.678901+00:00"})
    run_id = (
        db["runs"]
        .insert(
            {
                "created": "2025-01-02T03:04:05+00:00",
                "prompt": "old run",
                "model": "m",
                "started_at": 1735787045.5,
                "finished_at": 1735787050.25,
                "stop_reason": "clean",
                "n_iterations": 1,
            }
        )
        .last_pk
    )
    iteration_id = (
        db["iterations"]
        .insert(
            {"run_id": run_id, "idx": 0, "code": "import pickle\n", "created": "2025-01-02T03:04:06+00:00"}
        )
        .last_pk
    )
    db["findings"].insert(
        {
            "iteration_id": iteration_id,
            "tool": "bandit",
            "rule_id": "B403",
            "severity": "note",
            "cwe": "CWE-502",
            "message": "Consider possible security implications of pickle",
        }
    )
    db.conn.close()

    store = Log(path)
    assert [r.id for r in store.list_runs(search="old")] == [run_id]
    assert [r.id for r in store.list_runs(search="pickle")] == [run_id]  # code and finding indexed
    assert [r.id for r in store.list_runs(search="CWE-502")] == [run_id]
    loaded = store.load_run(run_id)
    assert (loaded.started_at, loaded.finished_at) == (
        "2025-01-02T03:04:05+00:00",
        "2025-01-02T03:04:10+00:00",
    )
    row = store.db["runs"].get(run_id)
    assert (
        row["started_at"] == "2025-01-02T03:04:05+00:00"
        and store.db["runs"].columns_dict["started_at"] is str
    )
    assert {r[0] for r in store.db.execute("SELECT applied_at FROM _migrations")} <= {
        "2025-01-02T03:04:05+00:00",
        *[
            r[0]
            for r in store.db.execute(
                "SELECT applied_at FROM _migrations WHERE applied_at NOT LIKE '2025-01-02%'"
            )
        ],
    }
    assert all(len(r[0]) == 25 for r in store.db.execute("SELECT applied_at FROM _migrations"))
    assert ["eval_run_id"] in [i.columns for i in store.db["runs"].indexes]
    assert ["run_id"] in [i.columns for i in store.db["eval_tasks"].indexes]
    # The old run still works with new writes: labels, iterations, and the search follows them.
    store.add_iteration(run_id, Iteration(index=1, prompt=[], code="import json\n"))
    assert [r.id for r in store.list_runs(search="json")] == [run_id]
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_one_time_format(tmp_path):
    import re

    store = Log(tmp_path / "t.db")
    run_id = logged_run(store, "p")
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
    row = store.db["runs"].get(run_id)
    assert all(iso.fullmatch(row[column]) for column in ("created", "started_at", "finished_at"))
    assert iso.fullmatch(store.db.execute("SELECT created FROM iterations").fetchone()[0])
    assert all(iso.fullmatch(r[0]) for r in store.db.execute("SELECT applied_at FROM _migrations"))
    loaded = store.load_run(run_id)
    assert iso.fullmatch(loaded.started_at) and iso.fullmatch(loaded.finished_at)
    # Older forms are read, and printed one way.
    for stored in (
        "2025-06-01T10:30:00+00:00",
        "2025-06-01T10:30:00.123456+00:00",
        "2025-06-01T10:30:00Z",
        "2025-06-01T10:30:00",
        1748773800.0,
        "1748773800.0",
    ):
        assert times.normalize(stored) == "2025-06-01T10:30:00+00:00"
        assert times.display(stored) == "2025-06-01 10:30"
    assert times.normalize(None) is None and times.display("not a time") == ""


# -- pruning ------------------------------------------------------------------------------------------


def make_eval(store: Log, n_tasks: int = 2) -> tuple[int, list[int]]:
    from patchloop.core.evaluation import EvalSpec, EvalStore
    from patchloop.core.evaluation.metrics import TaskResult

    evals = EvalStore(store)
    eval_id = evals.create(
        EvalSpec(benchmark="humaneval", model="m", task_ids=[f"t{i}" for i in range(n_tasks)])
    )
    run_ids = []
    for position in range(n_tasks):
        run_id = logged_run(store, f"task {position}", task_id=f"t{position}", eval_run_id=eval_id)
        evals.record(
            eval_id, position, TaskResult(task_id=f"t{position}", benchmark="humaneval", run_id=run_id)
        )
        run_ids.append(run_id)
    evals.set_status(eval_id, "finished")
    return eval_id, run_ids


def age_everything(store: Log, days: float) -> None:
    import datetime

    old = times.ago(datetime.timedelta(days=days))
    with store.lock:
        for table in ("runs", "iterations", "eval_runs", "eval_tasks"):
            store.db.execute(f"UPDATE {table} SET created = ?", [old])


def test_prune_an_evaluation(tmp_path):
    from patchloop.core.log import LogNotFound

    store = Log(tmp_path / "e.db")
    keep = logged_run(store, "not part of it")
    eval_id, run_ids = make_eval(store)
    other_eval, other_runs = make_eval(store, 1)
    dry = store.prune(evals=(eval_id,), dry_run=True)
    assert (sorted(dry.runs), dry.eval_tasks, dry.evals) == (run_ids, 2, [eval_id])
    assert store.db["runs"].count == 4  # nothing deleted
    pruned = store.prune(evals=(eval_id,))
    assert (sorted(pruned.runs), pruned.eval_tasks) == (run_ids, 2)
    assert {r.id for r in store.list_runs()} == {keep, *other_runs}
    assert [r["id"] for r in store.db["eval_runs"].rows] == [other_eval]
    assert store.db["eval_tasks"].count == 1 and store.db["findings"].count == 0
    assert [r.id for r in store.list_runs(search="task")] == other_runs  # gone from the search index too
    with pytest.raises(LogNotFound, match="no evaluation with id 99"):
        store.prune(evals=(99,))


def test_prune_refuses_a_running_evaluation(tmp_path):
    from patchloop.core.evaluation import EvalStore
    from patchloop.core.log import LogInUse

    store = Log(tmp_path / "r.db")
    eval_id, _ = make_eval(store)
    EvalStore(store).set_status(eval_id, "running")
    with pytest.raises(LogInUse, match="still running"):
        store.prune(evals=(eval_id,))
    age_everything(store, 1)  # its process died a day ago
    assert len(store.prune(evals=(eval_id,)).runs) == 2


def test_prune_finished_runs_by_age_keeps_evaluations(tmp_path):
    import datetime

    store = Log(tmp_path / "a.db")
    make_eval(store)
    finished = logged_run(store, "old and done")
    unfinished = logged_run(store, "old, killed", stop=None)
    age_everything(store, 10)
    recent = logged_run(store, "new")
    pruned = store.prune(finished=datetime.timedelta(days=7))
    assert sorted(pruned.runs) == [finished]  # not the eval's runs, the unfinished one or the new one
    assert store.prune_unfinished(datetime.timedelta(days=7)) == [unfinished]
    assert store.db["runs"].count == 3 and store.db["runs"].get(recent)


def test_log_prune_command(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from patchloop.cli import cli

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    path = tmp_path / "cli.db"
    store = Log(path)
    eval_id, run_ids = make_eval(store)
    store.close()

    def invoke(*args):
        return CliRunner().invoke(cli, ["--db", str(path), "log", "prune", *args], catch_exceptions=False)

    result = invoke("--eval", str(eval_id), "--dry-run")
    assert (
        result.exit_code == 0
        and f"would delete 1 evaluation(s) ({eval_id}) with 2 task(s), 2 run(s)" in result.stderr
    )
    result = invoke("--eval", str(eval_id), "--json")
    assert json.loads(result.stdout) == {
        "dry_run": False,
        "runs": run_ids,
        "eval_tasks": 2,
        "evals": [eval_id],
    }
    for args, message in (
        (["--eval", str(eval_id)], "no evaluation with id"),
        ([], "say what to prune"),
        (["--finished"], "--older-than DAYS"),
    ):
        result = invoke(*args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    result = invoke("--finished", "--older-than", "0")
    assert result.exit_code == 0 and "deleted 0 finished run(s)" in result.stderr


def test_log_search_command(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from patchloop.cli import cli

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    path = tmp_path / "cli.db"
    store = Log(path)
    run_id = logged_run(
        store, "run a shell command", code="subprocess.call(cmd, shell=True)\n", findings=(SHELL,)
    )
    store.close()
    for query, expected in (("shell=True", [run_id]), ('"', []), ("-x:*", []), ("B602", [run_id])):
        result = CliRunner().invoke(cli, ["--db", str(path), "log", "--search", query, "--json"])
        assert result.exit_code == 0, result.output
        assert [r["id"] for r in json.loads(result.stdout)] == expected
