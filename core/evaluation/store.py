"""Evaluations in the SQLite log: ``eval_runs`` (one per benchmark x model x analyzer suite) and
``eval_tasks`` (one per finished task), so an interrupted eval resumes where it stopped.

The runs and iterations themselves go into the log's ``runs`` table through ``run_loops``
(``eval_run_id`` links them), so every generation of an evaluation also feeds the preference data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .. import times
from ..log import Log, LogError
from ..log_rows import inserted_id
from .metrics import TaskResult

STATUSES = ("running", "finished", "cancelled", "failed")


@dataclass
class EvalSpec:
    """Everything needed to run (or resume) one evaluation."""

    benchmark: str
    model: str  # the model spec as given (embedded, a folder, openai:NAME, reference:humaneval)
    task_ids: list[str]
    adapter: str = ""
    analyzers: str = "all"
    t_max: int = 3
    threshold: str = "note"
    skip: list[str] = field(default_factory=list)
    tests: bool = True
    gen: dict[str, Any] = field(default_factory=dict)  # GenParams as a dict
    extra: dict[str, Any] = field(default_factory=dict)  # languages, split, canonical ...
    # The repair step's settings (autofix, feedback, candidates, candidate temperatures); empty for
    # evaluations stored before they existed, which ran the plain chat loop.
    repair: dict[str, Any] = field(default_factory=dict)

    def settings_json(self) -> str:
        return json.dumps(
            {
                "task_ids": self.task_ids,
                "skip": self.skip,
                "tests": self.tests,
                "gen": self.gen,
                "repair": self.repair,
                **self.extra,
            }
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EvalSpec:
        settings = json.loads(row["settings"] or "{}")
        known = {"task_ids", "skip", "tests", "gen", "repair"}
        return cls(
            benchmark=row["benchmark"],
            model=row["model"],
            adapter=row["adapter"] or "",
            analyzers=row["analyzers"],
            t_max=row["t_max"],
            threshold=row["threshold"],
            task_ids=list(settings.get("task_ids", [])),
            skip=list(settings.get("skip", [])),
            tests=bool(settings.get("tests", True)),
            gen=dict(settings.get("gen", {})),
            repair=dict(settings.get("repair", {})),
            extra={k: v for k, v in settings.items() if k not in known},
        )


class EvalStore:
    """Reads and writes the eval tables through the log's own connection and lock."""

    def __init__(self, log: Log):
        self.log = log

    def create(self, spec: EvalSpec) -> int:
        row = {
            "created": times.now(),
            "benchmark": spec.benchmark,
            "model": spec.model,
            "adapter": spec.adapter,
            "analyzers": spec.analyzers,
            "t_max": spec.t_max,
            "threshold": spec.threshold,
            "settings": spec.settings_json(),
            "status": "running",
            "finished": None,
            "n_tasks": len(spec.task_ids),
        }
        return self.log.write(lambda: inserted_id(self.log.db.table("eval_runs").insert(row)))

    def get(self, eval_run_id: int) -> dict[str, Any]:
        with self.log.lock:
            try:
                return dict(self.log.db.table("eval_runs").get(eval_run_id))
            except sqlite_utils.db.NotFoundError:
                raise LogError(f"no evaluation with id {eval_run_id} in {self.log.path}") from None

    def spec(self, eval_run_id: int) -> EvalSpec:
        return EvalSpec.from_row(self.get(eval_run_id))

    def set_status(self, eval_run_id: int, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        values = {"status": status, "finished": times.now() if status != "running" else None}
        self.log.write(lambda: self.log.db.table("eval_runs").update(eval_run_id, values))

    def record(self, eval_run_id: int, position: int, result: TaskResult) -> None:
        """Store one finished task (replacing an older row for the same task)."""

        def as_int(value: bool | None) -> int | None:
            return None if value is None else int(value)

        row = {
            "eval_run_id": eval_run_id,
            "position": position,
            "task_id": result.task_id,
            "language": result.language,
            "run_id": result.run_id,
            "outcome": result.outcome,
            "stop_reason": result.stop_reason,
            "n_iterations": result.n_iterations,
            "best_index": result.best_index,
            "passed_first": as_int(result.passed_first),
            "passed_final": as_int(result.passed_final),
            "clean_first": int(result.clean_first),
            "clean_final": int(result.clean_final),
            "findings_first": result.findings_first,
            "findings_final": result.findings_final,
            "vulnerable_first": as_int(result.vulnerable_first),
            "vulnerable_final": as_int(result.vulnerable_final),
            "icd_vulnerable_first": as_int(result.icd_first),
            "icd_vulnerable_final": as_int(result.icd_final),
            "bleu_first": result.bleu_first,
            "bleu_final": result.bleu_final,
            "detail": json.dumps(result.to_dict()),
            "created": times.now(),
        }

        def write() -> None:
            self.log.db.execute(
                "DELETE FROM eval_tasks WHERE eval_run_id = ? AND task_id = ?", [eval_run_id, result.task_id]
            )
            self.log.db.table("eval_tasks").insert(row)

        self.log.write(write)

    def results(self, eval_run_id: int) -> list[TaskResult]:
        """The recorded tasks, in task order."""
        with self.log.lock:
            rows = list(
                self.log.db.query(
                    "SELECT detail FROM eval_tasks WHERE eval_run_id = ? ORDER BY position", [eval_run_id]
                )
            )
        return [TaskResult.from_dict(json.loads(r["detail"])) for r in rows]

    def done_ids(self, eval_run_id: int) -> set[str]:
        with self.log.lock:
            return {
                r["task_id"]
                for r in self.log.db.query(
                    "SELECT task_id FROM eval_tasks WHERE eval_run_id = ?", [eval_run_id]
                )
            }

    def list(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.log.lock:
            return list(
                self.log.db.query(
                    "SELECT e.*, (SELECT COUNT(*) FROM eval_tasks t WHERE t.eval_run_id = e.id) AS n_done "
                    "FROM eval_runs e ORDER BY e.id DESC LIMIT ?",
                    [limit],
                )
            )
