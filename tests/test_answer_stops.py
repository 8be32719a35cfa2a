"""Stop strings: an answer ends where the first of its ``GenParams.stop`` strings begins, whichever
backend made it; the llama.cpp engine stops decoding there (its tests: test_llamacpp_backend.py)."""

from __future__ import annotations

import threading

import pytest
from doubles import ScriptedBackend
from patchloop.core.backends.base import generate_each, held_back, stop_index, with_answer_start
from patchloop.core.evaluation.prompts import FUNCTION_ANSWER_STOPS, answer_stops
from patchloop.core.types import GenParams

FUNCTION = "```python\ndef double(x):\n    return 2 * x\n"
DEMO = "\n# Test cases\nprint(double(2))\n```"


def test_the_first_stop_to_appear_is_where_the_answer_ends():
    assert stop_index("a\nprint(1)\nassert x", ("\nassert ", "\nprint(")) == 1
    assert stop_index("a\nprint(1)", ("\nprint(",), start=2) is None
    assert stop_index("no stop here", FUNCTION_ANSWER_STOPS) is None


@pytest.mark.parametrize(
    ("text", "held"),
    [("x = 1\n", 1), ("x = 1\n# Te", 5), ("x = 1\n# Tea", 0), ("x = 1", 0), ("\nprint", 6)],
)
def test_a_stream_holds_back_only_what_may_begin_a_stop(text, held):
    assert held_back(text, FUNCTION_ANSWER_STOPS) == held


def test_generate_each_cuts_every_backends_answers_at_their_stops():
    backend = ScriptedBackend([FUNCTION + DEMO])
    asked = [[{"role": "user", "content": "Write double."}]] * 2
    params = [GenParams(stop=FUNCTION_ANSWER_STOPS), GenParams()]
    reported = {}
    answers = generate_each(backend, asked, params, threading.Event(), reported.__setitem__)
    assert answers[0][0] == FUNCTION  # the answer ends before the demonstration
    assert answers[1][0] == FUNCTION + DEMO  # no stops: the answer as the model ended it
    assert [reported[0][0], reported[1][0]] == [answers[0][0], answers[1][0]]


def test_a_stop_inside_the_given_answer_start_does_not_end_the_answer():
    # The task's own code may hold a stop string (a top-level print in a HumanEval prompt); only
    # what the model writes after it is searched.
    start = "```python\nprint('task')\ndef f():\n"
    backend = ScriptedBackend([start + "    return 1\nprint(f())\n```"])
    asked = [with_answer_start([{"role": "user", "content": "Complete f."}], start)]
    (answer,) = generate_each(backend, asked, GenParams(stop=("\nprint(",)), None, lambda i, a: None)
    assert answer[0] == start + "    return 1"


def test_only_benchmarks_that_ask_for_one_function_have_answer_stops():
    assert answer_stops("humaneval") == answer_stops("mbpp") == FUNCTION_ANSWER_STOPS
    assert answer_stops("cyberseceval") == ()  # whole programs: top-level code is part of the answer
