"""The child side of a warm analyzer worker (``workers.ToolWorker``): one tool imported once, then
run in process on request, exactly as its command line would run.

    python -I tool_worker.py pylint|bandit

Run by path with ``-I`` (no script folder, no user site, no PYTHONPATH on ``sys.path``), so nothing
of patchloop is importable here: only the standard library and the tool. Protocol: one JSON object
a line. The worker says ``{"ready": true}`` once the tool is imported (or ``{"ready": false,
"error": ...}``); each request ``{"id", "argv", "cwd"}`` (argv without the program name) gets
``{"id", "returncode", "stdout", "stderr"}``: the exit status the command would exit with, and what
it would print. The protocol has the original stdout to itself; fd 1 is pointed at stderr, so
nothing a tool prints can corrupt a reply.

Each request runs in a fresh state where the tool keeps any: pylint's linter is reused only with
its per-run state reset (see ``pylint_runner``), and after each file astroid forgets every module that is not part of the installed Python
(the standard library and site-packages, whose files do not change under a running worker) and
clears its inference and lookup caches, so the next file is checked as a fresh process would
check it (tests/test_analyzer_workers.py compares warm and cold results on the fixtures).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable


class _Capture(io.StringIO):
    """A stdout stand-in: bandit's report writer closes its file and reads its ``name``."""

    name = "<stdout>"

    def close(self) -> None:  # the text is read after the tool "closed" it
        pass


Runner = Callable[[list[str]], int]


def _exit_status(exc: SystemExit) -> tuple[int, str]:
    """The status and message the interpreter would exit with for ``exc``."""
    if exc.code is None:
        return 0, ""
    if isinstance(exc.code, int):
        return exc.code, ""
    return 1, f"{exc.code}\n"


def run_captured(runner: Runner, argv: list[str], cwd: str | None) -> dict:
    out, err = _Capture(), _Capture()
    previous = os.getcwd()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if cwd:
                os.chdir(cwd)
            status = runner(argv)
        except SystemExit as exc:
            status, message = _exit_status(exc)
            err.write(message)
        except BaseException:  # noqa: BLE001 - as the command would: a traceback and status 1
            err.write(traceback.format_exc())
            status = 1
        finally:
            os.chdir(previous)
    return {"returncode": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


# --- pylint ----------------------------------------------------------------------------------------


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {
        os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths
    }
    return tuple(root.rstrip(os.sep) + os.sep for root in roots)


def pylint_runner() -> Runner:
    """pylint's ``Run`` for the first file of each set of options; after it, the same linter
    (options parsed and checkers registered once, 50-60 ms a file less) with its per-run state
    reset the way pylint's own parallel workers reset it between files, then Run's last steps:
    check, reports, exit status. Only for runs whose options come from the command line alone
    (``--rcfile`` given): otherwise the configuration pylint finds depends on the folder."""
    from pylint.lint import Run
    from pylint.lint.pylinter import PyLinter
    from pylint.utils import FileState, LinterStats

    keep = _installed_roots()
    linters: dict[tuple[str, ...], PyLinter] = {}

    def first_run(argv: list[str], options: tuple[str, ...]) -> int:
        run = Run.__new__(Run)
        try:
            run.__init__(argv)  # exits with pylint's status, as the console script does
        except SystemExit as exc:
            linter = getattr(run, "linter", None)
            if (
                options
                and linter is not None
                and isinstance(exc.code, int)
                and not exc.code & 32
                and linter.config.files
            ):
                linters[options] = linter  # a finished lint (32: a usage error; --help has no files)
            raise
        return 0

    def next_run(linter: PyLinter, files: list[str]) -> int:
        linter.reporter.out = sys.stdout
        linter.reporter.messages = []
        linter.stats = LinterStats()
        linter.msg_status = 0
        linter.file_state = FileState("", linter.msgs_store, is_base_filestate=True)
        linter.current_name, linter.current_file = "", None
        linter.check(files)
        score = linter.generate_reports(verbose=False)
        return pylint_exit_status(linter, score)

    def run(argv: list[str]) -> int:
        options, files = _split_files(argv)
        reusable = options if any(o.startswith("--rcfile=") for o in options) and files else ()
        try:
            linter = linters.get(reusable) if reusable else None
            return next_run(linter, files) if linter is not None else first_run(argv, reusable)
        except KeyboardInterrupt:
            return 1
        finally:
            forget_checked_modules(keep)

    return run


def _split_files(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(options, files) of an argv whose files follow "--"; no files when there is no "--"."""
    if "--" not in argv:
        return tuple(argv), []
    cut = argv.index("--")
    return tuple(argv[:cut]), argv[cut + 1 :]


def pylint_exit_status(linter, score: float | None) -> int:
    """The status ``pylint.lint.Run`` exits with after a lint (its last lines, same order)."""
    if linter.config.exit_zero:
        return 0
    if linter.any_fail_on_issues():
        return linter.msg_status or 1
    if score is not None:
        return 0 if score >= linter.config.fail_under else linter.msg_status or 1
    return linter.msg_status


def forget_checked_modules(keep: tuple[str, ...]) -> None:
    """astroid's caches as a fresh process would have them, except the parsed installed modules.

    The same caches ``astroid.MANAGER.clear_cache()`` clears, but without dropping the standard
    library and site-packages (re-parsing builtins and typing costs 0.2-0.4 s a file)."""
    from astroid import MANAGER
    from astroid.context import _invalidate_cache
    from astroid.inference_tip import clear_inference_tip_cache
    from astroid.interpreter._import import spec, util
    from astroid.interpreter.objectmodel import ObjectModel
    from astroid.modutils import _cache_normalize_path_, _has_init, cached_os_path_isfile
    from astroid.nodes._base_nodes import LookupMixIn
    from astroid.nodes.scoped_nodes import ClassDef

    clear_inference_tip_cache()
    _invalidate_cache()
    for name, module in list(MANAGER.astroid_cache.items()):
        file = module.file
        if file and not os.path.realpath(file).startswith(keep):
            del MANAGER.astroid_cache[name]
    MANAGER._mod_file_cache.clear()
    for cached in (
        LookupMixIn.lookup,
        _cache_normalize_path_,
        _has_init,
        cached_os_path_isfile,
        util.is_namespace,
        ObjectModel.attributes,
        ClassDef._metaclass_lookup_attribute,
        spec._find_spec,
        spec._is_setuptools_namespace,
    ):
        cached.cache_clear()
    for finder in spec._SPEC_FINDERS:
        finder.find_module.cache_clear()


# --- bandit ----------------------------------------------------------------------------------------


def bandit_runner() -> Runner:
    from bandit.cli import main as bandit_main

    def run(argv: list[str]) -> int:
        sys.argv = ["bandit", *argv]  # bandit's main reads its arguments from sys.argv
        bandit_main.main()  # always exits
        return 0

    return run


RUNNERS: dict[str, Callable[[], Runner]] = {"pylint": pylint_runner, "bandit": bandit_runner}


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def reply(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    tool = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        runner = RUNNERS[tool]()
    except Exception as exc:  # noqa: BLE001 - the parent reports it as the worker's failure to start
        reply({"ready": False, "error": f"{tool or 'no tool'}: {type(exc).__name__}: {exc}"})
        return
    reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        reply({"id": request["id"], **run_captured(runner, list(request["argv"]), request.get("cwd"))})


if __name__ == "__main__":
    main()
