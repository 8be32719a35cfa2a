"""The log's rows and the types they hold: a run, iteration, finding or candidate as the row (or
rows) the log stores, and back. JSON columns hold the lists; SQLite's integers hold the booleans."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from . import times
from .types import Candidate, Finding, Iteration, Run


def inserted_id(table: sqlite_utils.db.Table) -> int:
    """The id of the row ``table`` has just inserted."""
    row_id = table.last_pk
    assert isinstance(row_id, int), f"every table the log inserts into has an integer id, not {table.name}"
    return row_id


def new_run_row(run: Run, *, adapter: str, task_id: str | None, eval_run_id: int | None) -> dict[str, Any]:
    return {
        "created": times.now(),
        "prompt": run.prompt,
        "language": run.language,
        "model": run.model,
        "backend": run.backend,
        "server": run.server,
        "analyzers": run.analyzers,
        "t_max": run.t_max,
        "threshold": run.threshold,
        "n_iterations": 0,
        "started_at": times.normalize(run.started_at),
        "source": run.source,
        "adapter": adapter,
        "task_id": task_id,
        "eval_run_id": eval_run_id,
    }


def iteration_row(run_id: int, it: Iteration) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "idx": it.index,
        "prompt": json.dumps(it.prompt),
        "response": it.response,
        "code": it.code,
        "n_findings": len(it.findings),
        "analyzer_errors": json.dumps(it.analyzer_errors),
        "prompt_tokens": it.prompt_tokens,
        "completion_tokens": it.completion_tokens,
        "gen_seconds": it.gen_seconds,
        "analysis_seconds": it.analysis_seconds,
        "tests_passed": None if it.tests_passed is None else int(it.tests_passed),
        "error": it.error,
        "created": times.now(),
        "origin": it.origin,
        "candidate": it.candidate,
        "fixes": json.dumps(it.fixes) if it.fixes else None,
    }


def run_from_rows(
    row: dict[str, Any],
    iteration_rows: list[dict[str, Any]],
    finding_rows: list[dict[str, Any]],
    candidate_rows: list[dict[str, Any]],
) -> Run:
    """A run from its row, its iterations' rows (in order) and the findings' and candidates' rows
    of those iterations."""
    candidates: dict[int, list[Candidate]] = {}
    for c in candidate_rows:
        candidates.setdefault(c["iteration_id"], []).append(candidate_from_row(c))
    by_iteration: dict[int, list[Finding]] = {}
    for f in finding_rows:
        by_iteration.setdefault(f["iteration_id"], []).append(finding_from_row(f))
    run = Run(
        prompt=row["prompt"],
        model=row["model"],
        analyzers=row["analyzers"],
        t_max=row["t_max"],
        threshold=row["threshold"],
        language=row["language"] or "python",
        backend=row["backend"] or "",
        server=row["server"] or "",
        stop_reason=row["stop_reason"],
        error=row["error"],
        started_at=times.normalize(row["started_at"]) or row["created"] or "",
        finished_at=times.normalize(row["finished_at"]),
        source=row["source"] or "",
        id=row["id"],
    )
    for r in iteration_rows:
        run.iterations.append(
            Iteration(
                index=r["idx"],
                prompt=json.loads(r["prompt"] or "[]"),
                response=r["response"] or "",
                code=r["code"],
                findings=by_iteration.get(r["id"], []),
                analyzer_errors=json.loads(r["analyzer_errors"] or "[]"),
                prompt_tokens=r["prompt_tokens"] or 0,
                completion_tokens=r["completion_tokens"] or 0,
                gen_seconds=r["gen_seconds"] or 0.0,
                analysis_seconds=r["analysis_seconds"] or 0.0,
                tests_passed=None if r["tests_passed"] is None else bool(r["tests_passed"]),
                error=r["error"],
                id=r["id"],
                origin=r["origin"] or "model",
                candidate=r["candidate"],
                fixes=json.loads(r["fixes"] or "[]"),
                candidates=candidates.get(r["id"], []),
            )
        )
    return run


def finding_row(f: Finding) -> dict[str, Any]:
    row = f.to_dict()
    row["also"] = json.dumps(row["also"])
    return row


def finding_from_row(row: dict[str, Any]) -> Finding:
    data = dict(row)
    data["also"] = json.loads(data.get("also") or "[]")
    return Finding.from_dict(data)


def candidate_row(c: Candidate) -> dict[str, Any]:
    return {
        "k": c.k,
        "n": c.n,
        "temperature": c.temperature,
        "seed": c.seed,
        "response": c.response,
        "code": c.code,
        "n_findings": len(c.findings),
        "findings": json.dumps([f.to_dict() for f in c.findings]),
        "analyzer_errors": json.dumps(c.analyzer_errors),
        "tests_passed": None if c.tests_passed is None else int(c.tests_passed),
        "closeness": c.closeness,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "chosen": int(c.chosen),
        "request": c.request,
    }


def candidate_from_row(row: dict[str, Any]) -> Candidate:
    return Candidate(
        k=row["k"],
        n=row["n"],
        temperature=row["temperature"] or 0.0,
        seed=row["seed"],
        response=row["response"] or "",
        code=row["code"],
        findings=[Finding.from_dict(f) for f in json.loads(row["findings"] or "[]")],
        analyzer_errors=json.loads(row["analyzer_errors"] or "[]"),
        tests_passed=None if row["tests_passed"] is None else bool(row["tests_passed"]),
        closeness=row["closeness"] or 0.0,
        prompt_tokens=row["prompt_tokens"] or 0,
        completion_tokens=row["completion_tokens"] or 0,
        chosen=bool(row["chosen"]),
        request=row.get("request") or "repair",
    )
