"""Long-lived analyzer processes: started once, reused for every file, replaced when they die or hang.

Starting pylint, bandit or basedpyright costs 0.3-1.5 s a call, nearly all of it start-up (imports,
parsing typeshed's builtins); the analysis of a model-sized file takes tens of milliseconds. A
worker keeps the tool's process alive between calls:

- ``ProcessWorker`` runs one child (behind ``procguard``, in its own session, so a timeout or the
  death of patchloop kills its whole process group) with a reader thread that turns its stdout
  into messages and a drain thread that keeps the end of its stderr for error messages.
- ``ToolWorker`` speaks JSON lines to ``tool_worker.py`` (pylint or bandit imported once, run in
  process with the same argv as their command line); ``run`` returns the same ``ToolRun`` that
  ``base.run_tool`` does, so an analyzer parses warm and cold output with one parser.
  (basedpyright's language server has its own client, ``lsp.py``, on the same ``ProcessWorker``.)

Every call holds the worker's lock for its whole exchange (one file at a time per tool; the
runner's threads and several ``analyze_code`` calls may share a worker). A call gets a verdict or
a ``ToolFailure``, never an empty clean-looking result: a worker that is still starting or
answering at the deadline is killed ("timed out after N s", the next call starts a new one); one
that dies mid-call is restarted and the call retried once while time remains.

Workers are started from one long-lived thread (``_spawn``): the guard's death signal
(``PR_SET_PDEATHSIG``) fires when the *thread* that started it ends, and the runner's threads end
after every call. ``close_all`` (run at exit) kills every worker.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from .. import procguard
from . import base
from .base import ToolAnalyzer, ToolFailure, ToolRun, tail, tool_env

T = TypeVar("T")

WORKER_SCRIPT = Path(__file__).with_name("tool_worker.py")
MAX_REQUESTS = 500  # a worker is replaced after this many files, so slow leaks in a tool stay bounded
_EOF = object()  # the reader's last message: the child closed its stdout (it died or exited)


# --- starting processes from one long-lived thread ----------------------------------------------

_spawn_queue: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future]] = queue.SimpleQueue()
_spawn_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawn_loop() -> None:
    while True:
        start, future = _spawn_queue.get()
        try:
            future.set_result(start())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            future.set_exception(exc)


def _spawn(start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawn_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawn_loop, name="analyzer-worker-spawner", daemon=True)
            _spawner.start()
    future: Future = Future()
    _spawn_queue.put((start, future))
    return future.result()


def interpreter_tool(executable: str) -> bool:
    """``executable`` as ``base.find_tool`` finds it is this interpreter's own console script, so a
    worker importing the tool in this interpreter runs the same code. Anything else (a tool found
    on PATH, a test's fake) is run as a process by ``run_tool``."""
    if Path(executable).name != executable:  # a path (a test's fake): joining it would give itself back
        return False
    return base.find_tool(executable) == str(Path(sys.executable).parent / executable)


def call_worker(
    lock: threading.Lock,
    what: str,
    timeout: float,
    discard: Callable[[], None],
    exchange: Callable[[float], T],
) -> T:
    """One request to a long-lived worker within ``timeout``: wait for its lock, run ``exchange``
    (given the deadline); a worker that died is discarded and asked once more, one that hung past
    the deadline is discarded. Either way the caller gets an answer or a ``ToolFailure``."""
    deadline = time.monotonic() + max(timeout, 0.001)
    if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise ToolFailure(f"timed out after {timeout:g} s (waiting for {what})")
    try:
        for attempt in (1, 2):
            try:
                return exchange(deadline)
            except WorkerDied as exc:
                discard()
                if attempt == 2 or time.monotonic() >= deadline:
                    raise ToolFailure(str(exc)) from None
            except TimeoutError:
                discard()
                raise ToolFailure(f"timed out after {timeout:g} s") from None
        raise AssertionError("unreachable")  # the loop always returns or raises
    finally:
        lock.release()


# --- one child process ---------------------------------------------------------------------------


class ProcessWorker:
    """One guarded child process with a reader thread (``read_message(stream)`` per message, None
    at end of stream) and a drain thread for stderr. Not locked: its owner serialises use."""

    def __init__(
        self,
        argv: Sequence[str],
        read_message: Callable[[IO[bytes]], Any],
        *,
        cwd: Path | None = None,
        name: str = "worker",
    ):
        self.name = name
        self.messages: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stderr: collections.deque[bytes] = collections.deque(maxlen=64)
        command = list(argv)
        guarded = procguard.guarded(command) if procguard.available() else command

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                guarded,
                cwd=cwd,
                env=tool_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )

        try:
            self.proc = _spawn(start)
        except OSError as exc:
            raise ToolFailure(f"could not start {name}: {exc}") from exc
        # All three were opened with PIPE, so none is None (Popen's types cannot say so).
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._pipes = (self.proc.stdin, self.proc.stdout, self.proc.stderr)
        os.set_blocking(self.proc.stdin.fileno(), False)  # see send
        threading.Thread(target=self._read, args=(read_message,), name=f"{name}-reader", daemon=True).start()
        threading.Thread(target=self._drain, name=f"{name}-stderr", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self, read_message: Callable[[IO[bytes]], Any]) -> None:
        stream = self._pipes[1]
        try:
            while True:
                message = read_message(stream)
                if message is None:
                    break
                self.messages.put(message)
        except (OSError, ValueError) as exc:  # a closed pipe or a broken frame: the worker is unusable
            self._stderr.append(f"unreadable output: {exc}".encode())
        finally:
            self.messages.put(_EOF)

    def _drain(self) -> None:
        for line in self._pipes[2]:
            self._stderr.append(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, data: bytes, deadline: float) -> None:
        """Write all of ``data`` by ``deadline`` (``TimeoutError`` after it): a hung child stops
        reading, and a blocking write of a large file into its full pipe would outlast any timeout."""
        fd = self._pipes[0].fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
            except OSError as exc:  # EPIPE: the child is gone
                raise WorkerDied(f"{self.name} is gone ({exc})") from None

    def receive(self, deadline: float) -> Any:
        """The next message; ``TimeoutError`` at the deadline, ``WorkerDied`` at end of stream."""
        try:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError from None
        if message is _EOF:
            self.messages.put(_EOF)  # every later receive sees the end too
            raise WorkerDied(self.died_message())
        return message

    def died_message(self) -> str:
        try:
            code = self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        said = tail(b"".join(self._stderr).decode("utf-8", errors="replace"))
        return f"{self.name} died (exit {code})" + (f": {said}" if said else "")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in self._pipes:
            try:
                stream.close()
            except OSError:
                pass


class WorkerDied(Exception):
    """The child ended (crashed, was killed) while a call needed it, or is no longer fit to answer
    (a language server that fails a request inside itself): either way a fresh one is asked once."""


# --- the JSON-lines worker of pylint and bandit ---------------------------------------------------


def read_json_line(stream: IO[bytes]) -> dict | None:
    line = stream.readline()
    return json.loads(line) if line else None


class ToolWorker:
    """``tool_worker.py TOOL`` in this interpreter, one request at a time, restarted when needed."""

    def __init__(self, tool: str):
        self.tool = tool
        self._lock = threading.Lock()
        self._process: ProcessWorker | None = None
        self._served = 0
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        """The live child's pid (its guard's, when guarded), for tests and diagnostics."""
        return self._process.pid if self._process is not None and self._process.alive() else None

    def run(self, argv: Sequence[str], timeout: float, cwd: Path | None = None) -> ToolRun:
        """What ``run_tool(argv, timeout, cwd)`` returns, computed by the warm worker (argv[0], the
        executable's name, is dropped: the worker already is that tool)."""
        return call_worker(
            self._lock,
            f"the {self.tool} worker",
            timeout,
            self._discard,
            lambda deadline: self._exchange(list(argv[1:]), cwd, deadline),
        )

    def _exchange(self, argv: list[str], cwd: Path | None, deadline: float) -> ToolRun:
        process = self._ready(deadline)
        request_id = next(self._ids)
        request = {"id": request_id, "argv": argv, "cwd": str(cwd) if cwd else None}
        process.send((json.dumps(request) + "\n").encode("utf-8"), deadline)
        while True:
            reply = process.receive(deadline)
            if reply.get("id") == request_id:
                break
        self._served += 1
        if self._served >= MAX_REQUESTS:
            self._discard()
        return ToolRun(int(reply["returncode"]), str(reply["stdout"]), str(reply["stderr"]))

    def _ready(self, deadline: float) -> ProcessWorker:
        if self._process is not None and self._process.alive():
            return self._process
        self._discard()
        process = ProcessWorker(
            [sys.executable, "-I", str(WORKER_SCRIPT), self.tool], read_json_line, name=f"{self.tool} worker"
        )
        self._process = process
        hello = process.receive(deadline)  # the worker imports the tool before it says it is ready
        if not hello.get("ready"):
            raise WorkerDied(f"{self.tool} worker could not start: {hello.get('error', hello)}")
        self._served = 0
        return process

    def _discard(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None

    def close(self) -> None:
        # At exit a runner thread given up on may still hold the lock: kill the child regardless.
        acquired = self._lock.acquire(timeout=0.5)
        try:
            self._discard()
        finally:
            if acquired:
                self._lock.release()


# --- one shared worker per tool -------------------------------------------------------------------

_workers: dict[str, Any] = {}
_workers_lock = threading.Lock()


def shared(key: str, make: Callable[[], Any]) -> Any:
    """The process-wide worker under ``key`` (made on first use)."""
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None:
            worker = _workers[key] = make()
        return worker


def tool_worker(tool: str) -> ToolWorker:
    return shared(f"tool:{tool}", lambda: ToolWorker(tool))


def run_tool_warm(
    tool: str, warm: bool, argv: Sequence[str], timeout: float, cwd: Path | None = None
) -> ToolRun:
    """``argv`` run by ``tool``'s warm worker where ``warm`` and its executable (argv[0]) is this
    interpreter's own (``interpreter_tool``), else started as a process by ``base.run_tool``: the same
    ``ToolRun`` either way, read by one parser."""
    if warm and interpreter_tool(argv[0]):
        return tool_worker(tool).run(argv, timeout, cwd)
    return base.run_tool(argv, timeout, cwd=cwd)


@dataclass(frozen=True)
class WarmAnalyzer(ToolAnalyzer):
    """A ``ToolAnalyzer`` whose tool is kept running between files where it is this interpreter's (a
    worker process, ``run_tool_warm``, or a language server, lsp.py); ``warm=False``: its command line,
    started per call."""

    warm: bool = True


_owner = os.getpid()


def close_all() -> None:
    """Kill every worker (they start again on the next call). Not in a forked child: the workers
    are the parent's."""
    if os.getpid() != _owner:
        return
    with _workers_lock:
        workers = list(_workers.values())
    for worker in workers:
        worker.close()


atexit.register(close_all)
