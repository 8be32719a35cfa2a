"""The rule decisions behind HumanEval's false-alarm count (docs/EVAL.md, "False alarms on HumanEval
references (issue 11)"): what is no longer reported, what still is, on the real tools."""

from __future__ import annotations

import pytest
from patchloop.core.analyzers import analyze_code
from patchloop.core.analyzers.merge import problem_class
from patchloop.core.evaluation.datasets import load_humaneval
from patchloop.core.evaluation.reference import reference_answer
from patchloop.core.extract import extract_code

# Flagged before the decisions, not after: the prompt's own unused typing imports.
DROPPED = ("HumanEval/9", "HumanEval/11", "HumanEval/19")
# Still flagged, each a real property of the reference (task -> problem class of its one finding).
KEPT = {
    "HumanEval/49": "unused-variable",  # `for i in range(n)`; autofix renames it to `_`
    "HumanEval/105": "bandit:B110",  # try/except/pass
    "HumanEval/150": "unreachable-code",  # `break` after `return`
    "HumanEval/160": "bandit:B307",  # eval of a built expression
    "HumanEval/162": "bandit:B324",  # the task asks for MD5
}


@pytest.fixture(scope="module")
def references() -> dict[str, str]:
    tasks = {task.task_id: task for task in load_humaneval()}
    return {task_id: extract_code(reference_answer(tasks[task_id])) for task_id in (*DROPPED, *KEPT)}


def findings(code: str, suite: str = "all"):
    analysis = analyze_code(code, suite)
    assert analysis.errors == []
    return analysis.findings


@pytest.mark.parametrize("task_id", DROPPED)
def test_the_prompts_unused_typing_imports_are_not_reported(references, task_id):
    assert "from typing import" in references[task_id]
    assert findings(references[task_id]) == []


@pytest.mark.parametrize("task_id", sorted(KEPT))
def test_the_references_real_findings_are_still_reported(references, task_id):
    got = findings(references[task_id])
    assert [problem_class(f.key) for f in got] == [KEPT[task_id]]


def test_unused_imports_of_other_modules_are_still_reported():
    code = (
        "from typing import List\nimport os\nfrom typing_extensions import Literal\n\n\n"
        "def first(values):\n    return values[0]\n"
    )
    got = findings(code, "defects")
    assert [(f.line, problem_class(f.key)) for f in got] == [(2, "unused-import"), (3, "unused-import")]
    assert all(f.tool == "ruff" and f.rule_id == "F401" for f in got)  # pylint's W0611 is not enabled


def test_an_unused_typing_import_that_shadows_nothing_is_the_only_exemption():
    # An unused name from typing is exempt; a typing name used wrongly is still an error.
    code = "from typing import List\n\n\ndef first(values: List[int]) -> int:\n    return valuez[0]\n"
    got = findings(code, "defects")
    assert [(f.line, problem_class(f.key)) for f in got] == [(5, "undefined-name")]
