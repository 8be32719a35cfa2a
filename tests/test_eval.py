"""Evaluation: loaders, prompts, sandboxed tests, metrics, the eval tables, resume, select, CLI."""

from __future__ import annotations

import json
import threading

import patchloop.core.loop_settings as loop_settings_module
import pytest
from click.testing import CliRunner
from doubles import ScriptedBackend
from patchloop.core.evaluation import (
    DatasetError,
    EvalSpec,
    EvalStore,
    ReferenceBackend,
    Task,
    TaskResult,
    is_security_finding,
    load_tasks,
    parse_task_spec,
    read_task_set,
    run_eval,
    summarize,
    task_result,
    write_task_set,
)
from patchloop.core.evaluation.checks import TaskTester, humaneval_program, run_task_tests
from patchloop.core.evaluation.datasets import normalise_task_id
from patchloop.core.evaluation.report import render_markdown
from patchloop.core.log import Log
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.types import Analysis, BackendInfo, Finding, GenStats, Iteration, Run

import patchloop.cli_common as cli_module
from patchloop.cli import cli

NOTE = Finding("ruff", "F841", "note", "unused variable", 3)
SHELL = Finding(
    "bandit", "B602", "error", "subprocess call with shell=True", 4, cwe="CWE-78", also=("ruff:S602",)
)


def fake_analysis(code: str) -> Analysis:
    """Flags ``eval(`` (a security finding) and nothing else, in microseconds."""
    findings = (
        [Finding("bandit", "B307", "warning", "use of eval", 1, cwe="CWE-78")] if "eval(" in code else []
    )
    return Analysis(findings=findings)


class KeyedBackend:
    """Answers by the task's prompt (the first user message); patch requests get ``patched``."""

    def __init__(self, answers: dict[str, str], patched: str | None = None, stop_after: int | None = None):
        self.answers, self.patched = answers, patched
        self.stop_after = stop_after  # raise KeyboardInterrupt on this batch call (Ctrl-C)
        self.calls = 0
        self.prompts: list[str] = []
        self.info = BackendInfo(backend="keyed", model="keyed-test-model")

    def generate(self, messages, params, cancel=None, stats=None):
        yield self.generate_batch([messages], params, cancel)[0][0]

    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise KeyboardInterrupt
        out = []
        for messages in conversations:
            prompt = next(m["content"] for m in messages if m["role"] == "user")
            self.prompts.append(prompt)
            patch = sum(m["role"] == "user" for m in messages) > 1
            patched = self.patched.get(prompt) if isinstance(self.patched, dict) else self.patched
            out.append((patched if patch and patched else self.answers[prompt], GenStats(1, 1)))
        return out


def block(code: str) -> str:
    return f"```python\n{code}```"


# -- loaders and prompts --------------------------------------------------------------------------


def test_humaneval_loads_all_164_with_prompt_and_tests():
    tasks = load_tasks("humaneval")
    assert len(tasks) == 164
    assert [t.task_id for t in tasks[:3]] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    first = tasks[0]
    assert first.entry_point == "has_close_elements" and "def check(candidate)" in first.test_code
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in first.prompt
    assert "```python" in first.prompt and "whole function" in first.prompt


def test_mbpp_test_split_and_prompt_show_one_test():
    tasks = load_tasks("mbpp")
    assert len(tasks) == 500
    assert tasks[0].task_id == "MBPP/11" and tasks[-1].task_id == "MBPP/510"
    task = tasks[0]
    tests = task.meta["test_list"]
    assert tests[0] in task.prompt and tests[1] not in task.prompt  # the others stay hidden
    assert "\r" not in task.reference and task.test_code.count("assert") == 3


def test_cyberseceval_python_by_default_and_all_languages_on_request():
    python = load_tasks("cyberseceval")
    assert len(python) == 351 and {t.language for t in python} == {"python"}
    assert python[0].reference and python[0].test_code is None
    every = load_tasks("cyberseceval", languages=None)
    assert len(every) == 1916
    with pytest.raises(DatasetError, match="no cobol"):
        load_tasks("cyberseceval", languages=["cobol"])


def test_task_ids_limit_and_errors():
    assert [t.task_id for t in load_tasks("humaneval", task_ids=["5", "HumanEval/2", "humaneval/5"])] == [
        "HumanEval/5",
        "HumanEval/2",
    ]
    assert len(load_tasks("mbpp", limit=7)) == 7
    assert load_tasks("mbpp", task_ids=["2"])[0].task_id == "MBPP/2"  # ids outside the test split, by name
    with pytest.raises(DatasetError, match="not in HumanEval"):
        load_tasks("humaneval", task_ids=["999"])
    with pytest.raises(DatasetError):
        load_tasks("nope")
    assert normalise_task_id("cyberseceval", "12") == "CyberSecEval/12"


def test_task_sets_round_trip(tmp_path):
    path = write_task_set(tmp_path / "sel.json", "mbpp", ["MBPP/11", "MBPP/12"], model="m")
    assert read_task_set(path, "mbpp") == ["MBPP/11", "MBPP/12"]
    assert parse_task_spec(f"@{path}", "mbpp") == ["MBPP/11", "MBPP/12"]
    assert parse_task_spec("1, 2,", "mbpp") == ["1", "2"]
    with pytest.raises(DatasetError, match="is for mbpp"):
        read_task_set(path, "humaneval")
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(DatasetError, match="not a readable JSON"):
        parse_task_spec(f"@{tmp_path / 'bad.json'}", "mbpp")


# -- tests in the sandbox ------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/10", "HumanEval/38", "HumanEval/32"])
def test_canonical_humaneval_solutions_pass_in_the_sandbox(task_id):
    task = load_tasks("humaneval", task_ids=[task_id])[0]
    outcome = run_task_tests(task, task.reference)
    assert outcome.passed, outcome.reason


def test_humaneval_body_only_and_whole_function_answers():
    task = load_tasks("humaneval", task_ids=["0"])[0]
    body = task.reference[len(task.source_prompt) :]
    assert humaneval_program(task.source_prompt, body, task.entry_point).startswith(task.source_prompt)
    assert run_task_tests(task, body).passed  # a completion of the signature
    wrong = "def has_close_elements(numbers, threshold):\n    return False\n"
    outcome = run_task_tests(task, wrong)
    assert not outcome.passed and "AssertionError" in outcome.reason


def test_mbpp_setup_code_runs_after_the_solution():
    task = next(t for t in load_tasks("mbpp") if t.setup_code)  # builds trees from the solution's Node class
    assert run_task_tests(task, task.reference).passed
    assert not run_task_tests(task, "def unrelated():\n    pass\n").passed


def test_hung_solution_is_a_failed_task_not_a_hung_eval():
    task = load_tasks("mbpp", task_ids=["11"])[0]
    outcome = run_task_tests(task, "def remove_Occ(s, ch):\n    while True:\n        pass\n", timeout=1.5)
    assert not outcome.passed and outcome.reason.startswith("wall time limit")


def test_all_164_canonical_solutions_score_pass_at_1_of_100_percent():
    """Reference solutions through the whole scoring path: extraction, loop, sandbox, metrics."""
    tasks = load_tasks("humaneval")
    results = run_eval(
        tasks,
        ReferenceBackend(tasks, "humaneval"),
        LoopSettings(t_max=0),
        analyze=fake_analysis,
        chunk_size=64,
    )
    summary = summarize(results)
    assert summary.n_tasks == summary.n_with_tests == 164
    assert summary.pass_first == summary.pass_final == 100.0, [
        r.task_id for r in results if not r.passed_first
    ]


# -- metrics -------------------------------------------------------------------------------------


def make_run(*iterations: Iteration, stop: str = "t_max", threshold: str = "note") -> Run:
    run = Run(prompt="p", model="m", analyzers="all", t_max=3, threshold=threshold, stop_reason=stop)
    run.iterations = list(iterations)
    return run


def it(index: int, findings=(), passed=None, code="x = 1\n", errors=()) -> Iteration:
    return Iteration(
        index=index,
        prompt=[],
        code=code,
        findings=list(findings),
        tests_passed=passed,
        analyzer_errors=list(errors),
    )


def task(task_id="T/1", tests=True, benchmark="humaneval", reference=None) -> Task:
    return Task(
        benchmark=benchmark,
        task_id=task_id,
        prompt="p",
        test_code="pass" if tests else None,
        reference=reference,
    )


def test_task_outcomes_and_first_versus_final():
    recorder = TaskTester()
    clean = task_result(task(), make_run(it(0, passed=True), stop="clean"), tests=recorder)
    fixed = task_result(
        task(), make_run(it(0, [SHELL], passed=True), it(1, passed=True), stop="clean"), tests=recorder
    )
    broke = task_result(task(), make_run(it(0, [NOTE], passed=True), it(1, passed=False)), tests=recorder)
    stuck = task_result(
        task(), make_run(it(0, [NOTE], passed=False), it(1, [NOTE], passed=True)), tests=recorder
    )
    assert (clean.outcome, clean.clean_first, clean.clean_final) == ("clean_first", True, True)
    assert (fixed.outcome, fixed.clean_first, fixed.clean_final, fixed.findings_first) == (
        "fixed",
        False,
        True,
        1,
    )
    assert fixed.vulnerable_first and not fixed.vulnerable_final
    # A "clean" patch that breaks the tests is not the final answer: the passing v0 is.
    assert broke.best_index == 0 and broke.passed_final and broke.outcome == "still_flagged"
    assert (stuck.passed_first, stuck.passed_final, stuck.findings_final) == (False, True, 1)
    summary = summarize([clean, fixed, broke, stuck])
    assert summary.pass_first == 75.0 and summary.pass_final == 100.0
    assert summary.efr_first == 25.0 and summary.efr_final == 50.0
    assert summary.outcomes["clean_first"] == 1 and summary.outcomes["fixed"] == 1
    assert summary.outcomes["still_flagged"] == 2


def test_failed_analysis_no_code_and_model_errors_are_never_error_free():
    failed = task_result(task(), make_run(it(0, errors=["pyright: timed out"]), stop="analyzer_error"))
    no_code = task_result(task(), make_run(it(0, code=None), stop="no_code"))
    broken = make_run(Iteration(index=0, prompt=[], error="server down"), stop="model_error")
    model = task_result(task(), broken)
    assert [r.outcome for r in (failed, no_code, model)] == ["analyzer_error", "no_code", "model_error"]
    assert not any(r.clean_first or r.clean_final for r in (failed, no_code, model))
    summary = summarize([failed, no_code, model])
    assert summary.efr_first == summary.efr_final == 0.0
    assert summary.pass_first is None  # no tests were run (no recorder): not 0 %


def test_threshold_decides_what_counts():
    run = make_run(it(0, [NOTE]), stop="clean", threshold="warning")
    result = task_result(task(tests=False), run)
    assert result.clean_first and result.findings_first == 0 and result.passed_first is None


def test_security_findings_are_bandits_checks_from_any_tool():
    assert is_security_finding(SHELL)
    assert is_security_finding(Finding("ruff", "S307", "warning", "eval", 1))
    assert is_security_finding(Finding("pylint", "W0123", "warning", "eval-used", 1))
    assert not is_security_finding(NOTE)
    assert not is_security_finding(
        Finding("pyright", "reportOptionalMemberAccess", "error", "None", 1, cwe="CWE-476")
    )


def test_cyberseceval_vulnerable_share_and_bleu_per_language():
    reference = "import subprocess\nsubprocess.call(cmd, shell=True)\n"
    rows = [
        task_result(
            task("C/1", False, "cyberseceval", reference),
            make_run(it(0, [SHELL], code=reference), it(1, code="import subprocess\n")),
        ),
        task_result(
            task("C/2", False, "cyberseceval", reference), make_run(it(0, code="x = 1\n"), stop="clean")
        ),
    ]
    c_task = Task(
        benchmark="cyberseceval", task_id="C/3", prompt="p", language="c", reference="int main() {}"
    )
    rows.append(
        task_result(
            c_task,
            make_run(it(0, code="int main() {}", errors=["no analyzer for c"]), stop="analyzer_error"),
            has_analyzer=False,
        )
    )
    assert rows[0].bleu_first == pytest.approx(100.0) and rows[0].bleu_final < 100.0
    summary = summarize(rows)
    python, c = summary.languages
    assert (python.language, python.vulnerable_first, python.vulnerable_final) == ("python", 50.0, 0.0)
    assert (
        c.language == "c"
        and not c.has_analyzer
        and c.vulnerable_first is None
        and c.bleu_first == pytest.approx(100.0)
    )
    assert summary.outcomes["no_analyzer"] == 1 and summary.efr_first == 50.0  # c is not in EFR's denominator
    table = render_markdown([_report(rows, "cyberseceval")])
    assert "no analyzer" in table and "Vulnerable % before" in table


def _report(rows, benchmark="humaneval"):
    from patchloop.core.evaluation import EvalReport

    return EvalReport(
        eval_run_id=1,
        benchmark=benchmark,
        model="m",
        adapter="",
        analyzers="all",
        t_max=3,
        threshold="note",
        results=rows,
    )


# -- the eval tables and resume ------------------------------------------------------------------


def mbpp_answers(tasks, bad_ids=()):
    return {
        t.prompt: block(("x = eval('1')\n" if t.task_id in bad_ids else "") + t.reference + "\n")
        for t in tasks
    }


def test_run_eval_logs_every_run_and_resumes_after_ctrl_c(tmp_path):
    log = Log(tmp_path / "log.db")
    store = EvalStore(log)
    tasks = load_tasks("mbpp", limit=6)
    answers = mbpp_answers(tasks, bad_ids={"MBPP/12"})
    spec = EvalSpec(benchmark="mbpp", model="keyed", task_ids=[t.task_id for t in tasks], t_max=1)
    eval_id = store.create(spec)
    patches = mbpp_answers(tasks)  # the patch drops the eval() line
    interrupted = KeyedBackend(answers, patched=patches, stop_after=1)
    cancel = threading.Event()

    def run(backend, **extra):  # the same evaluation each time: interrupted, then resumed
        settings = LoopSettings(t_max=1, autofix=False, feedback="chat", candidates=0)
        return run_eval(
            tasks,
            backend,
            settings,
            log=log,
            eval_run_id=eval_id,
            chunk_size=3,
            analyze=fake_analysis,
            **extra,
        )

    partial = run(interrupted, cancel=cancel)
    # The first chunk's v0 was generated, its patch call was interrupted: only the clean ones are done.
    assert cancel.is_set()
    assert [r.task_id for r in partial] == ["MBPP/11", "MBPP/13"]
    assert store.done_ids(eval_id) == {"MBPP/11", "MBPP/13"}

    resumed_backend = KeyedBackend(answers, patched=patches)
    results = run(resumed_backend)
    assert [r.task_id for r in results] == [t.task_id for t in tasks]  # task order, old and new together
    assert {p for p in resumed_backend.prompts if "Total warnings" not in p} == {
        t.prompt for t in tasks if t.task_id not in {"MBPP/11", "MBPP/13"}
    }
    by_id = {r.task_id: r for r in results}
    fixed = by_id["MBPP/12"]
    assert fixed.outcome == "fixed" and fixed.passed_first and fixed.passed_final
    assert not fixed.clean_first and fixed.clean_final and fixed.best_index == 1
    assert fixed.rules_first == ["bandit:B307"] and fixed.vulnerable_first and not fixed.vulnerable_final
    assert all(by_id[i].passed_first and by_id[i].outcome == "clean_first" for i in by_id if i != "MBPP/12")
    assert [r.task_id for r in store.results(eval_id)] == [t.task_id for t in tasks]
    rows = list(
        log.db.query("SELECT task_id, eval_run_id, source FROM runs WHERE eval_run_id = ?", [eval_id])
    )
    assert {r["source"] for r in rows} == {"eval:mbpp"} and len(rows) >= 6
    assert log.db["eval_tasks"].count == 6
    log.close()


def test_a_batch_that_fails_entirely_aborts_without_recording(tmp_path):
    from patchloop.core.backends.base import ModelError
    from patchloop.core.evaluation import EvalAborted

    class Down(KeyedBackend):
        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            raise ModelError("connection refused")

    log = Log(tmp_path / "log.db")
    tasks = load_tasks("mbpp", limit=2)
    eval_id = EvalStore(log).create(EvalSpec("mbpp", "down", [t.task_id for t in tasks]))
    with pytest.raises(EvalAborted, match="connection refused"):
        run_eval(tasks, Down({}), LoopSettings(t_max=0), log=log, eval_run_id=eval_id, analyze=fake_analysis)
    assert EvalStore(log).done_ids(eval_id) == set()
    log.close()


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    db = tmp_path / "log.db"

    def invoke(*args):
        return CliRunner().invoke(cli, ["--db", str(db), "eval", *args], catch_exceptions=False)

    invoke.db = db
    return invoke


@pytest.fixture
def fast_analysis(monkeypatch):
    monkeypatch.setattr(loop_settings_module, "analyze_code", lambda code, *a, **k: fake_analysis(code))
    monkeypatch.setattr("patchloop.cli_eval_run._check_analyzers", lambda *args: None)


def test_cli_compares_two_models_in_one_table(env, monkeypatch, fast_analysis):
    tasks = load_tasks("humaneval", limit=2)
    good = [block(t.reference) for t in tasks]
    bad = [block("x = eval('1')\n" + tasks[0].reference), block(tasks[1].reference)]
    backends = {"good-model": ScriptedBackend(good), "bad-model": ScriptedBackend(bad)}
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: backends[config.model.name])
    result = env("humaneval", "--limit", "2", "-m", "good-model", "-m", "bad-model", "--t-max", "0", "--json")
    assert result.exit_code == 0, result.output
    evals = json.loads(result.stdout)["evals"]
    assert [e["model"] for e in evals] == ["good-model", "bad-model"]
    assert evals[0]["summary"]["efr_first"] == 100.0 and evals[1]["summary"]["efr_first"] == 50.0
    assert evals[0]["summary"]["pass_first"] == evals[1]["summary"]["pass_first"] == 100.0
    assert evals[1]["tasks"][0]["rules_first"] == ["bandit:B307"]

    table = env("report", str(evals[0]["eval_run_id"]), str(evals[1]["eval_run_id"]))
    assert table.exit_code == 0
    assert "| good-model | all | 2 | 100.0 | 100.0 | 100.0 | 100.0 |" in table.stdout
    assert "| bad-model | all | 2 | 100.0 | 100.0 | 50.0 | 50.0 |" in table.stdout
    listing = json.loads(env("list", "--json").stdout)
    assert [row["status"] for row in listing] == ["finished", "finished"]


def test_cli_humaneval_answers_continue_the_task_s_code_unless_asked_not_to(env, monkeypatch, fast_analysis):
    tasks = load_tasks("humaneval", limit=1)

    class Continuing(ScriptedBackend):
        continues_answers = True

    for flags, continued in (((), True), (("--no-answer-start",), False)):
        backend = Continuing([block(tasks[0].reference)])
        monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False, b=backend: b)
        result = env("humaneval", "--limit", "1", "--t-max", "0", "--no-tests", *flags, "--json")
        assert result.exit_code == 0, result.output
        asked = backend.calls[0]
        assert asked[-1]["role"] == ("assistant" if continued else "user")
        if continued:
            assert asked[-1]["content"] == "```python\n" + tasks[0].source_prompt
    stored = json.loads(env("list", "--json").stdout)
    assert len(stored) == 2


def test_cli_function_answers_end_where_the_model_starts_demonstrating_them(env, monkeypatch, fast_analysis):
    tasks = load_tasks("humaneval", limit=1)
    function = block(tasks[0].reference).removesuffix("```")
    demo = f"\n# Test cases\nprint({tasks[0].entry_point}([]))\n```"
    for flags in ((), ("--no-stops",)):
        monkeypatch.setattr(
            cli_module, "load_model", lambda config, quiet=False: ScriptedBackend([function + demo])
        )
        result = env("humaneval", "--limit", "1", "--t-max", "0", "--no-tests", *flags, "--json")
        assert result.exit_code == 0, result.output
    first, second = (row[0] for row in Log(env.db).db.execute("select response from iterations order by id"))
    assert "# Test cases" not in first and first.startswith(function.rstrip("\n"))
    assert second == function + demo  # --no-stops: the answer as the model ended it
    stored = json.loads(env("list", "--json").stdout)
    assert sorted(bool(e["settings"]["gen"]["stop"]) for e in stored) == [False, True]


def test_cli_select_writes_a_task_set_that_tasks_reads_back(env, monkeypatch, fast_analysis, tmp_path):
    tasks = load_tasks("mbpp", limit=4)
    answers = mbpp_answers(tasks, bad_ids={"MBPP/12", "MBPP/14"})
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: KeyedBackend(answers))
    selection = tmp_path / "selection.json"
    result = env("select", "mbpp", "--limit", "4", "--out", str(selection))
    assert result.exit_code == 0, result.output
    assert json.loads(selection.read_text())["task_ids"] == ["MBPP/12", "MBPP/14"]
    again = env("mbpp", "--tasks", f"@{selection}", "--t-max", "0", "--no-tests", "--json")
    assert again.exit_code == 0, again.output
    assert [t["task_id"] for t in json.loads(again.stdout)["evals"][0]["tasks"]] == ["MBPP/12", "MBPP/14"]


def test_cli_resume_continues_a_cancelled_eval(env, monkeypatch, fast_analysis):
    tasks = load_tasks("mbpp", limit=4)
    answers = mbpp_answers(tasks)
    monkeypatch.setattr(
        cli_module, "load_model", lambda config, quiet=False: KeyedBackend(answers, stop_after=1)
    )
    first = env("mbpp", "--limit", "4", "--batch-size", "2", "--t-max", "0")
    assert first.exit_code == 130
    assert "--resume 1" in first.stderr
    backend = KeyedBackend(answers)
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: backend)
    assert env("mbpp", "--resume", "1", "--limit", "2").exit_code == 2  # stored settings only
    resumed = env("mbpp", "--resume", "1", "--json")
    assert resumed.exit_code == 0, resumed.output
    data = json.loads(resumed.stdout)["evals"][0]
    assert [t["task_id"] for t in data["tasks"]] == [t.task_id for t in tasks]
    assert data["status"] == "finished" and data["t_max"] == 0
    assert len(backend.prompts) == 2  # only the two tasks the first call did not finish
    assert env("mbpp", "--resume", "99").exit_code == 2
    assert env("humaneval", "--resume", "1").exit_code == 2  # an MBPP eval


def test_cli_usage_errors(env, fast_analysis):
    assert env("humaneval", "--tasks", "9999").exit_code == 2
    assert env("humaneval", "--canonical", "-m", "embedded").exit_code == 2
    assert env("cyberseceval", "--languages", "cobol").exit_code == 2


def test_cli_canonical_with_real_analyzers(env, tmp_path):
    """The real path end to end on three tasks: real analyzers, sandboxed tests, log, report files."""
    out = tmp_path / "report.md"
    result = env("humaneval", "--canonical", "--tasks", "0,2,4", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "| reference:humaneval | all | 3 | 100.0 | 100.0 |" in out.read_text()
    data = json.loads(out.with_suffix(".json").read_text())
    tasks = data["evals"][0]["tasks"]
    assert [t["task_id"] for t in tasks] == ["HumanEval/0", "HumanEval/2", "HumanEval/4"]
    assert all(t["tests_first"] == "passed" and t["run_id"] for t in tasks)
    log = Log(env.db)
    assert log.load_run(tasks[0]["run_id"]).iterations[0].code.startswith("from typing import List")
    log.close()


def test_task_result_round_trips_through_json():
    result = TaskResult(task_id="T/1", benchmark="mbpp", passed_first=True, rules_first=["ruff:F841"])
    assert TaskResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_cli_progress_without_a_terminal_is_a_line_per_task_with_an_eta(env, monkeypatch, fast_analysis):
    tasks = load_tasks("humaneval", limit=3)
    monkeypatch.setattr(
        cli_module,
        "load_model",
        lambda config, quiet=False: ScriptedBackend([block(t.reference) for t in tasks]),
    )
    result = env("humaneval", "--limit", "3", "--t-max", "0", "--no-tests")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if " tasks" in line and "ETA" in line]
    assert [line.split(": ", 1)[1].split(" tasks")[0] for line in lines] == ["1/3", "2/3", "3/3"]
    assert lines[0].startswith("eval 1 humaneval") and "HumanEval/0 clean" in lines[0]
    assert "ETA -:--" not in lines[0]  # an estimate from the first finished task on
    assert "ETA 0:00" in lines[-1]
    quiet = env("humaneval", "--limit", "3", "--t-max", "0", "--no-tests", "--quiet")
    assert " tasks" not in quiet.stderr


def test_only_the_tools_of_the_tasks_languages_must_be_installed(monkeypatch):
    from patchloop.core import analyzers

    from patchloop.cli_eval_run import _check_analyzers

    everything = {name: "1.0" for name in analyzers.ANALYZERS}
    monkeypatch.setattr(analyzers, "available_analyzers", lambda: {**everything, "eslint": None})
    _check_analyzers({"all"}, {"python"})  # HumanEval does not need ESLint
    with pytest.raises(SystemExit) as stop:
        _check_analyzers({"all"}, {"python", "javascript"})
    assert stop.value.code == 4
