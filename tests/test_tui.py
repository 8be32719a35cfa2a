"""The Textual app, driven with Pilot: streaming, cancelling, stepping, labels, history, settings,
exports, keymaps, layout at 120x40 and 80x24, non-blocking streaming, and snapshot tests.

Most tests inject ScriptedBackend and a fake analysis so they do not depend on model or analyzer
speed; ``test_real_analyzers_in_the_app`` runs the real (security and fast) suites.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from doubles import ScriptedBackend, fake_analyze
from patchloop.core.backends.base import ModelError
from patchloop.core.config import Config, load_config
from patchloop.core.log import Log, LogError
from patchloop.core.loop import run_loop
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.types import Analysis, AnalyzerResult, BackendInfo, Finding
from patchloop.tui.app import PatchloopApp
from patchloop.tui.diffing import change_counts, side_by_side
from patchloop.tui.format import device_text, elapsed_text, rate_text
from patchloop.tui.keys import binding_catalogue, keys_markdown
from patchloop.tui.screens.compare import CompareScreen
from patchloop.tui.screens.help import HelpScreen
from patchloop.tui.screens.history import HistoryScreen
from patchloop.tui.screens.main import MainScreen
from patchloop.tui.screens.path import PathScreen
from patchloop.tui.screens.settings import SettingsScreen
from patchloop.tui.widgets.code_view import CodeView
from patchloop.tui.widgets.diff_view import DiffView
from patchloop.tui.widgets.findings import FindingsTable
from patchloop.tui.widgets.prompt import PromptEditor
from patchloop.tui.widgets.status_bar import StatusBar
from patchloop.tui.widgets.timeline import Timeline
from textual.widgets import Button, Input, Select

ROOT = Path(__file__).resolve().parent.parent

BAD = (
    "Here is the code:\n```python\nimport os\n\n\ndef run(cmd):\n    return eval(cmd)\n\n\n"
    "def f(x):\n    y = 1\n    return os.system(x)\n```\nDone."
)
GOOD = (
    "Fixed:\n```python\nimport subprocess\n\n\ndef run(cmd: str) -> int:\n    return int(cmd)\n\n\n"
    "def f(x):\n    return subprocess.run([x], check=True).returncode\n```\n"
)
BAD_CODE = BAD.split("```python\n")[1].split("```")[0]
GOOD_CODE = GOOD.split("```python\n")[1].split("```")[0]
LONG = "```python\n" + "".join(f"value_{i} = {i} * 2\n" for i in range(150)) + "```\n"


class RecordingApp(PatchloopApp):
    """Keeps every notification, so tests can check what the user was told."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str]] = []

    def notify(self, message, *, title="", severity="information", **kwargs) -> None:  # type: ignore[override]
        self.notes.append((f"{title} {message}".strip(), severity))
        super().notify(message, title=title, severity=severity, **kwargs)


@pytest.fixture(autouse=True)
def _unfreeze_gc():
    """The app freezes the heap (gc.freeze) for smooth streaming; give other tests a normal GC back."""
    yield
    gc.unfreeze()


@pytest.fixture
def log(tmp_path):
    store = Log(tmp_path / "log.db")
    yield store
    store.close()


@pytest.fixture
def config(tmp_path) -> Config:
    # The paper's plain loop, so each scripted answer is one iteration; the repair steps (autofix,
    # candidates) have their own tests below and in test_loop.py.
    config = Config(path=tmp_path / "config.toml")
    config.loop.autofix, config.loop.candidates = False, 0
    return config


def make_app(config, log, responses=(BAD, GOOD), *, delay=0.0, backend=None, **kwargs) -> RecordingApp:
    backend = backend if backend is not None else ScriptedBackend(list(responses), delay=delay)
    kwargs.setdefault("analyze", fake_analyze)
    return RecordingApp(config, backend=backend, log=log, clock=lambda: 0.0, cursor_blink=False, **kwargs)


async def until(pilot, condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def run_done(app: PatchloopApp) -> bool:
    run = app.session.run
    return not app.session.live and run is not None and run.stop_reason is not None


async def send(pilot, text: str) -> None:
    editor = pilot.app.screen.query_one(PromptEditor)
    editor.focus()
    editor.load_text(text)
    await pilot.press("ctrl+j")


async def start_long_run(pilot) -> None:
    """Sends the prompt LONG answers and waits for its first tokens: a run to stop midway."""
    await send(pilot, "make a long list")
    await until(pilot, lambda: pilot.app.session.tokens > 5, what="tokens")


async def exited(app: PatchloopApp, timeout: float = 10.0) -> None:
    """Waits up to ``timeout`` seconds for the app to exit, which a test then checks it did."""
    deadline = time.monotonic() + timeout
    while app.is_running and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def run_prompt(pilot, text: str = "write a function that runs a command") -> None:
    await send(pilot, text)
    await until(pilot, lambda: run_done(pilot.app), what="the run to finish")
    await settle_workers(pilot)
    await pilot.pause()


async def settle_workers(pilot) -> None:
    """Wait for the syntax-colouring workers; an exclusive one replaced by a newer one ends
    cancelled, which is how it should end, so wait again for the one that replaced it."""
    from textual.worker import WorkerCancelled

    for _ in range(20):
        try:
            await pilot.app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


def findings_rows(table: FindingsTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


# -- running, streaming, stepping ----------------------------------------------------------------


async def test_the_timeline_marks_autofix_and_candidate_iterations(config, log):
    config.loop.autofix, config.loop.candidates = True, 2
    unused = "```python\nimport os\n\n\ndef run(cmd):\n    return eval(cmd)\n```"
    backend = ScriptedBackend([unused, BAD, GOOD, GOOD])  # greedy BAD repeats nothing new: candidates
    app = make_app(
        config,
        log,
        backend=backend,
        analyze=lambda code: Analysis(
            findings=[
                *fake_analyze(code).findings,
                *[
                    Finding("ruff", "F401", "note", "`os` imported but unused", n)
                    for n, line in enumerate(code.splitlines(), 1)
                    if line == "import os" and "os." not in code
                ],
            ],
            results=[AnalyzerResult("fake", [])],
        ),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "run a command")
        await until(pilot, lambda: run_done(app), what="the run")
        await pilot.pause()
        run = app.session.run
        origins = [it.origin_label for it in run.iterations]
        assert origins[:2] == ["model", "autofix"], origins
        timeline = app.screen.query_one(Timeline)
        assert [c.origin for c in timeline.chips] == origins
        rendered = str(timeline.render())
        assert "v1 fix" in rendered
        await pilot.press("left_square_bracket")  # show v1: its origin and its change from v0
        while timeline.selected != 1:
            await pilot.press("left_square_bracket")
        subtitle = app.screen.query_one(CodeView).border_subtitle
        assert subtitle.startswith("autofix") and "−3 +0 vs v0" in subtitle  # the import and its blank lines
        if "candidate" in " ".join(origins):
            assert "/2" in rendered


async def test_run_flagged_then_clean_shows_findings_and_steps(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.screen.query_one(PromptEditor)
        assert editor.has_focus
        await pilot.press(*"run a command")
        assert editor.text == "run a command"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: run_done(app), what="the run")
        await pilot.pause()
        run = app.session.run
        assert run.stop_reason == "clean" and run.best_index == 1
        screen = app.screen
        code, table, timeline = (
            screen.query_one(CodeView),
            screen.query_one(FindingsTable),
            screen.query_one(Timeline),
        )
        # The last (clean, best) iteration is shown; its code came in through the stream.
        assert code.text == GOOD_CODE
        assert "v1" in code.border_title and "stop: clean" in code.border_subtitle
        assert table.row_count == 0
        assert [(c.index, c.status, c.count, c.best) for c in timeline.chips] == [
            (0, "flagged", 3, False),
            (1, "clean", 0, True),
        ]
        assert "stop: clean · best v1" in screen.query_one(StatusBar).status.state
        # Step back: v0's code and its three findings (tool, rule, severity, line, message).
        await pilot.press("left_square_bracket")
        assert code.text == BAD_CODE
        assert findings_rows(table) == [
            ["bandit", "B307", "error", "5", "Use of possibly insecure function eval"],
            ["ruff", "F841", "warning", "9", "Local variable `y` is assigned to but never used"],
            ["bandit", "B605", "error", "10", "Starting a process with a shell"],
        ]
        assert timeline.selected == 0
        await pilot.press("right_square_bracket")
        assert timeline.selected == 1 and code.text == GOOD_CODE
        # The timeline steps too when focused (left/right).
        await pilot.press("f3", "left")
        assert timeline.has_focus and timeline.selected == 0
    rows = list(log.db["iterations"].rows_where("run_id = ?", [run.id], order_by="idx"))
    assert [r["n_findings"] for r in rows] == [3, 0]
    assert log.run_row(run.id)["source"] == "tui"


async def test_selecting_a_finding_jumps_to_its_line(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_prompt(pilot)
        await pilot.press("left_square_bracket", "f5")
        table, code = app.screen.query_one(FindingsTable), app.screen.query_one(CodeView)
        assert table.has_focus
        await pilot.press("down", "down")  # the os.system finding, line 10; highlighting previews it
        assert code.selection.end[0] == 9 and not code.has_focus
        await pilot.press("up", "enter")  # selecting jumps and focuses the code
        assert code.has_focus and code.selection.start == (8, 0)
        assert code.selected_text.startswith("    y = 1")


async def test_escape_cancels_mid_stream_and_keeps_finished_iterations(config, log):
    app = make_app(config, log, responses=(BAD, LONG), delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "make a long list")
        await until(
            pilot, lambda: app.session.streaming_index == 1 and app.session.tokens > 10, what="v1 to stream"
        )
        assert app.screen.query_one(CodeView).has_focus  # sending moves focus to the code pane
        assert "generating v1" in app.screen.query_one(StatusBar).status.state
        await pilot.press("escape")
        await until(pilot, lambda: run_done(app), timeout=5, what="the cancel")
        await pilot.pause()
        run = app.session.run
        assert run.stop_reason == "cancelled"
        code = app.screen.query_one(CodeView)
        assert "stop: cancelled" in code.border_subtitle
        # Cancelled at once: far from the whole answer was generated.
        assert 0 < len(run.iterations[1].response) < len(LONG) // 2
        assert code.text.startswith("value_0 = 0 * 2\n")
        assert [c.status for c in app.screen.query_one(Timeline).chips] == ["flagged", "cancelled"]
    row = log.run_row(run.id)
    assert row["stop_reason"] == "cancelled"
    rows = list(log.db["iterations"].rows_where("run_id = ?", [run.id], order_by="idx"))
    assert [(r["idx"], r["n_findings"], r["error"]) for r in rows] == [(0, 3, None), (1, 0, "cancelled")]


async def test_ctrl_c_cancels_only_while_running(config, log):
    app = make_app(config, log, responses=(LONG,), delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: run_done(app), timeout=5, what="the cancel")
        assert app.session.run.stop_reason == "cancelled"
        assert app.is_running  # ctrl+c cancelled the run, not the app


async def test_quit_mid_run_cancels_cleanly(config, log):
    app = make_app(config, log, responses=(LONG,), delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot)
        await pilot.press("ctrl+q")
        await exited(app)
        assert not app.is_running
    runs = log.list_runs()
    assert len(runs) == 1 and runs[0].stop_reason == "cancelled" and runs[0].n_iterations == 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_a_signal_from_outside_cancels_the_run_and_exits_with_its_code(config, log, sig, code):
    app = make_app(config, log, responses=(LONG,), delay=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot)
        os.kill(os.getpid(), sig)
        await exited(app)
        assert not app.is_running
    assert app.return_code == code
    # The handlers go with the app: the process's usual handling is back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    await asyncio.sleep(0.5)  # the cancelled loop logs its stop reason from the worker thread
    runs = log.list_runs()
    assert len(runs) == 1 and runs[0].stop_reason == "cancelled"


async def test_live_findings_while_streaming(config, log):
    """The streamed code is re-analyzed (here with a fake fast suite) before the iteration ends."""
    seen: list[str] = []
    release = threading.Event()

    def live(code: str) -> Analysis:
        seen.append(code)
        return fake_analyze(code)

    def full(code: str) -> Analysis:
        release.wait(10)  # hold the full analysis so the live findings can be looked at
        return fake_analyze(code)

    slow_bad = (
        "```python\ndef f(x):\n    return eval(x)\n" + "".join(f"z{i} = {i}\n" for i in range(40)) + "```\n"
    )
    app = make_app(config, log, responses=(slow_bad, GOOD), delay=0.02, analyze=full, live_analyze=live)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "parse")
        table = app.screen.query_one(FindingsTable)
        await until(pilot, lambda: table.row_count > 0, what="live findings")
        assert app.session.live and 0 not in app.session.finished
        assert table.border_title == "Findings · v0 · live"
        assert findings_rows(table)[0][:4] == ["bandit", "B307", "error", "2"]
        assert all(code.endswith("\n") for code in seen)  # only whole lines are analyzed
        release.set()
        await until(pilot, lambda: run_done(app), what="the run")
        await pilot.press("left_square_bracket")
        assert table.border_title == "Findings · v0 · all"


async def test_model_error_is_shown_and_the_app_stays_up(config, log):
    app = make_app(config, log, responses=(ModelError("the server went away"),))
    async with app.run_test(size=(120, 40)) as pilot:
        await run_prompt(pilot)
        assert app.session.run.stop_reason == "model_error"
        status = app.screen.query_one(StatusBar).status
        assert status.tone == "error" and "stop: model_error" in status.state
        assert [c.status for c in app.screen.query_one(Timeline).chips] == ["error"]
        await pilot.press("f2")
        assert app.screen.query_one(PromptEditor).has_focus


class FailingLog(Log):
    def add_iteration(self, run_id, it):
        raise LogError(f"the log database {self.path} stayed locked: database is locked")


async def test_log_locked_mid_run_is_a_notification_not_a_crash(config, tmp_path):
    store = FailingLog(tmp_path / "locked.db")
    app = make_app(config, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "anything")
        await until(pilot, lambda: not app.session.live and app.session.error, what="the crash report")
        assert any("stayed locked" in note and severity == "error" for note, severity in app.notes)
        assert "error: log:" in app.screen.query_one(StatusBar).status.state
        await send(pilot, "again")  # still usable
        await until(pilot, lambda: not app.session.live and app.session.error, what="the second report")
    store.close()


async def test_empty_prompt_is_refused_with_a_message(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "   \n ")
        await pilot.pause()
        assert app.session.run is None
        assert any("prompt is empty" in note for note, _ in app.notes)


# -- model loading ---------------------------------------------------------------------------------


async def test_model_loads_in_a_worker_with_progress_and_queues_the_prompt(config, log, monkeypatch):
    from patchloop.core import backends

    release = threading.Event()
    stages: list[str] = []

    def slow_load(spec, **options):
        options["progress"]("assembling the model from its parts")
        stages.append(spec)
        release.wait(10)
        return ScriptedBackend([BAD, GOOD])

    monkeypatch.setattr(backends, "load_backend", slow_load)
    app = RecordingApp(config, log=log, analyze=fake_analyze, clock=lambda: 0.0, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.screen.query_one(StatusBar)
        await until(pilot, lambda: "assembling" in status.status.state, what="progress")
        assert "assembling the model" in str(app.screen.query_one(CodeView).placeholder)
        await send(pilot, "queued prompt")
        await pilot.pause()
        assert app.session.run is None and "(prompt queued)" in status.status.state
        assert any("model is still loading" in note for note, _ in app.notes)
        release.set()
        await until(pilot, lambda: run_done(app), what="the queued run")
        assert app.session.run.prompt == "queued prompt" and stages == ["embedded"]
        assert status.status.model == "scripted-test-model" and status.status.device == "CPU"


async def test_model_load_failure_is_explained(config, log, monkeypatch):
    from patchloop.core import backends

    def broken(spec, **options):
        raise ModelError("model files for 'nope' are missing; run `patchloop model prepare`")

    monkeypatch.setattr(backends, "load_backend", broken)
    config.model.name = "nope"
    app = RecordingApp(config, log=log, analyze=fake_analyze, clock=lambda: 0.0, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.screen.query_one(StatusBar)
        await until(pilot, lambda: status.status.state == "model failed to load", what="the failure")
        assert any("missing" in note and severity == "error" for note, severity in app.notes)
        await send(pilot, "anything")
        await pilot.pause()
        assert app.session.run is None
        assert any("No model" in note for note, _ in app.notes)


# -- labels, compare, files ------------------------------------------------------------------------


def labels_in_log(log: Log) -> dict[int, str]:
    return {row["iteration_id"]: row["label"] for row in log.db["labels"].rows}


async def test_labels_go_to_the_log(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_prompt(pilot)
        run = app.session.run
        v0, v1 = (it.id for it in run.iterations)
        await pilot.press("c")
        await until(pilot, lambda: app.session.labels == {1: "chosen"}, what="the label")
        assert labels_in_log(log) == {v1: "chosen"}
        await pilot.press("left_square_bracket", "x")
        await until(pilot, lambda: app.session.labels.get(0) == "rejected", what="the label")
        assert labels_in_log(log) == {v1: "chosen", v0: "rejected"}
        assert log.labels_for_run(run.id) == {0: "rejected", 1: "chosen"}
        chips = app.screen.query_one(Timeline).chips
        assert [c.label for c in chips] == ["rejected", "chosen"]
        await pilot.press("x")  # the same key again clears it
        await until(pilot, lambda: 0 not in app.session.labels, what="the clear")
        assert labels_in_log(log) == {v1: "chosen"}
        await pilot.click("#chosen")  # the button does what the key does
        await until(pilot, lambda: app.session.labels.get(0) == "chosen", what="the button label")
        assert labels_in_log(log) == {v1: "chosen", v0: "chosen"}


async def test_compare_two_iterations_side_by_side(config, log):
    worse = BAD.replace("return eval(cmd)", "return eval(cmd) + 1")
    config.loop.t_max = 2
    app = make_app(config, log, responses=(BAD, worse, GOOD))
    async with app.run_test(size=(120, 40)) as pilot:
        await run_prompt(pilot)
        assert len(app.session.run.iterations) == 3
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        diff = screen.query_one(DiffView)
        assert (screen.left, screen.right) == (1, 2)
        assert diff.border_title == "v1 ⇄ v2"
        kinds = {row.kind for row in diff.rows}
        assert {"replace", "equal"} <= kinds
        left_table = screen.query_one("#compare-left-findings", FindingsTable)
        right_table = screen.query_one("#compare-right-findings", FindingsTable)
        assert left_table.row_count == 3 and right_table.row_count == 0
        await pilot.press("left")  # step both sides back
        assert (screen.left, screen.right) == (0, 1)
        assert diff.border_title == "v0 ⇄ v1"
        # v0 and v1 differ in one line: one replaced row, the rest equal.
        assert [row.kind for row in diff.rows].count("replace") == 1
        await pilot.press("right", "comma")  # forward, then the left side back one
        assert (screen.left, screen.right) == (0, 2)
        screen.query_one("#compare-left", Select).value = 2
        await pilot.pause()
        assert screen.left == 2 and all(row.kind == "equal" for row in diff.rows)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        # Mark v0, pick v2, compare: the marked one is the left side.
        await pilot.press(
            "left_square_bracket",
            "left_square_bracket",
            "m",
            "right_square_bracket",
            "right_square_bracket",
            "d",
        )
        assert isinstance(app.screen, CompareScreen) and (app.screen.left, app.screen.right) == (0, 2)


async def test_copy_save_and_export(config, log, tmp_path):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_prompt(pilot)
        await pilot.press("left_square_bracket", "c", "y")
        assert app.clipboard == BAD_CODE
        await until(pilot, lambda: app.session.labels.get(0) == "chosen", what="label")
        # Save the code: a path dialog; an existing file is never overwritten.
        target = tmp_path / "saved.py"
        target.write_text("keep me")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        assert isinstance(app.screen, PathScreen) and "already exists" in str(
            app.screen.query_one("#path-error").content
        )
        assert target.read_text() == "keep me"
        app.screen.query_one(Input).value = str(tmp_path / "v0.py")
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "v0.py").read_text() == BAD_CODE
        # Export as Markdown (by extension) and as JSON.
        await pilot.press("e")
        app.screen.query_one(Input).value = str(tmp_path / "run.md")
        await pilot.press("enter")
        await pilot.pause()
        markdown = (tmp_path / "run.md").read_text()
        assert "## v0 (3 findings, chosen)" in markdown and "## v1 (clean, best)" in markdown
        assert "- stop reason: clean" in markdown and "`bandit:B307`" in markdown
        await pilot.press("e")
        app.screen.query_one(Input).value = str(tmp_path / "run.json")
        await pilot.press("enter")
        await pilot.pause()
        data = json.loads((tmp_path / "run.json").read_text())
        assert data["best_index"] == 1 and data["labels"] == {"0": "chosen"}
        assert [len(it["findings"]) for it in data["iterations"]] == [3, 0]


# -- history ---------------------------------------------------------------------------------------


def seed_log(log: Log) -> list[int]:
    """Two past runs, with fixed creation times (the history screen shows them)."""
    ids = []
    for prompt, responses in (("parse numbers from a string", [GOOD]), ("hash a password", [BAD, GOOD])):
        run = run_loop(
            prompt,
            ScriptedBackend(responses),
            LoopSettings(t_max=3, autofix=False, candidates=0),
            log=log,
            analyze=fake_analyze,
            source="cli",
        )
        ids.append(run.id)
    for number, run_id in enumerate(ids):
        log.db["runs"].update(run_id, {"created": f"2025-06-0{number + 1}T10:30:00+00:00"})
    return ids


async def test_history_search_replay_and_rerun(config, log):
    _first, second = seed_log(log)
    log.set_label(log.load_run(second).iterations[0].id, "rejected")
    backend = ScriptedBackend([GOOD])
    app = make_app(config, log, backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history-runs")
        await until(pilot, lambda: table.row_count == 2, what="the runs")
        assert [str(c) for c in table.get_row_at(0)][:4] == [
            str(second),
            "2025-06-02 10:30",
            "hash a password",
            "clean",
        ]
        await pilot.press("slash", *"pars")
        await until(pilot, lambda: table.row_count == 1, what="the search")
        assert str(table.get_row_at(0)[2]) == "parse numbers from a string"
        await pilot.press("ctrl+u", *"nothing like this")
        await until(pilot, lambda: table.row_count == 0, what="an empty search")
        assert screen.query_one("#history-empty").display
        await pilot.press("ctrl+u", *"hash", "enter")
        await until(pilot, lambda: table.row_count == 1, what="the search")
        assert table.has_focus
        await pilot.press("enter")  # replay
        await until(pilot, lambda: app.session.replay, what="the replay")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        session = app.session
        assert session.run.id == second and session.labels == {0: "rejected"} and not session.live
        assert app.screen.query_one(PromptEditor).text == "hash a password"
        assert app.screen.query_one(CodeView).text == GOOD_CODE  # the best iteration
        assert f"run {second}: stop: clean" in app.screen.query_one(StatusBar).status.state
        await pilot.press("left_square_bracket")
        assert app.screen.query_one(FindingsTable).row_count == 3
        # Re-run a past prompt from the history.
        await pilot.press("ctrl+r")
        table = app.screen.query_one("#history-runs")
        await until(pilot, lambda: table.row_count == 2, what="the runs")
        await pilot.press("down", "r")
        await until(pilot, lambda: run_done(app) and not app.session.replay, what="the re-run")
        assert app.session.run.prompt == "parse numbers from a string"
        assert backend.calls[0][-1]["content"] == "parse numbers from a string"
    assert len(log.list_runs()) == 3


# -- settings, palette, keymap ---------------------------------------------------------------------


async def test_settings_screen_saves_to_the_config_file(config, log):
    variants = [BAD.replace("return eval(cmd)", f"return eval(cmd) + {n}") for n in range(6)]
    app = make_app(config, log, responses=variants)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#settings-suite", Select).value = "security"
        screen.query_one("#settings-threshold", Select).value = "warning"
        tmax = screen.query_one("#settings-tmax", Input)
        tmax.value = "99"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)  # refused, with the reason
        assert "from 0 to 50" in str(screen.query_one("#settings-error").content)
        assert not config.path.exists()
        tmax.value = "1"
        screen.query_one("#settings-candidates", Input).value = "17"
        await pilot.press("ctrl+s")
        assert "from 0 to 16" in str(screen.query_one("#settings-error").content)
        screen.query_one("#settings-candidates", Input).value = "2"
        screen.query_one("#settings-autofix", Select).value = False
        screen.query_one("#settings-feedback", Select).value = "chat"
        assert screen.query_one("#settings-engine", Select).value == "auto"  # changing it reloads the model
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        saved = load_config(config.path)
        assert (saved.loop.analyzers, saved.loop.threshold, saved.loop.t_max) == ("security", "warning", 1)
        assert (saved.loop.autofix, saved.loop.feedback, saved.loop.candidates) == (False, "chat", 2)
        assert (saved.model.name, saved.model.engine) == ("embedded", "auto")
        assert "security · t_max 1 · ≥warning" in app.screen.query_one(StatusBar).status.settings
        await run_prompt(pilot)  # the next run uses them
        run = app.session.run
        assert (run.analyzers, run.threshold, run.t_max, len(run.iterations)) == ("security", "warning", 1, 2)


async def test_settings_screen_sets_the_language_of_the_next_run(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        screen = app.screen
        language = screen.query_one("#settings-language", Select)
        assert language.value == "auto"
        language.value = "java"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert load_config(config.path).loop.language == "java" and config.loop.language == "java"


async def test_command_palette_changes_a_setting(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"suite: defects")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: config.path.exists(), what="the config file")
        assert load_config(config.path).loop.analyzers == "defects"
        assert config.loop.analyzers == "defects"


async def test_keymap_from_config_remaps_and_reports_unknown_ids(config, log):
    config.keys = {"compare": "v", "no_such_binding": "z"}
    app = make_app(config, log)
    async with app.run_test(size=(120, 40)) as pilot:
        assert any("no_such_binding" in note and severity == "warning" for note, severity in app.notes)
        await run_prompt(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, MainScreen)  # d no longer compares
        await pilot.press("v")
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape", "f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")


def test_every_binding_has_an_id_and_docs_keys_md_is_current():
    entries = binding_catalogue()
    assert all(entry.id for entry in entries)
    ids = [(entry.scope, entry.id) for entry in entries]
    assert len(ids) == len(set(ids))
    assert {"send", "cancel", "label_chosen", "label_rejected", "compare", "history", "settings", "help"} <= {
        entry.id for entry in entries
    }
    assert (ROOT / "docs" / "KEYS.md").read_text(encoding="utf-8") == keys_markdown(), (
        "docs/KEYS.md is stale: regenerate it with patchloop.tui.keys.keys_markdown()"
    )


# -- small pieces ----------------------------------------------------------------------------------


def test_side_by_side_rows_align_equal_replaced_and_inserted_lines():
    rows = side_by_side(["a", "b", "c"], ["a", "B", "c", "d"])
    assert [(r.left, r.right, r.kind) for r in rows] == [
        (0, 0, "equal"),
        (1, 1, "replace"),
        (2, 2, "equal"),
        (None, 3, "insert"),
    ]
    assert change_counts(rows) == (1, 2)
    assert [r.kind for r in side_by_side(["x", "y"], [])] == ["delete", "delete"]


def test_device_and_speed_texts():
    assert device_text(BackendInfo("transformers", "m", device="cuda", quantization="nf4")) == "GPU · 4-bit"
    assert device_text(BackendInfo("transformers", "m", device="cpu")) == "CPU"
    assert device_text(BackendInfo("openai", "m", device="server")) == "server"
    assert rate_text(30, 5.0) == "6.0 tok/s" and rate_text(0, 0.0) == "– tok/s"
    assert elapsed_text(75) == "1:15" and elapsed_text(3725) == "1:02:05"


async def test_status_bar_drops_the_least_important_parts_first(config, log):
    app = make_app(config, log)
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause()
        text = app.screen.query_one(StatusBar).render().plain
        assert text.startswith("● ready") and "scripted-test-model" in text
        assert "patchloop" not in text and len(text) <= 58


# -- layout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_layout_fits_and_every_pane_is_reachable(config, log, size):
    app = make_app(config, log)
    async with app.run_test(size=size) as pilot:
        await run_prompt(pilot)
        screen = app.screen
        panes = [
            screen.query_one(selector)
            for selector in ("#prompt", "#timeline", "#code", "#findings", "#status")
        ]
        regions = [pane.region for pane in panes]
        width, height = size
        for pane, region in zip(panes, regions, strict=True):
            assert region.width > 0 and region.height > 0, pane
            assert region.right <= width and region.bottom <= height - 1, (
                pane
            )  # the footer keeps the last row
        for i, a in enumerate(regions):
            for b in regions[i + 1 :]:
                assert not a.overlaps(b), (a, b)
        assert (
            screen.query_one("#code").region.height >= 6 and screen.query_one("#findings").region.height >= 5
        )
        # Tab reaches every pane in order; function keys focus each one directly.
        screen.query_one("#prompt").focus()
        await pilot.pause()
        order = []
        for _ in range(4):
            order.append(app.focused.id)
            await pilot.press("tab")
        assert order == ["prompt", "timeline", "code", "findings"]
        for key, pane in (("f2", "prompt"), ("f3", "timeline"), ("f4", "code"), ("f5", "findings")):
            await pilot.press(key)
            assert app.focused.id == pane
        assert all(not button.can_focus for button in screen.query(Button))


async def test_ui_never_blocks_while_a_slow_model_streams(config, log):
    """While ScriptedBackend(delay=0.05) streams ~3 s of tokens and the live preview runs the real
    fast suite, the UI thread never works more than 100 ms at a stretch, and the event loop's lag
    stays under 100 ms.

    Lag is wall-clock time and also grows when other processes starve this one of CPU, so on a
    machine busier than one runnable process per core the lag bound is scaled by the load; the bound
    on the UI thread's own CPU time between two ticks is not (time it is not scheduled is not counted).
    """
    answer = "```python\n" + "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(8)) + "```\n"
    backend = ScriptedBackend([answer], delay=0.05, piece=4)
    app = make_app(config, log, backend=backend, live_analyze=None)
    app.live_analyze = app._fast_analyze  # the real fast suite for the live preview
    gaps: list[tuple[float, float]] = []  # (wall seconds, UI-thread CPU seconds) between ticks
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "many functions")
        await until(pilot, lambda: app.session.tokens > 0, what="the first token")
        loop = asyncio.get_running_loop()
        last = (loop.time(), time.thread_time())

        def probe() -> None:
            nonlocal last
            now = (loop.time(), time.thread_time())
            gaps.append((now[0] - last[0], now[1] - last[1]))
            last = now

        timer = app.set_interval(0.01, probe)
        await until(
            pilot,
            lambda: app.session.phase == "analyzing" or run_done(app),
            timeout=30,
            what="the stream to end",
        )
        timer.stop()
        await until(pilot, lambda: run_done(app), timeout=30, what="the run")
    assert len(gaps) > 50
    busiest = max(cpu for _, cpu in gaps)
    assert busiest < 0.1, f"the UI thread worked {busiest * 1000:.0f} ms without a break"
    load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    allowed = 0.1 * max(1.0, load_per_core)
    lag = max(wall for wall, _ in gaps)
    assert lag < allowed, f"the event loop lagged {lag * 1000:.0f} ms (allowed {allowed * 1000:.0f} ms)"


# -- real analyzers --------------------------------------------------------------------------------


async def test_real_analyzers_in_the_app(config, log):
    insecure = "```python\nimport pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n```\n"
    secure = "```python\nimport json\n\n\ndef load(data):\n    return json.loads(data)\n```\n"
    config.loop.analyzers = "security"
    app = RecordingApp(
        config, backend=ScriptedBackend([insecure, secure]), log=log, clock=lambda: 0.0, cursor_blink=False
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "load data")
        await until(pilot, lambda: run_done(app), timeout=60, what="the run with real analyzers")
        await pilot.pause()
        run = app.session.run
        assert run.stop_reason == "clean", run.iterations[0].analyzer_errors
        await pilot.press("left_square_bracket")
        rows = findings_rows(app.screen.query_one(FindingsTable))
        assert any(row[3] == "5" and ("B301" in row[1] or "S301" in row[1]) for row in rows), rows


# -- snapshots -------------------------------------------------------------------------------------


def snapshot_app(tmp_path, responses=(BAD, GOOD), t_max=3) -> RecordingApp:
    config = Config(path=tmp_path / "config.toml")
    config.loop.t_max = t_max
    log = Log(tmp_path / "snap.db")
    return make_app(config, log, responses=responses)


async def _after_run(pilot) -> None:
    await run_prompt(pilot, "Write a function that runs a shell command given by the user.")


def test_snapshot_main_after_a_run(snap_compare, tmp_path):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), run_before=_after_run)


def test_snapshot_main_small_terminal(snap_compare, tmp_path):
    async def before(pilot) -> None:
        await _after_run(pilot)
        await pilot.press("left_square_bracket")

    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=before)


def test_snapshot_compare(snap_compare, tmp_path):
    async def before(pilot) -> None:
        await _after_run(pilot)
        await pilot.press("d")

    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), run_before=before)


def test_snapshot_history(snap_compare, tmp_path):
    app = snapshot_app(tmp_path)
    seed_log(app.log_store)

    async def before(pilot) -> None:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: pilot.app.screen.query_one("#history-runs").row_count == 2, what="runs")

    assert snap_compare(app, terminal_size=(120, 40), run_before=before)


def test_snapshot_help(snap_compare, tmp_path):
    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), press=["f1"])
