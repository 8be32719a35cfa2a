"""Preference pairs harvested from the SQLite log, in TRL's conversational preference format.

One run gives pairs between its iterations, all answering the same first-attempt prompt:

* chosen: an iteration a human labelled ``chosen``; failing that, the run's clean final iteration
  (code, no analyzer error, nothing at or above the run's threshold, tests passing where the run
  had tests, and not labelled ``rejected``);
* rejected: an iteration a human labelled ``rejected``; failing that, every flagged iteration of
  the run (code with at least one finding at or above the threshold, not labelled ``chosen``).

Autofix iterations are iterations like any other (a clean rewrite is chosen over the flagged
answer it fixed), and the candidates a repair step sampled but did not pick are in the pool too:
a flagged one is a rejected answer, a clean one can be the chosen side. So the repair steps give
pairs without any extra generation.

A human label on one side replaces the automatic choice on that side only. Iterations without
code never enter a pair; neither do two answers with the same code. Identical pairs coming from
several runs (the same task asked again) collapse into one record that lists every run.

The prompt of a pair is the first-attempt conversation ``[system, user]`` (what the model sees
when asked for the first time, which is the behaviour fine-tuning should change), and each answer
is the iteration's code normalised into one fenced block: the raw responses carry prose and
patch-request talk ("here is the fixed version") that does not belong after a first-time prompt.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchloop.core.feedback import first_messages
from patchloop.core.files import write_atomic
from patchloop.core.types import SEVERITY_RANK, Message

if TYPE_CHECKING:
    import datasets
    from patchloop.core.log import Log

SOURCES = ("loop", "labels", "all")

# Why a run or a candidate pair gave nothing; `patchloop pairs stats` counts them.
SKIP_NO_ITERATIONS = "run without iterations (cancelled or unfinished)"
SKIP_NO_CODE = "no code in any iteration"
SKIP_NO_CHOSEN = "no clean final iteration (all flagged)"
SKIP_CHOSEN_ANALYZER_ERROR = "clean only with an analyzer error (never chosen)"
SKIP_CHOSEN_TESTS_FAIL = "clean but failing its tests (never chosen)"
SKIP_NO_REJECTED = "no flagged iteration (all clean)"
SKIP_IDENTICAL = "pair with identical code"
SKIP_MIN_GAP = "pair below --min-gap"
SKIP_SOURCE = "pair of the other --source"
SKIP_DUPLICATE = "duplicate pair collapsed"


class PairsError(ValueError):
    """Pairs cannot be read or written; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Candidate:
    """One logged iteration, reduced to what pair selection needs."""

    run_id: int
    index: int
    code: str | None
    flagged: int  # findings at or above the run's threshold
    analyzer_error: bool
    tests_passed: bool | None
    label: str | None  # "chosen" | "rejected" | None
    k: int | None = None  # an unpicked candidate of iteration ``index`` (None: the iteration itself)

    @property
    def has_code(self) -> bool:
        return bool(self.code and self.code.strip())

    @property
    def is_clean(self) -> bool:
        return self.has_code and not self.analyzer_error and self.flagged == 0


@dataclass
class Pair:
    prompt: list[Message]
    chosen: str  # the answer text (a fenced code block)
    rejected: str
    run_id: int
    chosen_index: int
    rejected_index: int
    chosen_findings: int
    rejected_findings: int
    origin: str  # "loop" (both sides chosen by the rules) | "labels" (a human label on either side)
    task_id: str | None = None
    chosen_candidate: int | None = None  # set when a side is an unpicked repair candidate
    rejected_candidate: int | None = None
    model: str = ""
    adapter: str = ""
    run_ids: list[int] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return json.dumps(self.prompt, sort_keys=True), self.chosen, self.rejected

    def to_record(self) -> dict[str, Any]:
        """TRL's conversational preference format plus provenance columns."""
        return {
            "prompt": self.prompt,
            "chosen": [{"role": "assistant", "content": self.chosen}],
            "rejected": [{"role": "assistant", "content": self.rejected}],
            "run_id": self.run_id,
            "run_ids": list(self.run_ids),
            "chosen_index": self.chosen_index,
            "rejected_index": self.rejected_index,
            "chosen_findings": self.chosen_findings,
            "rejected_findings": self.rejected_findings,
            "chosen_candidate": self.chosen_candidate,
            "rejected_candidate": self.rejected_candidate,
            "origin": self.origin,
            "task_id": self.task_id,
            "model": self.model,
            "adapter": self.adapter,
        }


@dataclass
class HarvestStats:
    runs: int = 0
    runs_with_pairs: int = 0
    pairs: int = 0
    by_origin: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # reason -> runs or pairs
    mean_gap: float = 0.0  # rejected minus chosen findings, over kept pairs

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "runs_with_pairs": self.runs_with_pairs,
            "pairs": self.pairs,
            "by_origin": dict(self.by_origin),
            "skipped": dict(self.skipped),
            "mean_gap": round(self.mean_gap, 3),
        }


@dataclass
class Harvest:
    pairs: list[Pair]
    stats: HarvestStats


def normalise_code(code: str) -> str:
    """Code with trailing spaces and blank edge lines removed: equal results mean 'identical code'."""
    return "\n".join(line.rstrip() for line in code.strip("\n").splitlines()).strip("\n")


def answer_text(code: str, language: str = "python") -> str:
    return f"```{language}\n{normalise_code(code)}\n```"


def select_chosen(candidates: Sequence[Candidate]) -> tuple[list[Candidate], str | None]:
    """The chosen side of one run, or the reason there is none."""
    human = [c for c in candidates if c.label == "chosen" and c.has_code]
    if human:
        return human, None
    usable = [c for c in candidates if c.is_clean and c.tests_passed is not False and c.label != "rejected"]
    if usable:
        # The latest clean iteration; an unpicked clean candidate only where no iteration is clean.
        return [max(usable, key=lambda c: (c.k is None, c.index))], None
    if any(c.is_clean and c.tests_passed is False for c in candidates):
        return [], SKIP_CHOSEN_TESTS_FAIL
    if any(c.has_code and c.flagged == 0 and c.analyzer_error for c in candidates):
        return [], SKIP_CHOSEN_ANALYZER_ERROR
    return [], SKIP_NO_CHOSEN


def select_rejected(candidates: Sequence[Candidate]) -> tuple[list[Candidate], str | None]:
    """The rejected side of one run, or the reason there is none."""
    human = [c for c in candidates if c.label == "rejected" and c.has_code]
    if human:
        return human, None
    flagged = [c for c in candidates if c.has_code and c.flagged > 0 and c.label != "chosen"]
    return (flagged, None) if flagged else ([], SKIP_NO_REJECTED)


def run_pairs(
    candidates: Sequence[Candidate],
    skipped: Counter,
    *,
    min_gap: int | None = None,
    source: str = "all",
) -> list[tuple[Candidate, Candidate, str]]:
    """(chosen, rejected, origin) for one run; every skip is counted in ``skipped``."""
    if not candidates:
        skipped[SKIP_NO_ITERATIONS] += 1
        return []
    if not any(c.has_code for c in candidates):
        skipped[SKIP_NO_CODE] += 1
        return []
    chosen, why_not = select_chosen(candidates)
    if why_not:
        skipped[why_not] += 1
        return []
    rejected, why_not = select_rejected(candidates)
    if why_not:
        skipped[why_not] += 1
        return []
    out = []
    for c in chosen:
        for r in rejected:
            if (c.index, c.k) == (r.index, r.k):
                continue
            if normalise_code(c.code or "") == normalise_code(r.code or ""):
                skipped[SKIP_IDENTICAL] += 1
                continue
            if min_gap is not None and r.flagged - c.flagged < min_gap:
                skipped[SKIP_MIN_GAP] += 1
                continue
            origin = "labels" if c.label == "chosen" or r.label == "rejected" else "loop"
            if source != "all" and origin != source:
                skipped[SKIP_SOURCE] += 1
                continue
            out.append((c, r, origin))
    return out


# -- reading the log ----------------------------------------------------------------------------


def _run_filter(
    run_source: str | None, run_ids: Iterable[int] | None, eval_run_ids: Iterable[int] | None
) -> tuple[str, list[Any]]:
    where, params = [], []
    if run_source:
        where.append("runs.source LIKE ?")
        params.append(f"{run_source}%")
    for column, values in (("id", run_ids), ("eval_run_id", eval_run_ids)):
        if values is not None:
            ids = [int(i) for i in values]
            where.append(f"runs.{column} IN ({', '.join('?' * len(ids)) or 'NULL'})")
            params.extend(ids)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def harvest(
    log: Log,
    *,
    min_gap: int | None = None,
    source: str = "all",
    run_source: str | None = None,
    run_ids: Iterable[int] | None = None,
    eval_run_ids: Iterable[int] | None = None,
) -> Harvest:
    """Every preference pair the log holds, in run order, with counts of what was left out.

    ``run_source`` keeps runs whose source starts with it (``cli``, ``tui``, ``eval:mbpp``);
    ``run_ids`` keeps only those runs, ``eval_run_ids`` only the runs of those evaluations.
    Reads the log in five queries, so large logs stay quick.
    """
    if source not in SOURCES:
        raise PairsError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if min_gap is not None and min_gap < 0:
        raise PairsError(f"--min-gap must be 0 or more, not {min_gap}")
    where, params = _run_filter(run_source, run_ids, eval_run_ids)
    db = log.db
    with log.lock:  # the app may write from another thread
        runs = list(db.query(f"SELECT * FROM runs {where} ORDER BY id", params))
        scoped = f"run_id IN (SELECT id FROM runs {where})"
        iterations = list(
            db.query(
                f"SELECT id, run_id, idx, prompt, code, analyzer_errors, tests_passed FROM iterations "
                f"WHERE {scoped} ORDER BY run_id, idx",
                params,
            )
        )
        severities = list(
            db.query(
                f"SELECT f.iteration_id, f.severity, COUNT(*) AS n FROM findings f "
                f"JOIN iterations i ON f.iteration_id = i.id WHERE i.{scoped} GROUP BY f.iteration_id, f.severity",
                params,
            )
        )
        labels = {
            r["iteration_id"]: r["label"]
            for r in db.query(
                f"SELECT l.iteration_id, l.label FROM labels l JOIN iterations i ON l.iteration_id = i.id "
                f"WHERE i.{scoped}",
                params,
            )
        }
        unpicked = list(
            db.query(
                f"SELECT c.iteration_id, c.k, c.code, c.findings, c.analyzer_errors, c.tests_passed FROM candidates c "
                f"JOIN iterations i ON c.iteration_id = i.id WHERE i.{scoped} AND c.chosen = 0 ORDER BY c.id",
                params,
            )
        )
    unpicked_by_iteration: dict[int, list[dict[str, Any]]] = {}
    for row in unpicked:
        unpicked_by_iteration.setdefault(row["iteration_id"], []).append(row)
    counts: dict[int, Counter] = {}
    for row in severities:
        counts.setdefault(row["iteration_id"], Counter())[row["severity"]] += row["n"]
    by_run: dict[int, list[dict[str, Any]]] = {}
    for row in iterations:
        by_run.setdefault(row["run_id"], []).append(row)

    stats = HarvestStats(runs=len(runs))
    kept: dict[tuple[str, str, str], Pair] = {}
    for run in runs:
        rows = by_run.get(run["id"], [])
        threshold_rank = SEVERITY_RANK.get(run["threshold"] or "note", 0)
        language = run["language"] or "python"
        candidates = [
            Candidate(
                run_id=run["id"],
                index=row["idx"],
                code=row["code"],
                flagged=sum(
                    n
                    for sev, n in counts.get(row["id"], Counter()).items()
                    if SEVERITY_RANK.get(sev, 0) >= threshold_rank
                ),
                analyzer_error=bool(json.loads(row["analyzer_errors"] or "[]")),
                tests_passed=None if row["tests_passed"] is None else bool(row["tests_passed"]),
                label=labels.get(row["id"]),
            )
            for row in rows
        ]
        candidates += [
            Candidate(
                run_id=run["id"],
                index=row["idx"],
                code=c["code"],
                k=c["k"],
                flagged=sum(
                    1
                    for f in json.loads(c["findings"] or "[]")
                    if SEVERITY_RANK.get(f.get("severity"), 0) >= threshold_rank
                ),
                analyzer_error=bool(json.loads(c["analyzer_errors"] or "[]")),
                tests_passed=None if c["tests_passed"] is None else bool(c["tests_passed"]),
                label=None,
            )
            for row in rows
            for c in unpicked_by_iteration.get(row["id"], [])
        ]
        found = run_pairs(candidates, stats.skipped, min_gap=min_gap, source=source)
        if not found:
            continue
        prompt = _first_prompt(rows, run["prompt"], language)
        new = 0
        for c, r, origin in found:
            pair = Pair(
                prompt=prompt,
                chosen=answer_text(c.code or "", language),
                rejected=answer_text(r.code or "", language),
                run_id=run["id"],
                chosen_index=c.index,
                rejected_index=r.index,
                chosen_findings=c.flagged,
                rejected_findings=r.flagged,
                origin=origin,
                task_id=run.get("task_id"),
                model=run["model"] or "",
                chosen_candidate=c.k,
                rejected_candidate=r.k,
                adapter=run.get("adapter") or "",
                run_ids=[run["id"]],
            )
            if pair.key in kept:
                kept[pair.key].run_ids.append(run["id"])
                stats.skipped[SKIP_DUPLICATE] += 1
                continue
            kept[pair.key] = pair
            new += 1
        stats.runs_with_pairs += bool(new)
    pairs = list(kept.values())
    stats.pairs = len(pairs)
    stats.by_origin = Counter(p.origin for p in pairs)
    if pairs:
        stats.mean_gap = sum(p.rejected_findings - p.chosen_findings for p in pairs) / len(pairs)
    return Harvest(pairs, stats)


def _first_prompt(rows: Sequence[dict[str, Any]], run_prompt: str, language: str) -> list[Message]:
    """The first-attempt messages as logged with v0; rebuilt from the run's prompt if v0 lacks them."""
    for row in rows:
        if row["idx"] == 0:
            try:
                messages = json.loads(row["prompt"] or "[]")
            except json.JSONDecodeError:
                break
            if messages and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages):
                return [{"role": m["role"], "content": m["content"]} for m in messages]
            break
    return first_messages(run_prompt, language=language)


# -- files and datasets -------------------------------------------------------------------------


def write_jsonl(pairs: Sequence[Pair], path: str | Path) -> Path:
    """Write the pairs as JSON lines, atomically (an interrupted export never leaves half a file)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise PairsError(f"{path} is a folder; give a file name such as pairs.jsonl")
    text = "".join(json.dumps(pair.to_record(), ensure_ascii=False) + "\n" for pair in pairs)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise PairsError(f"cannot write {path}: {exc}") from exc
    return path


REQUIRED_COLUMNS = ("prompt", "chosen", "rejected")


def records_dataset(records: Sequence[dict[str, Any]]) -> datasets.Dataset:
    import datasets

    if not records:
        return datasets.Dataset.from_dict({name: [] for name in REQUIRED_COLUMNS})
    return datasets.Dataset.from_list(list(records))


def pairs_dataset(
    log: Log | str | Path,
    *,
    min_gap: int | None = None,
    source: str = "all",
    run_source: str | None = None,
    run_ids: Iterable[int] | None = None,
    eval_run_ids: Iterable[int] | None = None,
) -> datasets.Dataset:
    """The pairs straight from a log (a ``Log`` or a database path) as a ``datasets.Dataset``."""
    from patchloop.core.log import Log  # here, so reading pairs files needs no SQLite layer

    store = log if isinstance(log, Log) else Log(log)
    try:
        found = harvest(
            store,
            min_gap=min_gap,
            source=source,
            run_source=run_source,
            run_ids=run_ids,
            eval_run_ids=eval_run_ids,
        )
    finally:
        if store is not log:
            store.close()
    return records_dataset([p.to_record() for p in found.pairs])


def load_pairs(path: str | Path) -> datasets.Dataset:
    """A pairs JSONL file (ours or any TRL preference file) as a Dataset, checked for the needed columns."""
    import datasets

    path = Path(path).expanduser()
    if not path.is_file():
        raise PairsError(f"no pairs file at {path}: export one with `patchloop pairs export {path.name}`")
    if path.stat().st_size == 0:
        return records_dataset([])
    try:
        dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    except Exception as exc:
        raise PairsError(f"{path} is not a JSON-lines pairs file: {exc}") from exc
    missing = [name for name in REQUIRED_COLUMNS if name not in dataset.column_names]
    if missing:
        raise PairsError(f"{path} lacks the column(s) {', '.join(missing)} (needs prompt, chosen, rejected)")
    return dataset
