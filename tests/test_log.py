"""The SQLite log: migrations, WAL, labels, reading runs back, locked and corrupt files."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

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
    it = Iteration(index=0, prompt=[{"role": "user", "content": "x"}], response="r", code="c\n",
                   findings=[finding], completion_tokens=7, tests_passed=False)
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
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"{batch}-{k}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(6)]
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
