"""The test judge of a sandboxed test run: runs the tests in a process the solution cannot reach.

Runs inside the sandbox as ``python -I -S sandbox_judge.py`` (the launcher's command for
``check_tests``, which copies the harness in under those names: ``HARNESS``). Before any of the
solution's code exists it makes itself non-dumpable (so no other process of its uid can read or
write its memory through ``/proc/PID/mem``, and ``ptrace`` is refused by the seccomp filter as
well), reads the per-run pass marker and the tests from stdin (they never touch the sandbox's file
system, so the solution cannot read them) and imports what the tests import. Only then does it
start the solution in a separate process (``server``) and run the tests here, calling into the
solution over a socket that carries plain data only (``wire``). The solution can patch
``compile``, ``builtins`` or its own copy of anything, read its own frames, exit early or return
objects with a rigged ``__eq__``: none of it reaches the judge's interpreter, which prints the
marker only when every test has run to its end.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import linecache
import os
import socket
import subprocess
import sys
import traceback
import types

TYPE_CHECKING = False  # typing itself is not imported: it would add to every run's start
if TYPE_CHECKING:
    from typing import Any

if __package__:  # imported on the host (tests)
    from . import wire
else:  # run in the sandbox beside a copy of wire.py, named sandbox_wire.py there
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, _HERE)
    # The sandbox's own name for wire.py, on the path only in there.
    import sandbox_wire as wire  # pyright: ignore[reportMissingImports]

    sys.path[:] = [p for p in sys.path if p not in (_HERE, "", os.getcwd())]


class SolutionError(Exception):
    """An exception in the solution's process that is not one of the built-in exceptions (or its
    process ended)."""


def _no_dump() -> None:
    """PR_SET_DUMPABLE 0: /proc/PID/mem, /proc/PID/fd and ptrace of this process need privileges
    no sandboxed process has. Failing that on Linux, the judge refuses to judge."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        raise SystemExit("patchloop judge: cannot make itself non-dumpable")


class Remote:
    """An object that lives in the solution's process: it can be called, and its attributes read
    and set; everything else (truth, comparison by value, iteration) is refused, since only the
    solution's own code could answer it."""

    __slots__ = ("_conn", "_ref", "_type")

    def __init__(self, conn: Connection, ref: int, type_name: str) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args, **kwargs):
        return self._conn.call(self, args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._conn.request({"op": "getattr", "ref": self._ref, "name": name})

    def __setattr__(self, name: str, value) -> None:
        self._conn.request(
            {"op": "setattr", "ref": self._ref, "name": name, "value": self._conn.encode(value)}
        )

    def __bool__(self) -> bool:
        raise TypeError(
            f"the truth of the solution's {self._type} object cannot be tested outside its process"
        )

    def __repr__(self) -> str:
        return f"<{self._type} object of the solution's>"


class Connection:
    """The judge's end of the socket to the solution's process."""

    def __init__(self, sock: socket.socket, server: subprocess.Popen) -> None:
        self.sock, self.server = sock, server
        self._remotes: dict[int, Remote] = {}

    def from_ref(self, ref: int, type_name: str) -> Remote:
        if ref not in self._remotes:
            self._remotes[ref] = Remote(self, ref, type_name)
        return self._remotes[ref]

    @staticmethod
    def _to_ref(value: object) -> dict:
        if isinstance(value, Remote):
            return {"$": "ref", "v": value._ref}
        raise TypeError(
            f"a {type(value).__name__} cannot be passed to the solution's process (plain data only)"
        )

    def encode(self, value: object) -> object:
        return wire.encode(value, self._to_ref)

    def decode(self, data: object) -> object:
        return wire.decode(data, self.from_ref)

    def receive(self) -> dict:
        try:
            reply = wire.receive(self.sock)
        except EOFError:
            status = self.server.poll()
            ended = "ended" if status is None else f"ended (exit status {status})"
            raise SolutionError(f"the solution's process {ended} before the tests finished") from None
        if type(reply) is not dict:
            raise wire.WireError("a reply that is not an object")
        if "error" in reply:
            _raise_remote(reply["error"])
        return reply

    def request(self, message: dict) -> object:
        wire.send(self.sock, message)
        return self.decode(self.receive().get("ok"))

    def call(self, target: Remote, args: tuple, kwargs: dict) -> object:
        wire.send(
            self.sock,
            {
                "op": "call",
                "ref": target._ref,
                "args": [self.encode(a) for a in args],
                "kwargs": [[str(k), self.encode(v)] for k, v in kwargs.items()],
            },
        )
        reply = self.receive()
        result = self.decode(reply.get("ok"))
        after = reply.get("args")
        if type(after) is list and len(after) == len(args):
            for original, changed in zip(args, after):
                if changed is not None:
                    _update_in_place(original, self.decode(changed))
        return result


def _update_in_place(original: Any, changed: Any) -> None:
    """What a call did to a list, dict, set or bytearray it was given, done to the judge's own."""
    kind = type(original)
    if kind is not type(changed):
        return
    if kind in (list, bytearray):
        original[:] = changed
    elif kind in (dict, set):
        original.clear()
        original.update(changed)


def _raise_remote(error: object) -> None:
    error = error if type(error) is dict else {}
    name, message, trace = (str(error.get(k, "")) for k in ("type", "message", "traceback"))
    cls = getattr(builtins, name, None) if name.isidentifier() else None
    exc: Exception
    if isinstance(cls, type) and issubclass(cls, Exception):  # SystemExit and the like stay apart
        try:
            exc = cls(message)
        except Exception:  # noqa: BLE001 - a built-in exception that wants other arguments
            exc = SolutionError(f"{name}: {message}")
    else:
        exc = SolutionError(f"{name}: {message}" if name else "the solution's process failed")
    if trace:
        exc.add_note("in the solution's process:\n" + trace.rstrip())
    raise exc


def imported_modules(*sources: str) -> list[str]:
    """Absolute imports in the given sources (the tests' own), to import before the solution runs."""
    found: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
    return list(dict.fromkeys(found))


def _import(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - the test that imports it will fail on its own
        return None
    # The judge starts without site-packages (-S: 40 ms less per run, and the tests are stdlib);
    # a test that imports a package gets them now.
    if not sys.flags.no_site or "site" in sys.modules:
        return None
    import site

    site.main()
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001
        return None


def _first_call(expr: ast.AST) -> str | None:
    """The function whose result an assertion checks: ``f`` in ``f(x) == 1``, ``set(f(x)) == ...``,
    ``abs(f(x) - 1) < 1e-6``; a built-in counts only when no call hides in its arguments
    (``sum(10, 15) == 6`` tests a solution's own ``sum``)."""
    while isinstance(expr, ast.Call):
        inner = next((n for arg in expr.args for n in ast.walk(arg) if isinstance(n, ast.Call)), None)
        if isinstance(expr.func, ast.Name) and (expr.func.id not in vars(builtins) or inner is None):
            return expr.func.id
        if inner is None:
            return None
        expr = inner
    return None


def tested_names(tests: str, entry_point: str) -> set[str]:
    """The functions under test: the entry point, and what each ``assert`` calls first."""
    found = {entry_point} if entry_point else set()
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            test = node.test
            test = test.left if isinstance(test, ast.Compare) else test
            test = test.operand if isinstance(test, ast.UnaryOp) else test
            name = _first_call(test)
            if name:
                found.add(name)
    return found


def namespace(names: list, conn: Connection, tested: set[str]) -> dict:
    """The tests' globals: the solution's top-level names. One that would stand in for a built-in
    is left out unless it is a function under test (MBPP's ``sum``): a solution's own ``abs`` or
    ``len`` must not judge the tests' comparisons."""
    ns: dict = {"__name__": "tests", "__builtins__": builtins}
    for item in names:
        if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
            raise wire.WireError("bad name list")
        name, value = item
        if (
            name.startswith("__")
            or not name.isidentifier()
            or (name in vars(builtins) and name not in tested)
        ):
            continue
        if type(value) is dict and value.get("$") == "module":
            module = _import(str(value.get("v")))  # the judge's own copy, from its own path
            if module is not None:
                ns[name] = module
            continue
        ns[name] = conn.decode(value)
    return ns


def _run(source: str, filename: str, ns: dict) -> None:
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # never read from disk
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 - the benchmark's own tests


def judge(spec: dict, conn: Connection, names: list) -> None:
    entry = spec.get("entry_point") or ""
    ns = namespace(names, conn, tested_names(spec["tests"], entry))
    solution_entry = ns.get(entry) if entry else None
    if spec.get("prelude"):
        # The benchmark's own helpers (HumanEval's prompt: imports, poly(), encode_cyclic()) judge the
        # answer, not the solution's copies of them; the function under test stays the solution's.
        _run(spec["prelude"], "prelude.py", ns)
        if entry:
            if solution_entry is None:
                raise NameError(f"the solution defines no {entry}")
            ns[entry] = solution_entry
    if spec.get("setup"):
        _run(spec["setup"], "setup_code.py", ns)
    _run(spec["tests"], "test_code.py", ns)
    if entry:
        check = ns.get("check")
        if not (isinstance(check, types.FunctionType) and check.__code__.co_filename == "test_code.py"):
            raise NameError("the tests define no check() function")
        if entry not in ns:
            raise NameError(f"name {entry!r} is not defined")
        check(ns[entry])


def main() -> None:
    _no_dump()
    spec = json.loads(sys.stdin.buffer.readline())
    marker = str(spec["marker"])
    for name in imported_modules(spec.get("prelude", ""), spec.get("setup", ""), spec["tests"]):
        _import(name)
    here = os.path.dirname(os.path.abspath(__file__))  # the run's read-only input folder
    ours, theirs = socket.socketpair()
    server = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-S",
            os.path.join(here, "sandbox_server.py"),
            str(theirs.fileno()),
            os.path.join(here, "solution.py"),
        ],
        stdin=subprocess.DEVNULL,
        pass_fds=(theirs.fileno(),),
        close_fds=True,
    )
    theirs.close()
    conn = Connection(ours, server)
    passed = False
    try:
        reply = conn.receive()
        judge(spec, conn, reply.get("names", []))
        passed = True
    except BaseException:  # noqa: BLE001 - every way the tests can fail is a failure, reported
        traceback.print_exc()
    finally:
        ours.close()  # the server sees the end, flushes its output and exits
        try:
            server.wait(timeout=2)
        except subprocess.TimeoutExpired:
            server.kill()
    sys.stdout.flush()
    sys.stderr.flush()
    if passed:
        os.write(1, ("\n" + marker + "\n").encode())
    os._exit(0 if passed else 1)


if __name__ == "__main__":
    main()
