"""The analyzers' long-lived tools started in the background (``loop.prewarm``): by the app while the
model loads, by `patchloop run` before it loads the model; the first real analysis then uses them."""

from __future__ import annotations

import threading

from doubles import ScriptedBackend
from patchloop.core import analyzers, backends
from patchloop.core.analyzers import start_tools as real_start_tools  # conftest replaces it per test
from patchloop.core.analyzers import workers
from patchloop.core.analyzers.pyright import pyright_server
from patchloop.core.config import Config
from patchloop.core.log import Log
from patchloop.tui.app import PatchloopApp

import patchloop.cli_common as cli_module

ANSWER = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"


def test_the_started_tools_are_the_ones_the_first_analysis_uses():
    workers.close_all()  # nothing running, as in a new process
    thread = real_start_tools("all")
    assert thread is not None
    thread.join(120)
    assert not thread.is_alive()
    server, pylint = pyright_server().pid, workers.tool_worker("pylint").pid
    assert server is not None and pylint is not None
    analysis = analyzers.analyze_code("def f(x):\n    return x + y\n", "all")
    assert analysis.errors == [] and any(f.rule_id == "reportUndefinedVariable" for f in analysis.findings)
    assert (pyright_server().pid, workers.tool_worker("pylint").pid) == (server, pylint)  # not restarted


def test_nothing_is_started_where_every_tool_starts_per_call():
    assert real_start_tools("all", "c") is None
    assert real_start_tools("all", "java") is None
    assert real_start_tools("no-such-suite") is None


def test_a_warm_up_that_fails_says_nothing(monkeypatch):
    def broken(code, suite="all", **options):
        raise RuntimeError("the analyzers could not start")

    raised: list = []
    monkeypatch.setattr(analyzers, "analyze_code", broken)
    monkeypatch.setattr(threading, "excepthook", raised.append)
    thread = real_start_tools("all")
    assert thread is not None
    thread.join(10)
    assert raised == []  # no traceback on stderr: the real analysis reports its own errors


def _started(monkeypatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        analyzers, "start_tools", lambda suite, language="python": calls.append((suite, language))
    )
    return calls


async def _mount(config: Config, log: Log) -> None:
    app = PatchloopApp(config, log=log, clock=lambda: 0.0, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()


async def test_the_app_starts_the_tools_while_the_model_loads(tmp_path, monkeypatch):
    calls = _started(monkeypatch)
    monkeypatch.setattr(backends, "load_backend", lambda spec, **options: ScriptedBackend([ANSWER]))
    log = Log(tmp_path / "log.db")
    try:
        config = Config(path=tmp_path / "config.toml")
        config.loop.analyzers = "security"
        await _mount(config, log)
        assert calls == [("security", "python")]
        config.loop.prewarm = False
        await _mount(config, log)
        assert calls == [("security", "python")]  # off: nothing more started
    finally:
        log.close()


def test_run_starts_the_tools_of_the_prompts_language_before_the_model_loads(env, monkeypatch):
    calls = _started(monkeypatch)
    order: list[str] = []

    def load_model(config, quiet=False):
        order.append(f"model after {len(calls)} start(s)")
        return ScriptedBackend([ANSWER])

    monkeypatch.setattr(cli_module, "load_model", load_model)
    result = env("run", "-a", "security", "--no-autofix", "--candidates", "0", "add two numbers")
    assert result.exit_code == 0, result.output
    assert calls == [("security", "python")] and order == ["model after 1 start(s)"]
    env("config", "set", "loop.prewarm", "false")
    assert env("run", "-a", "security", "--no-autofix", "--candidates", "0", "add two numbers").exit_code == 0
    assert len(calls) == 1
