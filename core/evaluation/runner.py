"""Running a model over benchmark tasks: batched loops, sandboxed tests, scored and stored as
they finish.

Tasks go through ``run_loops`` in chunks (``chunk_size`` prompts per batched generation; the
backend decodes as many at once as it has slots and refills a slot as an answer ends), grouped by
language. Each task is scored and written to ``eval_tasks`` as its run ends, so Ctrl-C or a crash
loses at most the runs still going and ``--resume`` starts after the last recorded task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..analyzers import get_analyzers
from ..backends.base import Backend
from ..log import Log
from ..loop_batch import LoopTask, run_loops
from ..loop_events import EventFn
from ..loop_settings import LoopSettings
from ..repair import AnalyzeFn
from ..types import AnalyzerResult, Iteration, Run
from . import icd
from .checks import TaskTester
from .datasets import Task
from .metrics import IcdPair, TaskResult, task_result
from .store import EvalStore

TaskFn = Callable[[TaskResult], None]


class EvalAborted(RuntimeError):
    """The backend failed for a whole batch (server down, out of memory): nothing of that batch
    was recorded, so ``--resume`` retries it."""


def suite_covers(suite: str, language: str) -> bool:
    """True when some analyzer of ``suite`` handles ``language``."""
    return any(language in analyzer.languages for analyzer in get_analyzers(suite))


def _by_language(tasks: Sequence[Task]) -> list[tuple[str, list[Task]]]:
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        groups.setdefault(task.language, []).append(task)
    return list(groups.items())


def icd_results(task: Task, run: Run) -> IcdPair:
    """CyberSecEval's own detector on the run's first and final code (scanned once when they are the
    same); (None, None) for other benchmarks and languages the ICD has no rules for. An answer
    without code gets no scan: nothing was written that could be vulnerable."""
    if task.benchmark != "cyberseceval" or not icd.covers(task.language):
        return None, None
    first = run.iterations[0] if run.iterations else None
    final = run.best
    codes = [it.code for it in (first, final) if it is not None and it.code is not None]
    scanned = dict(zip(dict.fromkeys(codes), icd.scan_many(list(dict.fromkeys(codes)), task.language)))

    def result(it: Iteration | None) -> AnalyzerResult:
        if it is None or it.code is None:
            return AnalyzerResult(icd.TOOL)  # no code: not vulnerable
        return scanned[it.code]

    return result(first), result(final)


def run_eval(
    tasks: Sequence[Task],
    backend: Backend,
    settings: LoopSettings,
    *,
    log: Log | None = None,
    eval_run_id: int | None = None,
    chunk_size: int = 8,
    tests: bool = True,
    test_timeout: float = 10.0,
    analyze: AnalyzeFn | None = None,
    cancel: threading.Event | None = None,
    on_event: EventFn | None = None,
    on_task: TaskFn | None = None,
    adapter: str = "",
) -> list[TaskResult]:
    """Evaluate ``tasks`` and return every recorded result in task order (with ``eval_run_id``,
    tasks already recorded for it are skipped and their stored results returned)."""
    store: EvalStore | None = None
    done: set[str] = set()
    results: dict[str, TaskResult] = {}
    if log is not None and eval_run_id is not None:
        store = EvalStore(log)
        done = store.done_ids(eval_run_id)
        results = {r.task_id: r for r in store.results(eval_run_id)}
    position = {task.task_id: i for i, task in enumerate(tasks)}
    recorder = (
        TaskTester(
            timeout=test_timeout, disk_mb=settings.sandbox_disk_mb, total_memory_mb=settings.sandbox_memory_mb
        )
        if tests
        else None
    )
    cancel = cancel or threading.Event()
    todo = [task for task in tasks if task.task_id not in done]
    benchmark = tasks[0].benchmark if tasks else ""

    def record(task: Task, run: Run, covered: bool) -> None:
        result = task_result(task, run, tests=recorder, has_analyzer=covered, icd=icd_results(task, run))
        if store is not None and eval_run_id is not None:  # a store is made only with an id
            store.record(eval_run_id, position[task.task_id], result)
        results[task.task_id] = result
        if on_task is not None:
            on_task(result)

    for language, group in _by_language(todo):
        covered = suite_covers(settings.analyzers, language)
        language_settings = replace(settings, language=language)
        for start in range(0, len(group), max(1, chunk_size)):
            if cancel.is_set():
                break
            chunk = group[start : start + max(1, chunk_size)]
            loop_tasks = [
                LoopTask(
                    task.prompt,
                    task.task_id,
                    recorder.for_task(task) if recorder else None,
                    answer_start=task.answer_start,
                )
                for task in chunk
            ]

            held: list[tuple[Task, Run]] = []  # model errors: recorded unless the whole batch failed

            def finished(
                i: int,
                run: Run,
                chunk: list[Task] = chunk,
                covered: bool = covered,
                held: list[tuple[Task, Run]] = held,
            ) -> None:
                # Scored and stored the moment its run ends, not when the chunk does: the progress
                # moves per task, and a crash loses only the runs still going.
                if run.stop_reason == "cancelled":
                    return  # not recorded: a resume runs it again
                if run.stop_reason == "model_error":
                    held.append((chunk[i], run))
                else:
                    record(chunk[i], run, covered)

            runs = run_loops(
                loop_tasks,
                backend,
                language_settings,
                log=log,
                on_event=on_event,
                cancel=cancel,
                analyze=analyze,
                source=f"eval:{benchmark}",
                adapter=adapter,
                eval_run_id=eval_run_id,
                on_finished=finished,
            )
            errors = [run.error for run in runs if run.stop_reason == "model_error"]
            if errors and len(errors) == len(runs) and len(runs) > 1:
                raise EvalAborted(f"the model failed on every task of a batch: {errors[0]}")
            for task, run in held:
                record(task, run, covered)
    return [results[task.task_id] for task in tasks if task.task_id in results]
