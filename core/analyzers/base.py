"""What an analyzer plug-in is, and the one helper that runs an external tool safely."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from .. import procguard
from ..types import AnalyzerResult, Finding


@runtime_checkable
class Analyzer(Protocol):
    """A static analyzer plug-in.

    ``analyze`` reads ``path`` (the code already written to a private temp dir as
    ``solution.py`` or the user's own file) and must never execute it. It returns an
    ``AnalyzerResult``; a crash, a timeout or a missing tool is reported through
    ``AnalyzerResult.error``, never as an empty (clean) result.

    Optional attributes, read with ``getattr`` where present: ``tool`` (the ``Finding.tool`` it
    reports under, e.g. "ruff" for the "ruff-security" analyzer), ``executable`` (looked up by
    ``find_tool``; None or absent for in-process analyzers), ``distribution`` (the package
    whose version ``available_analyzers`` and SARIF report) and ``install`` (the command that
    installs a missing executable, shown by ``patchloop doctor`` and in the analyzer's error).
    """

    # Read-only properties, so that frozen dataclasses (every shipped analyzer) match the protocol.
    @property
    def name(self) -> str: ...  # "ruff", "bandit", "pylint", "pyright", "patchloop-ast", ...

    @property
    def languages(self) -> tuple[str, ...]: ...  # ("python",)

    def analyze(self, path: Path, language: str, timeout: float) -> AnalyzerResult: ...


@runtime_checkable
class SecurityRules(Protocol):
    """An analyzer in both suites that tells its security rules from its defect rules."""

    def security_rule(self, rule_id: str) -> bool: ...


@runtime_checkable
class OwnVersion(Protocol):
    """An analyzer whose tool runs through another program (ESLint on node) and says its own version."""

    def version(self) -> str | None: ...


# --- running an external tool -------------------------------------------------------------------


class ToolFailure(Exception):
    """The tool could not give a verdict: missing, timed out, crashed or printed nonsense."""


def find_tool(executable: str) -> str | None:
    """Path of ``executable``: next to the running interpreter first (the venv's bin), then PATH.

    ``sys.executable`` is deliberately not resolved: in a venv it is a symlink whose folder is the
    venv's bin, which is where pip put ruff, bandit, pylint and basedpyright.
    """
    candidate = Path(sys.executable).parent / executable
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(executable)


def require_tool(executable: str, install: str, also_in: Sequence[Path] = ()) -> str:
    """Path of ``executable`` (``find_tool``, then the folders ``also_in``, e.g. ~/.cargo/bin), or a
    ``ToolFailure`` that names ``install``, the command that installs it: a missing compiler must be
    an error the user can act on, never a clean verdict."""
    found = find_tool(executable)
    for folder in also_in:
        if found:
            break
        found = find_tool(str(Path(folder) / executable))  # an absolute path: that file or nothing
    if found is None:
        raise ToolFailure(f"{executable} is not installed; install it with: {install}")
    return found


@dataclass
class ToolRun:
    returncode: int
    stdout: str
    stderr: str


def tool_env() -> dict[str, str]:
    """The environment every tool process gets (``run_tool``'s and the warm workers')."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONPATH", None)  # the user's import path must not change what a tool loads
    return env


def run_tool(argv: Sequence[str], timeout: float, cwd: Path | None = None) -> ToolRun:
    """Run ``argv`` (argv[0] is looked up with ``find_tool``) and capture its output.

    The tool runs in its own session so that on timeout the whole process group is killed:
    basedpyright is a Python wrapper around node, and killing only the wrapper would leave node
    holding the output pipe (and ``communicate`` waiting on it) after the deadline. On Linux it runs
    behind ``procguard``, which kills that group when patchloop dies (``kill -9`` included).
    Raises ``ToolFailure`` when the executable is missing or the deadline passes.
    """
    executable = find_tool(argv[0])
    if executable is None:
        raise ToolFailure(f"executable {argv[0]!r} not found (install it into this environment)")
    env = tool_env()
    command = [executable, *argv[1:]]
    try:
        proc = subprocess.Popen(
            procguard.guarded(command) if procguard.available() else command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolFailure(f"could not start {argv[0]}: {exc}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=max(timeout, 0.001))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolFailure(f"timed out after {timeout:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode == procguard.EXEC_FAILED and stderr.startswith(procguard.EXEC_FAILED_MARK):
        raise ToolFailure(f"could not start {argv[0]}: {stderr.decode('utf-8', errors='replace').strip()}")
    return ToolRun(
        proc.returncode,
        stdout.decode("utf-8", errors="replace"),
        stderr.decode("utf-8", errors="replace"),
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a grandchild that left the group still holds a pipe
        pass


def tail(text: str, limit: int = 400) -> str:
    """The end of a tool's stderr, on one line, for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]


def guarded(analyzer: str, work: Callable[[], list[Finding]]) -> AnalyzerResult:
    """Run ``work`` and wrap its findings, turning every way it can fail into ``error``.

    A tool's own failure (``ToolFailure``) keeps its message; output the parser cannot read
    (bad JSON, missing keys) is "unparsable output"; anything else is a crash. None of them
    can come back as an empty, clean-looking result.
    """
    start = time.monotonic()
    try:
        findings = work()
    except ToolFailure as exc:
        error = str(exc)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        error = f"unparsable output: {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a plug-in crash must become an error, not a traceback
        error = f"crashed: {type(exc).__name__}: {exc}"
    else:
        return AnalyzerResult(analyzer, findings, None, time.monotonic() - start)
    return AnalyzerResult(analyzer, [], error, time.monotonic() - start)


class GuardedAnalyzer:
    """The ``analyze`` of an analyzer whose work is its ``findings`` method, run under ``guarded``: a
    missing tool, a timeout, a crash or output it cannot read is an error, never a clean result."""

    name: str

    def analyze(self, path: Path, language: str, timeout: float) -> AnalyzerResult:
        return guarded(self.name, lambda: self.findings(path, language, timeout))

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        raise NotImplementedError


# What installs a tool whose analyzer names nothing else: the Python tools come with patchloop's own package.
DEFAULT_INSTALL = "make setup (pip install -e .)"


@dataclass(frozen=True)
class ToolAnalyzer(GuardedAnalyzer):
    """A ``GuardedAnalyzer`` that runs one program, with the optional attributes of ``Analyzer`` as
    fields: each module's factory (``javac_analyzer()``, ``mcs_compile()`` ...) says what they are."""

    name: str
    languages: tuple[str, ...]
    tool: str  # the Finding.tool it reports under (mcs-compile's is "mcs")
    executable: str
    install: str = DEFAULT_INSTALL
    distribution: str | None = None  # None: the tool is no Python package


def check_exit(run: ToolRun, tool: str, ok: Collection[int], output: str) -> None:
    """A ``ToolFailure`` (with the end of ``output``) unless ``run`` exited with a status in ``ok``: any
    other is the tool failing, not a verdict on the code."""
    if run.returncode not in ok:
        raise ToolFailure(f"{tool} exited with {run.returncode}: {tail(output)}")


def check_error_found(run: ToolRun, failed: int, findings: list[Finding], what: str, output: str) -> None:
    """A ``ToolFailure`` "``what``: <the end of ``output``>" when ``run`` exited with ``failed`` (a
    compiler's "errors in the code") and not one of ``findings`` is an error: a failure that names
    nothing in the file is no verdict."""
    if run.returncode == failed and not any(f.severity == "error" for f in findings):
        raise ToolFailure(f"{what}: {tail(output)}")
