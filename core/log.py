"""The SQLite log: every run, iteration, finding and label, written as the run goes.

One file (WAL mode, so the app can read while a run writes) at a default path in the user's data
directory. Writes happen per iteration, so a crash or Ctrl-C keeps every finished iteration.
"""

from __future__ import annotations

import datetime
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import sqlite_utils

from . import times
from .log_rows import candidate_row, finding_row, inserted_id, iteration_row, new_run_row, run_from_rows
from .migrations import migrate
from .types import Iteration, Run

LABELS = ("chosen", "rejected")

T = TypeVar("T")


class LogError(RuntimeError):
    """The log database cannot be used; the message names the file and what to do."""


class LogNotFound(LogError):
    """A run or iteration asked for is not in the log (bad input, not a broken log)."""


class LogInUse(LogError):
    """What was asked for is refused while another process works on it (bad input, not a broken log)."""


# A run with no stop reason whose last write is older than this is shown as "unfinished": its
# process was killed (kill -9, power loss) before it could record how it ended.
STALE_AFTER = datetime.timedelta(hours=1)


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("patchloop")) / "log.db"


@dataclass
class RunSummary:
    id: int
    created: str
    prompt: str
    model: str
    analyzers: str
    stop_reason: str | None
    n_iterations: int
    best_index: int | None
    first_findings: int | None
    last_findings: int | None
    source: str
    # No stop reason and no write for STALE_AFTER: its process died without finishing it.
    unfinished: bool = False


@dataclass
class Pruned:
    """What ``Log.prune`` deleted (or, in a dry run, would delete)."""

    runs: set[int] = field(default_factory=set)
    eval_tasks: int = 0
    evals: list[int] = field(default_factory=list)


def search_query(text: str) -> str | None:
    """``text`` as an FTS5 query that cannot fail: each word is quoted, so quotes, ``-``, ``*``,
    ``:``, AND/OR/NOT and parentheses are plain text, and matches as a prefix, so a search typed
    letter by letter finds as it goes ("pars" finds "parse"). Words are ANDed. None when no word
    has a letter or digit (an empty phrase would make the whole query match nothing)."""
    terms = [term for term in text.split() if any(ch.isalnum() for ch in term)]
    if not terms:
        return None
    return " ".join('"' + term.replace('"', '""') + '"*' for term in terms)


class Log:
    """Thread-safe handle on the log database (the app writes from a worker thread)."""

    def __init__(self, path: str | Path | None = None, *, busy_timeout: float = 5.0):
        self.path = Path(path).expanduser() if path else default_db_path()
        # Hold it while reading through ``db`` from another thread (the app writes from a worker).
        self.lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogError(
                f"cannot create the folder of the log database {self.path}: {exc.strerror or exc}; "
                "pass --db with a file in a folder you can write"
            ) from None
        conn = None
        try:
            # isolation_level=None: no implicit deferred transactions; ``write`` and the migrations
            # take the write lock up front with BEGIN IMMEDIATE, so concurrent writers wait for
            # each other (the busy timeout) instead of failing at once when a read inside a
            # deferred transaction (the full-text trigger) has to be upgraded to a write.
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
            )
            # A file with a good header and corrupt pages: refuse it before anything writes to it.
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
            self.db = sqlite_utils.Database(conn)
            with self.lock:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                migrate(self.db)
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise LogError(
                    f"the log database {self.path} is locked by another process; "
                    "close it or pass --db with another file"
                ) from exc
            raise LogError(f"cannot open the log database {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise LogError(
                f"the log database {self.path} is not a readable SQLite file ({exc}); it was left untouched: "
                "move it aside to start a fresh log, or pass --db with another file"
            ) from exc

    # -- writing ---------------------------------------------------------------------------------

    def write(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which writes through ``self.db``) in one transaction under the lock; a
        locked or failing database becomes a ``LogError``.

        The transaction starts with BEGIN IMMEDIATE: it takes the write lock first (waiting up to
        the busy timeout for another process's write to end), so no read inside it can later fail
        to upgrade. Writes nested in ``fn`` (sqlite-utils' own) become savepoints in it."""
        with self.lock:
            conn = self.db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn()
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise LogError(
                        f"the log database {self.path} stayed locked by another process: {exc}"
                    ) from exc
                raise LogError(f"writing the log database {self.path} failed: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise LogError(
                    f"writing the log database {self.path} failed (is it corrupt?): {exc}"
                ) from exc

    def start_run(
        self, run: Run, *, adapter: str = "", task_id: str | None = None, eval_run_id: int | None = None
    ) -> int:
        row = new_run_row(run, adapter=adapter, task_id=task_id, eval_run_id=eval_run_id)
        run_id = self.write(lambda: inserted_id(self.db.table("runs").insert(row)))
        run.id = run_id
        return run_id

    def add_iteration(self, run_id: int, it: Iteration) -> int:
        def write() -> int:
            iteration_id = inserted_id(self.db.table("iterations").insert(iteration_row(run_id, it)))
            self.db.table("findings").insert_all(
                [{**finding_row(f), "iteration_id": iteration_id} for f in it.findings]
            )
            self.db.table("candidates").insert_all(
                [{**candidate_row(c), "iteration_id": iteration_id} for c in it.candidates]
            )
            self.db.table("runs").update(run_id, {"n_iterations": it.index + 1})
            return iteration_id

        iteration_id = self.write(write)
        it.id = iteration_id
        return iteration_id

    def finish_run(self, run: Run) -> None:
        run_id = run.id
        if run_id is None:
            return
        values = {
            "stop_reason": run.stop_reason,
            "error": run.error,
            "best_index": run.best_index,
            "finished_at": times.normalize(run.finished_at),
            "n_iterations": len(run.iterations),
        }
        self.write(lambda: self.db.table("runs").update(run_id, values))

    def set_language(self, run_id: int, language: str) -> None:
        """The run's language, once its first answer's code fence showed it (a prompt that named none)."""
        self.write(lambda: self.db.table("runs").update(run_id, {"language": language}))

    def set_label(self, iteration_id: int, label: str | None, note: str = "") -> None:
        """Mark an iteration chosen or rejected; None removes the label."""
        if label is not None and label not in LABELS:
            raise ValueError(f"label must be one of {LABELS} or None, not {label!r}")
        if not self.db.table("iterations").count_where("id = ?", [iteration_id]):
            raise LogNotFound(f"no iteration with id {iteration_id} in {self.path}")

        def write() -> None:
            self.db.execute("DELETE FROM labels WHERE iteration_id = ?", [iteration_id])
            if label is not None:
                self.db.table("labels").insert(
                    {"iteration_id": iteration_id, "label": label, "note": note, "created": times.now()}
                )

        self.write(write)

    # -- reading ---------------------------------------------------------------------------------

    def list_runs(
        self, limit: int = 20, search: str | None = None, source: str | None = None, offset: int = 0
    ) -> list[RunSummary]:
        """The newest runs first; with ``search``, the runs whose prompt, code or findings match
        it, best match first (full-text search, ``search_query``)."""
        where, params = [], []
        if source:
            where.append("runs.source LIKE ?")
            params.append(f"{source}%")
        ids: list[int] | None = None
        if search and search.strip():
            query = search_query(search)
            if query is None:  # punctuation only: no word that could match
                return []
            with self.lock:
                # sqlite-utils' search: ranked by runs_fts' bm25 (prompt, then findings, then code
                # weigh most; m008), the newer run first on a tie.
                ids = [
                    row["id"]
                    for row in self.db.table("runs").search(
                        query,
                        columns=["id"],
                        order_by='"runs_fts".rank, original.id DESC',
                        where="source LIKE :source" if source else None,
                        where_args={"source": f"{source}%"} if source else None,
                        limit=limit,
                        offset=offset,
                    )
                ]
            if not ids:
                return []
            where, params = [f"runs.id IN ({','.join('?' * len(ids))})"], list(ids)
        sql = f"""
            SELECT runs.*,
              (SELECT n_findings FROM iterations i WHERE i.run_id = runs.id ORDER BY idx LIMIT 1) AS first_findings,
              (SELECT n_findings FROM iterations i WHERE i.run_id = runs.id ORDER BY idx DESC LIMIT 1) AS last_findings,
              {_LAST_WRITE} AS last_write
            FROM runs {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY runs.id DESC LIMIT ? OFFSET ?
        """
        with self.lock:
            rows = list(self.db.query(sql, [*params, limit, 0 if ids is not None else offset]))
        if ids is not None:
            order = {run_id: position for position, run_id in enumerate(ids)}
            rows.sort(key=lambda r: order[r["id"]])
        stale = _stale_cutoff(STALE_AFTER)
        return [
            RunSummary(
                id=r["id"],
                created=r["created"],
                prompt=r["prompt"],
                model=r["model"],
                analyzers=r["analyzers"],
                stop_reason=r["stop_reason"],
                n_iterations=r["n_iterations"] or 0,
                best_index=r["best_index"],
                first_findings=r["first_findings"],
                last_findings=r["last_findings"],
                source=r["source"] or "",
                unfinished=r["stop_reason"] is None and bool(r["last_write"]) and r["last_write"] < stale,
            )
            for r in rows
        ]

    # -- pruning ---------------------------------------------------------------------------------

    def prune(
        self,
        *,
        unfinished: datetime.timedelta | None = None,
        finished: datetime.timedelta | None = None,
        evals: tuple[int, ...] = (),
        dry_run: bool = False,
    ) -> Pruned:
        """Delete runs with their iterations, findings, candidates and labels, in one transaction:

        - ``unfinished``: runs that never recorded a stop reason and had no write for that long
          (their process was killed);
        - ``finished``: runs that did end, with no write for that long;
        - ``evals``: every run and task of these evaluations, and the evaluations themselves.

        Pruning by age keeps the runs an evaluation's tasks refer to (its report needs them): they go
        with ``evals``. An evaluation still running (no write for less than STALE_AFTER) is refused.
        ``dry_run`` counts what would go and deletes nothing."""

        def work() -> Pruned:
            result = Pruned()
            kept = "id NOT IN (SELECT run_id FROM eval_tasks WHERE run_id IS NOT NULL)"
            for age, ended in ((unfinished, "IS NULL"), (finished, "IS NOT NULL")):
                if age is not None:
                    result.runs.update(
                        row[0]
                        for row in self.db.execute(
                            f"SELECT id FROM runs WHERE stop_reason {ended} AND {_LAST_WRITE} < ? AND {kept}",
                            [_stale_cutoff(age)],
                        )
                    )
            for eval_run_id in evals:
                self._check_prunable_eval(eval_run_id)
                result.runs.update(
                    row[0]
                    for row in self.db.execute(
                        "SELECT id FROM runs WHERE eval_run_id = ? "
                        "UNION SELECT run_id FROM eval_tasks WHERE eval_run_id = ? AND run_id IS NOT NULL",
                        [eval_run_id, eval_run_id],
                    )
                )
                result.eval_tasks += self.db.table("eval_tasks").count_where("eval_run_id = ?", [eval_run_id])
                result.evals.append(eval_run_id)
            if not dry_run:
                for eval_run_id in evals:
                    self.db.execute("DELETE FROM eval_tasks WHERE eval_run_id = ?", [eval_run_id])
                    self.db.execute("DELETE FROM eval_runs WHERE id = ?", [eval_run_id])
                self._delete_runs(sorted(result.runs))
            return result

        if dry_run:
            with self.lock:
                return work()
        return self.write(work)

    def _check_prunable_eval(self, eval_run_id: int) -> None:
        try:
            row = self.db.table("eval_runs").get(eval_run_id)
        except sqlite_utils.db.NotFoundError:
            raise LogNotFound(f"no evaluation with id {eval_run_id} in {self.path}") from None
        if row["status"] != "running":
            return
        last = self.db.execute(
            "SELECT MAX(t) FROM (SELECT created AS t FROM eval_runs WHERE id = :e "
            "UNION ALL SELECT created FROM eval_tasks WHERE eval_run_id = :e "
            "UNION ALL SELECT created FROM runs WHERE eval_run_id = :e "
            "UNION ALL SELECT i.created FROM iterations i JOIN runs r ON i.run_id = r.id WHERE r.eval_run_id = :e)",
            {"e": eval_run_id},
        ).fetchone()[0]
        if last and last >= _stale_cutoff(STALE_AFTER):
            raise LogInUse(
                f"evaluation {eval_run_id} is still running (its last write was at {last}); "
                "stop it first, or prune it once it has been idle for an hour"
            )

    def _delete_runs(self, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            iterations = f"SELECT id FROM iterations WHERE run_id IN ({marks})"
            for table in ("labels", "candidates", "findings"):
                self.db.execute(f"DELETE FROM {table} WHERE iteration_id IN ({iterations})", chunk)
            self.db.execute(f"DELETE FROM iterations WHERE run_id IN ({marks})", chunk)
            # Keeps the foreign key true should a task still point here (pruning by age skips the
            # runs tasks refer to, and an evaluation's own tasks are deleted before its runs).
            self.db.execute(f"UPDATE eval_tasks SET run_id = NULL WHERE run_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)

    def prune_unfinished(self, older_than: datetime.timedelta = STALE_AFTER) -> list[int]:
        """Delete the runs that never recorded a stop reason and had no write for ``older_than``
        (their process was killed); runs an evaluation refers to are kept. Returns the ids deleted."""
        return sorted(self.prune(unfinished=older_than).runs)

    def load_run(self, run_id: int) -> Run:
        with self.lock:
            try:
                row = self.db.table("runs").get(run_id)
            except sqlite_utils.db.NotFoundError:
                raise LogNotFound(f"no run with id {run_id} in {self.path}") from None
            iteration_rows = list(
                self.db.query("SELECT * FROM iterations WHERE run_id = ? ORDER BY idx", [run_id])
            )
            finding_rows = list(
                self.db.query(
                    "SELECT f.* FROM findings f JOIN iterations i ON f.iteration_id = i.id "
                    "WHERE i.run_id = ? ORDER BY f.id",
                    [run_id],
                )
            )
            candidate_rows = list(
                self.db.query(
                    "SELECT c.* FROM candidates c JOIN iterations i ON c.iteration_id = i.id "
                    "WHERE i.run_id = ? ORDER BY c.iteration_id, c.k",
                    [run_id],
                )
            )
        return run_from_rows(row, iteration_rows, finding_rows, candidate_rows)

    def labels_for_run(self, run_id: int) -> dict[int, str]:
        """iteration index -> label, for one run."""
        with self.lock:
            rows = self.db.query(
                "SELECT i.idx, l.label FROM labels l JOIN iterations i ON l.iteration_id = i.id WHERE i.run_id = ?",
                [run_id],
            )
            return {r["idx"]: r["label"] for r in rows}

    def run_row(self, run_id: int) -> dict[str, Any]:
        with self.lock:
            return dict(self.db.table("runs").get(run_id))

    def close(self) -> None:
        with self.lock:
            self.db.conn.close()


# The time of a run's last write: its last iteration's, or its start when it has none.
_LAST_WRITE = "COALESCE((SELECT MAX(created) FROM iterations i WHERE i.run_id = runs.id), runs.created)"


def _stale_cutoff(age: datetime.timedelta) -> str:
    return times.ago(age)
