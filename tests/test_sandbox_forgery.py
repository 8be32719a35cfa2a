"""pass@1 cannot be forged by the code under test: every solution here is wrong and tries to pass
anyway (patched builtins, frame and memory reads, a rigged ``__eq__``, an early exit, a killed or
traced judge, a forged marker, garbage on the wire...); each must count as FAILED, in every sandbox
mode this machine offers. The honest counterparts pass, so a harness that fails everything would
fail here too.
"""

from __future__ import annotations

import collections
import enum
import math
import socket
import struct
from decimal import Decimal
from fractions import Fraction

import pytest
from patchloop.core.evaluation.checks import run_task_tests
from patchloop.core.evaluation.datasets import load_humaneval, load_mbpp
from patchloop.core.sandbox import check_tests
from patchloop.core.sandbox import judge as sandbox_judge
from patchloop.core.sandbox import wire as sandbox_wire
from sandbox_modes import MODES, needs


@pytest.fixture(params=MODES)
def mode(request) -> str:
    needs(request.param, "tests_isolated")
    return request.param


WRONG = "def add(a, b):\n    return a - b\n"
TESTS = "assert add(2, 3) == 5\nassert add(10, -4) == 6\nassert add(0, 0) == 0\n"
HUMANEVAL_TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(1, 1) == 2\n"

FORGERIES = {
    "patched builtins.compile": """
import builtins
_compile = builtins.compile
def _no_tests(source, filename, mode, *args, **kwargs):
    return _compile("pass", filename, mode)
builtins.compile = _no_tests
"""
    + WRONG,
    "patched builtins.exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\n" + WRONG,
    "marker read from the caller's frames": """
import os, sys
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
        if isinstance(value, str) and value.startswith("patchloop-tests-passed"):
            print(value)
            os._exit(0)
    frame = frame.f_back
"""
    + WRONG,
    "marker searched in every object": """
import gc, os
for obj in gc.get_objects():
    if isinstance(obj, dict):
        for value in obj.values():
            if isinstance(value, str) and "patchloop-tests-passed" in value:
                print(value)
"""
    + WRONG,
    "marker read from the parent's memory, fds and cmdline": """
import os, re
found = set()
parent = os.getppid()
for name in ("cmdline", "environ", "fd/0"):
    try:
        with open(f"/proc/{parent}/{name}", "rb") as fh:
            found.update(re.findall(rb"patchloop-tests-passed-[0-9a-f]{32}", fh.read(1 << 20)))
    except OSError as exc:
        print("refused", name, exc.errno)
try:
    with open(f"/proc/{parent}/maps") as maps, open(f"/proc/{parent}/mem", "rb") as mem:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            try:
                mem.seek(start)
                found.update(re.findall(rb"patchloop-tests-passed-[0-9a-f]{32}", mem.read(end - start)))
            except (OSError, OverflowError, ValueError):
                pass
except OSError as exc:
    print("refused mem", exc.errno)
for marker in found:
    print(marker.decode())
"""
    + WRONG,
    "judge traced with ptrace": """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())  # PTRACE_ATTACH
"""
    + WRONG,
    "judge killed": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG,
    "forged marker printed": "print('patchloop-tests-passed-' + '0' * 32)\n" + WRONG,
    "os._exit(0) before the tests": WRONG + "import os\nos._exit(0)\n",
    "sys.exit(0) before the tests": WRONG + "import sys\nsys.exit(0)\n",
    "sys.exit(0) inside the function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "rigged __eq__": "class Yes:\n    def __eq__(self, other):\n        return True\n"
    "def add(a, b):\n    return Yes()\n",
    "int subclass with a rigged __eq__": "class Five(int):\n    def __eq__(self, other):\n        return True\n"
    "    __hash__ = int.__hash__\ndef add(a, b):\n    return Five(a - b)\n",
    "builtins shadowed (abs, len, isinstance)": "def abs(x):\n    return 0\ndef len(x):\n    return 0\n"
    "def isinstance(*a):\n    return True\n" + WRONG,
    "its own check()": WRONG + "def check(candidate):\n    pass\n",
    "the harness's functions replaced": """
import sys
main = sys.modules["__main__"]
for name in dir(main):
    if callable(getattr(main, name)) and not name.startswith("__"):
        try:
            setattr(main, name, lambda *a, **k: None)
        except Exception:
            pass
"""
    + WRONG,
    "garbage on the judge's socket": "import os, sys\nos.write(int(sys.argv[1]), b'\\xff' * 64)\n" + WRONG,
    "a forged reply on the judge's socket": """
import json, os, struct, sys
raw = json.dumps({"ok": 5, "args": []}).encode()
os.write(int(sys.argv[1]), struct.pack(">Q", len(raw)) + raw)
"""
    + WRONG,
    "the tests' text looked for": """
import os, sys
needle = b"add(10, " + b"-4)"  # a piece of the tests, not written as such here
for root in {os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0])), os.environ.get("TMPDIR", "/tmp")}:
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                if needle in open(os.path.join(folder, name), "rb").read():
                    print("FOUND", os.path.join(folder, name), flush=True)
            except OSError:
                pass
"""
    + WRONG,
}


@pytest.mark.parametrize("name", FORGERIES)
def test_forgery_fails(mode, name):
    code = FORGERIES[name]
    result = check_tests(code, TESTS, mode=mode)
    assert not result.ok, f"{name}: a wrong solution passed\n{result.stdout}\n{result.stderr[-2000:]}"
    assert "FOUND" not in result.stdout  # the tests never reach the sandbox's file system
    human = check_tests(code, HUMANEVAL_TESTS, "add", mode=mode)
    assert not human.ok, f"{name} (HumanEval style): a wrong solution passed\n{human.stderr[-2000:]}"


def test_the_honest_solution_passes_both_styles(mode):
    assert check_tests("def add(a, b):\n    return a + b\n", TESTS, mode=mode).ok
    assert check_tests("def add(a, b):\n    return a + b\n", HUMANEVAL_TESTS, "add", mode=mode).ok


def test_the_judge_memory_is_out_of_reach(mode):
    code = (
        "import os\nfor name in ('mem', 'environ', 'fd/0'):\n    try:\n"
        "        open(f'/proc/{os.getppid()}/{name}', 'rb').read(1)\n        print('read', name)\n"
        "    except OSError as exc:\n        print('refused', name, exc.errno)\n" + WRONG
    )
    result = check_tests(code, TESTS, mode=mode)
    assert "read mem" not in result.stdout and "read environ" not in result.stdout, result.stdout
    assert not result.ok


def test_a_redefined_prelude_helper_does_not_judge():
    # HumanEval/32: the tests check find_zero's answer with poly() from the prompt; an answer that
    # rewrites poly to return 0 must still be judged by the prompt's own poly.
    prelude = 'def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\n\ndef root(xs):\n    """..."""\n'
    cheat = prelude + "\ndef poly(xs, x):\n    return 0\n\ndef root(xs):\n    return 123.0\n"
    tests = "def check(candidate):\n    assert abs(poly([1, 2], candidate([1, 2]))) < 1e-6\n"
    assert not check_tests(cheat, tests, "root", prelude=prelude).ok
    honest = prelude + "\ndef root(xs):\n    return -xs[0] / xs[1]\n"
    assert check_tests(honest, tests, "root", prelude=prelude).ok


def test_truth_of_a_solution_object_is_not_taken():
    code = (
        "class Truthy:\n    def __bool__(self):\n        return True\ndef is_even(n):\n    return Truthy()\n"
    )
    assert not check_tests(code, "assert is_even(4)\nassert not is_even(3)\n").ok
    assert not check_tests(code, "assert is_even(4)\n").ok


# -- what still works across the process boundary ------------------------------------------------


def test_objects_mutation_exceptions_and_values_cross_the_wire():
    code = """
class Node:
    def __init__(self, value):
        self.value, self.left, self.right = value, None, None
def depth(node):
    return 0 if node is None else 1 + max(depth(node.left), depth(node.right))
def sort_in_place(items):
    items.sort()
def fail(kind):
    raise {"value": ValueError, "key": KeyError}[kind]("no")
def echo(*args, **kwargs):
    return args, kwargs
def kinds(values, kind):
    return [v for v in values if isinstance(v, kind)]
"""
    tests = """
root = Node(1)
root.left = Node(2)
root.left.left = Node(3)
assert depth(root) == 3 and root.left.value == 2
items = [3, 1, 2]
sort_in_place(items)
assert items == [1, 2, 3]
try:
    fail("value")
    raise AssertionError("no exception")
except ValueError:
    pass
big = 3 ** 5000
args, kwargs = echo(big, float("inf"), -0.0, 1 + 2j, b"\\x00", {(1, 2): {3}}, frozenset({4}), key="v")
assert args[0] == big and args[1] == float("inf") and str(args[2]) == "-0.0" and args[3] == 1 + 2j
assert args[4] == b"\\x00" and args[5] == {(1, 2): {3}} and args[6] == frozenset({4}) and kwargs == {"key": "v"}
assert kinds([1, "a", 2.5], str) == ["a"]
"""
    result = check_tests(code, tests, setup_code="")
    assert result.ok, result.stderr[-3000:]


def test_a_solution_named_like_a_builtin_is_tested():
    # MBPP/126 defines its own sum(); the tests call it.
    code = "def sum(a, b):\n    return a + b + 1\n"
    assert check_tests(code, "assert sum(1, 2) == 4\n").ok
    assert sandbox_judge.tested_names("assert sum(10, 15) == 6\n", "") == {"sum"}
    assert sandbox_judge.tested_names(
        "assert abs(f(x) - 1) < 1e-6\nassert set(g(1)) == {1}\nassert not h(2)\n", "e"
    ) == {"f", "g", "h", "e"}


@pytest.mark.parametrize("task_id", ["HumanEval/32", "HumanEval/38", "HumanEval/0"])
def test_humaneval_reference_solutions_pass(task_id):
    task = next(t for t in load_humaneval() if t.task_id == task_id)
    outcome = run_task_tests(task, task.reference[len(task.source_prompt) :])
    assert outcome.passed, outcome.reason


@pytest.mark.parametrize("task_id", ["MBPP/367", "MBPP/533", "MBPP/11"])
def test_mbpp_reference_solutions_pass(task_id):
    task = next(t for t in load_mbpp("all") if t.task_id == task_id)
    outcome = run_task_tests(task, task.reference)
    assert outcome.passed, outcome.reason


# -- the wire itself -----------------------------------------------------------------------------


class _Colour(enum.IntEnum):
    RED = 1


PLAIN = [
    None,
    True,
    False,
    0,
    -7,
    2**70,
    -(2**200),
    1.5,
    -0.0,
    math.inf,
    -math.inf,
    "x",
    "é\udc80",
    b"\x00\xff",
    bytearray(b"ab"),
    [1, [2, [3]]],
    (1, (2,)),
    {1: "a", (1, 2): [3]},
    {1, 2},
    frozenset({"a"}),
    3 + 4j,
    Decimal("1.10"),
    Fraction(2, 3),
    int,
    ValueError,
    [],
    (),
    {},
    set(),
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_round_trip_with_their_exact_types(value):
    back = sandbox_wire.decode(sandbox_wire.encode(value))
    assert type(back) is type(value)
    assert back == value or (isinstance(value, float) and math.isnan(value) and math.isnan(back))


def test_subclasses_travel_as_their_base_type():
    point = collections.namedtuple("point", "x y")(1, 2)
    for value, kind in [
        (point, tuple),
        (collections.Counter("aab"), dict),
        (_Colour.RED, int),
        (collections.OrderedDict(a=1), dict),
    ]:
        back = sandbox_wire.decode(sandbox_wire.encode(value))
        assert type(back) is kind and back == value
    nan = sandbox_wire.decode(sandbox_wire.encode(float("nan")))
    assert math.isnan(nan)


@pytest.mark.parametrize(
    "data",
    [
        {"x": 1},
        {"$": "code", "v": "print(1)"},
        {"$": "type", "v": "eval"},
        {"$": "type", "v": "__import__"},
        {"$": "ref", "v": 1},
        {"$": "set", "v": [[1]]},
        {"$": "bytes", "v": "!!"},
        {"$": "int", "v": "zz"},
        {"$": "dict", "v": [[1]]},
        {"$": "float", "v": "1"},
    ],
)
def test_malformed_or_foreign_data_is_refused(data):
    with pytest.raises(sandbox_wire.WireError):
        sandbox_wire.decode(data)  # no from_ref: a reference is refused too


def test_unknown_objects_are_refused_or_referenced():
    with pytest.raises(TypeError):
        sandbox_wire.encode(object())
    assert sandbox_wire.encode(object(), lambda v: {"$": "ref", "v": 1})["$"] == "ref"
    with pytest.raises(ValueError):
        deep: list = []
        for _ in range(sandbox_wire.MAX_DEPTH + 5):
            deep = [deep]
        sandbox_wire.encode(deep)


def test_an_oversized_frame_is_refused_unread():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack(">Q", sandbox_wire.MAX_FRAME + 1))
        with pytest.raises(sandbox_wire.WireError):
            sandbox_wire.receive(ours)
        theirs.close()
        with pytest.raises(EOFError):
            sandbox_wire.receive(ours)
