"""Coding tasks with tests for generating pairs and scoring rounds: MBPP, read from its JSON lines.

Generation for pair harvesting needs prompts whose answers can be tested, so that a clean but
wrong answer is never chosen. MBPP's split convention (its README): task ids 11-510 are the test
set, 1-10 few-shot examples, 511-974 train/prompting; rounds generate on train ids and score on
test ids so that no task is trained and scored on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from patchloop.core.loop import LoopTask

MBPP_TRAIN = range(511, 975)
MBPP_TEST = range(11, 511)


class TaskError(ValueError):
    """The task file or the id selection is unusable; the message says which and why."""


@dataclass(frozen=True)
class CodeTask:
    task_id: str  # "mbpp/511"
    prompt: str
    test_code: str
    setup_code: str = ""
    entry_point: str | None = None


def mbpp_prompt(text: str, tests: Sequence[str]) -> str:
    # The tests name the function and its signature, which the description alone often does not.
    return f"{text.strip()}\nYour code should pass these tests:\n\n" + "\n".join(tests)


def parse_ids(spec: str) -> list[int]:
    """'511-520,600,610-612' -> [511, ..., 520, 600, 610, 611, 612]."""
    ids: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            low, _, high = part.partition("-")
            ids.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise TaskError(f"task ids must look like 511-600 or 11,12,20-30, not {spec!r}") from None
    if not ids:
        raise TaskError("no task ids given")
    return ids


def load_mbpp(path: str | Path, ids: Iterable[int] | None = None) -> list[CodeTask]:
    """MBPP tasks from ``mbpp.jsonl`` (the upstream file), in the order of ``ids``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TaskError(f"no MBPP file at {path}")
    records: dict[int, dict] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                records[int(record["task_id"])] = record
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise TaskError(f"{path}:{number} is not an MBPP record: {exc}") from exc
    wanted = list(ids) if ids is not None else sorted(records)
    missing = [i for i in wanted if i not in records]
    if missing:
        raise TaskError(f"{path} has no task(s) {', '.join(map(str, missing[:10]))}")
    return [
        CodeTask(
            task_id=f"mbpp/{i}",
            prompt=mbpp_prompt(records[i]["text"], records[i]["test_list"]),
            test_code="\n".join(records[i]["test_list"]) + "\n",
            setup_code=records[i].get("test_setup_code") or "",
        )
        for i in wanted
    ]


def loop_tasks(tasks: Sequence[CodeTask], *, test_timeout: float = 10.0) -> list[LoopTask]:
    """LoopTasks whose tests run each answer in the sandbox (never in this process)."""
    from patchloop.core.sandbox import check_tests

    def tests_for(task: CodeTask):
        def run_tests(code: str) -> bool:
            return check_tests(code, task.test_code, task.entry_point, setup_code=task.setup_code,
                               timeout=test_timeout).ok

        return run_tests

    return [LoopTask(prompt=t.prompt, task_id=t.task_id, tests=tests_for(t)) for t in tasks]


def default_mbpp_path() -> Path:
    """The MBPP copy that patchloop's evaluation ships (``--mbpp`` overrides it)."""
    raise TaskError("no MBPP file is shipped with this install: give --mbpp PATH/TO/mbpp.jsonl")


def mbpp_tasks(ids: Iterable[int], path: str | Path | None = None) -> list[CodeTask]:
    return load_mbpp(path if path is not None else default_mbpp_path(), ids)
