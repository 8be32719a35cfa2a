"""The missing-import rewrite: undefined standard-library names get their import, others are left."""

from __future__ import annotations

import pytest
from patchloop.core.analyzers import analyze_code
from patchloop.core.autofix import fix_until_stable


def fixed(code: str):
    analysis = analyze_code(code, "defects")
    return fix_until_stable(code, analysis, lambda c: analyze_code(c, "defects"))


def test_typing_collections_and_modules_get_their_imports_and_behaviour_is_kept():
    code = (
        "def f(xs: List[int]) -> int:\n    c = Counter(xs)\n"
        "    return int(math.sqrt(len(c))) + reduce(lambda a, b: a + b, xs, 0)\n"
    )
    outcome = fixed(code)
    assert outcome.analysis.findings == []
    assert outcome.code.startswith(
        "from typing import List\nfrom collections import Counter\nimport math\n"
        "from functools import reduce\n\n\ndef f("
    )
    namespace: dict = {}
    exec(compile(outcome.code, "solution.py", "exec"), namespace)  # noqa: S102 - our own fixture code
    assert namespace["f"]([1, 1, 2, 3, 3, 3, 4, 4, 4]) == 2 + 25


@pytest.mark.parametrize(
    "code",
    [
        "def g(n):\n    return helper(n)\n",  # not a standard-library name: the model has to decide
        "def g():\n    return Counter\n\n\nCounter = 3\n",  # defined later in the module: an order problem
    ],
)
def test_names_the_table_does_not_know_or_the_module_defines_are_left_alone(code):
    outcome = fixed(code)
    assert outcome.code == code and outcome.applied == []
