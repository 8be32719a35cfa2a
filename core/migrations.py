"""Versioned schema migrations for the SQLite log (in the style of the `llm` CLI).

Each migration is a function that takes a sqlite_utils.Database and runs once; the names of the
applied ones are kept in the ``_migrations`` table. Append new migrations at the end; never edit
or reorder one that has shipped, because users' databases already recorded it as applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from . import times

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = []


def migration(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
    MIGRATIONS.append(fn)
    return fn


def _applied(db: sqlite_utils.Database) -> set[str]:
    if not db.table("_migrations").exists():
        return set()
    return {row[0] for row in db.execute("SELECT name FROM _migrations")}


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations in order, in one transaction; return the names applied.

    Two processes may open a new database at once: the pending ones are looked up again after
    BEGIN IMMEDIATE has taken the write lock, so only one of them applies each migration (the
    other waits for the busy timeout, then finds nothing left to do). An up-to-date database is
    only read, never locked."""
    if _applied(db) >= {fn.__name__ for fn in MIGRATIONS}:
        return []
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        db.table("_migrations").create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
        done = _applied(db)
        applied = []
        for fn in MIGRATIONS:
            if fn.__name__ in done:
                continue
            fn(db)
            db.table("_migrations").insert({"name": fn.__name__, "applied_at": times.now()})
            applied.append(fn.__name__)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("runs").create(
        {
            "id": int,
            "created": str,
            "prompt": str,
            "language": str,
            "model": str,
            "backend": str,
            "server": str,
            "analyzers": str,
            "t_max": int,
            "threshold": str,
            "stop_reason": str,
            "error": str,
            "best_index": int,
            "n_iterations": int,
            "started_at": float,
            "finished_at": float,
            "source": str,
        },
        pk="id",
    )
    db.table("iterations").create(
        {
            "id": int,
            "run_id": int,
            "idx": int,
            "prompt": str,  # JSON list of chat messages sent to the model
            "response": str,
            "code": str,
            "n_findings": int,
            "analyzer_errors": str,  # JSON list
            "prompt_tokens": int,
            "completion_tokens": int,
            "gen_seconds": float,
            "analysis_seconds": float,
            "tests_passed": int,  # NULL when the prompt has no tests
            "error": str,
            "created": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("iterations").create_index(["run_id", "idx"], unique=True)
    db.table("findings").create(
        {
            "id": int,
            "iteration_id": int,
            "tool": str,
            "rule_id": str,
            "severity": str,
            "confidence": str,
            "cwe": str,
            "line": int,
            "column": int,
            "message": str,
            "also": str,  # JSON list of merged tool:rule ids
        },
        pk="id",
        foreign_keys=[("iteration_id", "iterations", "id")],
    )
    db.table("findings").create_index(["iteration_id"])
    db.table("runs").enable_fts(["prompt"], create_triggers=True)


@migration
def m002_labels(db: sqlite_utils.Database) -> None:
    # Human judgements from the app; the pair harvest reads these before anything else.
    db.table("labels").create(
        {"id": int, "iteration_id": int, "label": str, "note": str, "created": str},
        pk="id",
        foreign_keys=[("iteration_id", "iterations", "id")],
    )
    db.table("labels").create_index(["iteration_id"], unique=True)


@migration
def m003_run_provenance(db: sqlite_utils.Database) -> None:
    # Which adapter produced a run, and which benchmark task it answered (NULL outside eval).
    db.table("runs").add_column("adapter", str)
    db.table("runs").add_column("task_id", str)
    db.table("runs").add_column("eval_run_id", int)
    db.table("runs").create_index(["task_id"])


@migration
def m004_eval_tables(db: sqlite_utils.Database) -> None:
    # One row per evaluation (benchmark x model x analyzer suite) and one per finished task, so an
    # interrupted eval resumes where it stopped (`patchloop eval ... --resume ID`). Task rows keep
    # the scalar metrics for SQL and the whole per-task result as JSON in ``detail``.
    db.table("eval_runs").create(
        {
            "id": int,
            "created": str,
            "benchmark": str,
            "model": str,
            "adapter": str,
            "analyzers": str,
            "t_max": int,
            "threshold": str,
            "settings": str,  # JSON: task ids in order, generation params, skip list, tests on/off ...
            "status": str,  # running | finished | cancelled | failed
            "finished": str,
            "n_tasks": int,
        },
        pk="id",
    )
    db.table("eval_tasks").create(
        {
            "id": int,
            "eval_run_id": int,
            "position": int,  # the task's place in the eval's task order
            "task_id": str,
            "language": str,
            "run_id": int,  # NULL for tasks no analyzer covers and nothing was generated for
            "outcome": str,
            "stop_reason": str,
            "n_iterations": int,
            "best_index": int,
            "passed_first": int,  # NULL when the task has no tests or tests were off
            "passed_final": int,
            "clean_first": int,
            "clean_final": int,
            "findings_first": int,
            "findings_final": int,
            "vulnerable_first": int,
            "vulnerable_final": int,
            "bleu_first": float,
            "bleu_final": float,
            "detail": str,  # JSON of the whole TaskResult
            "created": str,
        },
        pk="id",
        foreign_keys=[("eval_run_id", "eval_runs", "id"), ("run_id", "runs", "id")],
    )
    db.table("eval_tasks").create_index(["eval_run_id", "task_id"], unique=True)


@migration
def m005_iteration_origin(db: sqlite_utils.Database) -> None:
    # Where each iteration's code came from (model | autofix | candidate), the rewrites autofix
    # applied, and every candidate drawn for a repair step: the unchosen ones are preference pairs
    # that cost no extra generation. Older rows are model answers.
    db.table("iterations").add_column("origin", str, not_null_default="model")
    db.table("iterations").add_column("candidate", int)
    db.table("iterations").add_column("fixes", str)  # JSON list of {rule, line, description}
    db.table("candidates").create(
        {
            "id": int,
            "iteration_id": int,
            "k": int,  # 0: the greedy answer; 1..n sampled
            "n": int,
            "temperature": float,
            "seed": int,
            "response": str,
            "code": str,
            "n_findings": int,
            "findings": str,  # JSON list of findings
            "analyzer_errors": str,  # JSON list
            "tests_passed": int,
            "closeness": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "chosen": int,
        },
        pk="id",
        foreign_keys=[("iteration_id", "iterations", "id")],
    )
    db.table("candidates").create_index(["iteration_id"])


@migration
def m006_candidate_request(db: sqlite_utils.Database) -> None:
    # Which request a candidate answered: "repair" (the code and its findings) or "rewrite" (the
    # task and the problems to avoid, no code). Older candidates all answered repair requests.
    db.table("candidates").add_column("request", str, not_null_default="repair")


@migration
def m007_finding_end(db: sqlite_utils.Database) -> None:
    # Where a finding's flagged code ends (SARIF's endLine/endColumn); 0 where the tool did not
    # say, as for every finding logged before.
    db.table("findings").add_column("end_line", int, not_null_default=0)
    db.table("findings").add_column("end_column", int, not_null_default=0)


# The text each finding adds to its run's search column: "bandit:B602 CWE-78 subprocess call with shell=True".
_FINDING_TEXT = (
    "new.tool || ':' || new.rule_id || ' ' || COALESCE(new.cwe, '') || ' ' || COALESCE(new.message, '')"
)


@migration
def m008_search_times_indexes(db: sqlite_utils.Database) -> None:
    # Full-text search over each run's prompt, code and findings (ranked; `log --search`, the app's
    # history), one time format (ISO 8601 UTC, core/times.py) and indexes for the eval joins.
    runs = db.table("runs")
    runs.disable_fts()  # the prompt-only index of m001, rebuilt below with the new columns
    # started_at/finished_at were epoch seconds (REAL); now the same ISO text as every other time,
    # in TEXT columns. Plain ALTER TABLE rather than sqlite-utils' transform(), which rebuilds the
    # table: inside this transaction, with foreign keys on, dropping a parent table is refused.
    retype = sqlite3.sqlite_version_info >= (3, 35, 0)  # DROP COLUMN; older: the values only
    for column in ("started_at", "finished_at"):
        source = f"{column}_epoch" if retype else column
        if retype:
            db.execute(f"ALTER TABLE runs RENAME COLUMN {column} TO {source}")
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
        db.execute(
            f"UPDATE runs SET {column} = CASE WHEN typeof({source}) IN ('real', 'integer') "
            f"THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', {source}, 'unixepoch') ELSE {source} END"
        )
        if retype:
            db.execute(f"ALTER TABLE runs DROP COLUMN {source}")
    db.execute(
        "UPDATE _migrations SET applied_at = substr(applied_at, 1, 19) || '+00:00' "
        "WHERE applied_at LIKE '____-__-__T__:__:__.%+00:00'"
    )
    # Every iteration's code and every distinct finding of a run, kept up to date by triggers (so
    # any writer keeps the index right) and indexed with the prompt in runs_fts.
    runs.add_column("search_code", str)
    runs.add_column("search_findings", str)
    db.execute("""
        UPDATE runs SET
          search_code = (SELECT group_concat(code, char(10)) FROM
                           (SELECT code FROM iterations WHERE run_id = runs.id AND code != '' ORDER BY idx)),
          search_findings = (SELECT group_concat(text, char(10)) FROM
                           (SELECT DISTINCT f.tool || ':' || f.rule_id || ' ' || COALESCE(f.cwe, '') || ' '
                                            || COALESCE(f.message, '') AS text
                              FROM findings f JOIN iterations i ON f.iteration_id = i.id
                             WHERE i.run_id = runs.id ORDER BY f.id))
    """)
    db.executescript(f"""
        CREATE TRIGGER iterations_search AFTER INSERT ON iterations
        WHEN new.code IS NOT NULL AND new.code != '' BEGIN
          UPDATE runs SET search_code = COALESCE(search_code || char(10), '') || new.code WHERE id = new.run_id;
        END;
        CREATE TRIGGER findings_search AFTER INSERT ON findings BEGIN
          UPDATE runs SET search_findings = COALESCE(search_findings || char(10), '') || ({_FINDING_TEXT})
           WHERE id = (SELECT run_id FROM iterations WHERE id = new.iteration_id)
             AND instr(COALESCE(search_findings, ''), {_FINDING_TEXT}) = 0;
        END;
    """)
    runs.enable_fts(["prompt", "search_code", "search_findings"], create_triggers=True)
    # A match in the prompt counts most, then one in a finding, then one in the code.
    db.execute("INSERT INTO runs_fts (runs_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0, 2.0)')")
    runs.create_index(["eval_run_id"], if_not_exists=True)
    db.table("eval_tasks").create_index(["run_id"], if_not_exists=True)


@migration
def m009_eval_icd(db: sqlite_utils.Database) -> None:
    # CyberSecEval's own detector (ICD) beside the suite's verdict, first attempt and final answer:
    # 1 vulnerable, 0 not, NULL no verdict (another benchmark, or the ICD failed on the code).
    db.table("eval_tasks").add_column("icd_vulnerable_first", int)
    db.table("eval_tasks").add_column("icd_vulnerable_final", int)
