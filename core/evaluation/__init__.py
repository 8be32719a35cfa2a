"""Evaluation: HumanEval, MBPP and CyberSecEval through the same loop the app runs.

A model (or the benchmarks' own reference solutions) answers each task; the analyzers judge the
code; the tests run in the sandbox (``patchloop.core.sandbox``), never in this process; the
metrics are the paper's (pass@1 and EFR, first attempt and after the loop; task outcomes;
CyberSecEval's Vulnerable % and BLEU per language). Every generation and finding lands in the
SQLite log, and ``eval_runs``/``eval_tasks`` make an interrupted evaluation resumable.

Modules: ``datasets`` (loaders, task ids, task sets), ``prompts`` (what the model is asked),
``checks`` (tests in the sandbox), ``metrics``, ``runner``, ``store`` (eval tables), ``report``
(Markdown and JSON), ``reference`` (score the reference solutions).
"""

from .datasets import (
    BENCHMARKS,
    DatasetError,
    Task,
    load_tasks,
    parse_task_spec,
    read_task_set,
    write_task_set,
)
from .metrics import EvalSummary, TaskResult, is_security_finding, summarize, task_result
from .reference import ReferenceBackend
from .report import EvalReport, render_json, render_markdown
from .runner import EvalAborted, run_eval, suite_covers
from .store import EvalSpec, EvalStore

__all__ = [
    "BENCHMARKS",
    "DatasetError",
    "EvalAborted",
    "EvalReport",
    "EvalSpec",
    "EvalStore",
    "EvalSummary",
    "ReferenceBackend",
    "Task",
    "TaskResult",
    "is_security_finding",
    "load_tasks",
    "parse_task_spec",
    "read_task_set",
    "render_json",
    "render_markdown",
    "run_eval",
    "suite_covers",
    "summarize",
    "task_result",
    "write_task_set",
]
