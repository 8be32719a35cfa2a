"""Preference pairs from the log: every selection rule, the no-pair cases, export and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from doubles import ScriptedBackend, cli_with
from patchloop.core.log import Log
from patchloop.core.loop import run_loop
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.types import Finding, Iteration, Run
from patchloop.train.pairs import (
    SKIP_CHOSEN_ANALYZER_ERROR,
    SKIP_CHOSEN_TESTS_FAIL,
    SKIP_DUPLICATE,
    SKIP_IDENTICAL,
    SKIP_MIN_GAP,
    SKIP_NO_CHOSEN,
    SKIP_NO_CODE,
    SKIP_NO_ITERATIONS,
    SKIP_NO_REJECTED,
    SKIP_SOURCE,
    PairsError,
    answer_text,
    harvest,
    load_pairs,
    pairs_dataset,
    write_jsonl,
)

SYSTEM = {"role": "system", "content": "You write python."}
GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return eval(f'{a} + {b}')\n"
WORSE = "import pickle\n\ndef add(a, b):\n    return eval(pickle.loads(a))\n"


def finding(rule: str = "B307", severity: str = "error") -> Finding:
    return Finding("bandit", rule, severity, f"problem {rule}", 2)


def it(
    code: str | None,
    n: int = 0,
    *,
    tests: bool | None = None,
    errors: tuple[str, ...] = (),
    severity: str = "error",
) -> dict:
    return {
        "code": code,
        "findings": [finding(f"B{300 + k}", severity) for k in range(n)],
        "tests": tests,
        "errors": list(errors),
    }


def log_run(
    store: Log,
    prompt: str,
    iterations: list[dict],
    *,
    labels: dict[int, str] | None = None,
    threshold: str = "note",
    task_id: str | None = None,
    eval_run_id: int | None = None,
) -> int:
    run = Run(prompt=prompt, model="m", analyzers="all", t_max=3, threshold=threshold, source="eval:test")
    store.start_run(run, task_id=task_id, eval_run_id=eval_run_id)
    first = [SYSTEM, {"role": "user", "content": prompt}]
    for index, spec in enumerate(iterations):
        messages = (
            first
            if index == 0
            else [
                *first,
                {"role": "assistant", "content": "..."},
                {"role": "user", "content": "Total warnings: 1."},
            ]
        )
        iteration = Iteration(
            index=index,
            prompt=messages,
            response=f"```python\n{spec['code']}```",
            code=spec["code"],
            findings=spec["findings"],
            analyzer_errors=spec["errors"],
            tests_passed=spec["tests"],
        )
        store.add_iteration(run.id, iteration)
        run.iterations.append(iteration)
        if labels and index in labels:
            store.set_label(iteration.id, labels[index])
    run.stop_reason = "clean"
    store.finish_run(run)
    return run.id


@pytest.fixture
def store(tmp_path):
    log = Log(tmp_path / "log.db")
    yield log
    log.close()


def pairs_of(store: Log, **kwargs):
    found = harvest(store, **kwargs)
    return found.pairs, found.stats


def test_flagged_first_attempt_and_clean_final_make_a_pair_in_trl_format(store):
    run_id = log_run(store, "add two numbers", [it(BAD, 2), it(GOOD, 0)], task_id="mbpp/1")
    pairs, stats = pairs_of(store)
    assert len(pairs) == 1 and stats.runs_with_pairs == 1
    record = pairs[0].to_record()
    # The prompt is the first-attempt conversation, never the patch request.
    assert record["prompt"] == [SYSTEM, {"role": "user", "content": "add two numbers"}]
    assert record["chosen"] == [{"role": "assistant", "content": f"```python\n{GOOD.strip()}\n```"}]
    assert record["rejected"] == [{"role": "assistant", "content": f"```python\n{BAD.strip()}\n```"}]
    assert (record["chosen_index"], record["rejected_index"]) == (1, 0)
    assert (record["chosen_findings"], record["rejected_findings"]) == (0, 2)
    assert record["origin"] == "loop" and record["task_id"] == "mbpp/1" and record["run_ids"] == [run_id]


def test_every_flagged_iteration_pairs_with_the_clean_final(store):
    log_run(store, "p", [it(WORSE, 3), it(BAD, 1), it(GOOD, 0)])
    pairs, _ = pairs_of(store)
    assert sorted((p.chosen_index, p.rejected_index) for p in pairs) == [(2, 0), (2, 1)]


# Runs that give no pair: the iterations, the run's settings, and the reason counted for skipping it.
NO_PAIR = [
    pytest.param([it(GOOD, 0)], {}, SKIP_NO_REJECTED, id="all-clean"),
    pytest.param([it(WORSE, 3), it(BAD, 1)], {}, SKIP_NO_CHOSEN, id="all-flagged"),
    # Same code, only trailing spaces differ (e.g. an analyzer hiccup flagged it once).
    pytest.param([it(BAD, 1), it(BAD.replace("\n", "   \n"), 0)], {}, SKIP_IDENTICAL, id="identical-code"),
    pytest.param(
        [it(BAD, 1), it(GOOD, 0, errors=("pyright: timed out",))],
        {},
        SKIP_CHOSEN_ANALYZER_ERROR,
        id="an-iteration-with-an-analyzer-error-is-never-chosen",
    ),
    # threshold "error": a warning-only iteration is clean for this run, so nothing is rejected.
    pytest.param(
        [it(BAD, 2, severity="warning")],
        {"threshold": "error"},
        SKIP_NO_REJECTED,
        id="findings-below-the-runs-threshold-do-not-count",
    ),
    pytest.param(
        [it(BAD, 1), it(GOOD, 0)],
        {"labels": {1: "rejected"}},
        SKIP_NO_CHOSEN,
        id="a-human-rejected-clean-iteration-is-never-chosen",
    ),
]


@pytest.mark.parametrize(("iterations", "settings", "reason"), NO_PAIR)
def test_no_pair_and_the_reason_counted(store, iterations, settings, reason):
    log_run(store, "p", iterations, **settings)
    pairs, stats = pairs_of(store)
    assert pairs == [] and stats.skipped[reason] == 1


@pytest.mark.parametrize(
    ("label", "pair"),
    [
        # v1 is chosen by the human; v2 is clean, so not a rejected candidate; only v0 remains.
        pytest.param("chosen", (1, 0, "labels"), id="a-human-chosen-iteration-replaces-the-clean-final"),
        pytest.param("rejected", (2, 1, "labels"), id="human-rejections-replace-the-flagged-set"),
    ],
)
def test_a_human_label_on_v1_decides_the_pair(store, label, pair):
    log_run(store, "p", [it(WORSE, 3), it(BAD, 1), it(GOOD, 0)], labels={1: label})
    pairs, _ = pairs_of(store)
    assert [(p.chosen_index, p.rejected_index, p.origin) for p in pairs] == [pair]


def test_no_code_never_enters_a_pair(store):
    log_run(store, "p", [it(None), it(None)])
    log_run(store, "q", [it(BAD, 1), it(None)], labels={1: "chosen"})  # a human label cannot add code
    log_run(store, "r", [])  # a run cancelled before its first answer
    pairs, stats = pairs_of(store)
    assert pairs == []
    assert stats.skipped[SKIP_NO_CODE] == 1 and stats.skipped[SKIP_NO_CHOSEN] == 1
    assert stats.skipped[SKIP_NO_ITERATIONS] == 1


def test_a_clean_iteration_failing_its_tests_is_never_chosen(store):
    log_run(store, "p", [it(BAD, 1, tests=True), it(GOOD, 0, tests=False)])
    pairs, stats = pairs_of(store)
    assert pairs == [] and stats.skipped[SKIP_CHOSEN_TESTS_FAIL] == 1
    log_run(store, "q", [it(BAD, 1, tests=True), it(GOOD, 0, tests=True)])
    pairs, _ = pairs_of(store)
    assert len(pairs) == 1 and pairs[0].prompt[1]["content"] == "q"


def test_source_separates_loop_pairs_from_labelled_ones(store):
    log_run(store, "auto", [it(BAD, 1), it(GOOD, 0)])
    log_run(store, "human", [it(BAD, 1), it(GOOD, 0)], labels={0: "rejected"})
    loop_pairs, loop_stats = pairs_of(store, source="loop")
    label_pairs, _ = pairs_of(store, source="labels")
    assert [p.prompt[1]["content"] for p in loop_pairs] == ["auto"]
    assert [p.prompt[1]["content"] for p in label_pairs] == ["human"]
    assert loop_stats.skipped[SKIP_SOURCE] == 1
    assert len(pairs_of(store, source="all")[0]) == 2


def test_duplicates_across_runs_collapse_into_one_record(store):
    first = log_run(store, "p", [it(BAD, 1), it(GOOD, 0)])
    second = log_run(store, "p", [it(BAD, 1), it(GOOD, 0)])
    other = log_run(store, "another prompt", [it(BAD, 1), it(GOOD, 0)])
    pairs, stats = pairs_of(store)
    assert len(pairs) == 2 and stats.skipped[SKIP_DUPLICATE] == 1
    assert pairs[0].run_ids == [first, second] and pairs[1].run_ids == [other]


def test_min_gap_keeps_pairs_whose_rejected_side_has_enough_more_findings(store):
    log_run(store, "p", [it(WORSE, 3), it(BAD, 1), it(GOOD, 0)])
    assert len(pairs_of(store, min_gap=1)[0]) == 2
    pairs, stats = pairs_of(store, min_gap=2)
    assert [(p.rejected_index, p.rejected_findings) for p in pairs] == [(0, 3)]
    assert stats.skipped[SKIP_MIN_GAP] == 1
    assert pairs_of(store, min_gap=4)[0] == []


def test_run_filters(store):
    kept = log_run(store, "p", [it(BAD, 1), it(GOOD, 0)])
    other = log_run(store, "q", [it(BAD, 1), it(GOOD, 0)], eval_run_id=7)
    assert [p.run_id for p in pairs_of(store, run_ids=[kept])[0]] == [kept]
    assert [p.run_id for p in pairs_of(store, eval_run_ids=[7])[0]] == [other]
    assert pairs_of(store, run_ids=[])[0] == []
    assert len(pairs_of(store, run_source="eval:")[0]) == 2
    assert pairs_of(store, run_source="tui")[0] == []


def test_bad_filters_are_refused(store):
    with pytest.raises(PairsError):
        harvest(store, source="mine")
    with pytest.raises(PairsError):
        harvest(store, min_gap=-1)


def test_pairs_from_a_real_loop_run_with_real_analyzers(store):
    bad = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"
    good = "```python\nimport subprocess\n\n\ndef run(cmd: list[str]) -> int:\n    return subprocess.call(cmd)\n```"
    run = run_loop(
        "run a shell command", ScriptedBackend([bad, good]), LoopSettings(analyzers="security"), log=store
    )
    assert run.stop_reason == "clean"
    pairs, _ = pairs_of(store)
    assert len(pairs) == 1
    assert "shell=True" in pairs[0].rejected and "shell=True" not in pairs[0].chosen
    assert pairs[0].prompt == run.iterations[0].prompt


def test_unpicked_repair_candidates_are_pairs_for_free(store):
    from patchloop.core.types import Analysis, AnalyzerResult, Finding, GenStats

    def analyze(code):
        findings = [
            Finding("bandit", "B307", "error", "eval", n)
            for n, line in enumerate(code.splitlines(), 1)
            if "eval(" in line
        ]
        return Analysis(findings=findings, results=[AnalyzerResult("fake", findings)])

    bad = "```python\ndef f(x):\n    return eval(x)\n```"
    bad2 = "```python\ndef f(x):\n    return eval(x.strip())\n```"
    good = "```python\ndef f(x):\n    return int(x)\n```"

    class Sampler(ScriptedBackend):
        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            return [(text, GenStats()) for text in (bad2, good)]

    settings = LoopSettings(t_max=1, autofix=False, candidates=2)
    run = run_loop("parse x", Sampler([bad, bad]), settings, log=store, analyze=analyze)
    assert run.stop_reason == "clean" and run.iterations[1].origin == "candidate"
    pairs, _ = pairs_of(store)
    rejected = sorted((p.rejected_index, p.rejected_candidate) for p in pairs)
    assert rejected == [(0, None), (1, 1)]  # v0, and the unpicked flagged candidate 1 of v1
    assert all("int(x)" in p.chosen for p in pairs)
    assert any("x.strip()" in p.rejected for p in pairs)


def test_export_loads_with_datasets_and_matches_the_db_dataset(store, tmp_path):
    log_run(store, "p", [it(WORSE, 3), it(BAD, 1), it(GOOD, 0)], task_id="mbpp/1")
    log_run(store, "q", [it(BAD, 1), it(GOOD, 0)])  # task_id None next to a string: still loads
    pairs, _ = pairs_of(store)
    path = write_jsonl(pairs, tmp_path / "out" / "pairs.jsonl")
    loaded = load_pairs(path)
    direct = pairs_dataset(store)
    assert len(loaded) == len(direct) == 3
    for column in ("prompt", "chosen", "rejected"):
        assert loaded[column] == direct[column]
    from trl.data_utils import is_conversational

    assert is_conversational(loaded[0])
    assert loaded[0]["chosen"][0]["content"] == answer_text(GOOD)


def test_load_pairs_rejects_bad_files(tmp_path):
    with pytest.raises(PairsError, match="no pairs file"):
        load_pairs(tmp_path / "missing.jsonl")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"question": "x", "answer": "y"}) + "\n")
    with pytest.raises(PairsError, match="lacks the column"):
        load_pairs(wrong)
    with pytest.raises(PairsError, match="is a folder"):
        write_jsonl([], tmp_path)


# -- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    from patchloop.cli_pairs import pairs_group
    from patchloop.cli_train import train_group

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    # The lead registers these groups in cli.py; a copy of the group keeps this test independent of that.
    root = cli_with(pairs_group, train_group)
    db = tmp_path / "log.db"

    def run(*args):
        return CliRunner().invoke(root, ["--db", str(db), *args], catch_exceptions=False)

    return run, db


def test_cli_stats_and_export(invoke, tmp_path):
    run, db = invoke
    store = Log(db)
    log_run(store, "p", [it(BAD, 1), it(GOOD, 0)])
    log_run(store, "q", [it(GOOD, 0)])
    store.close()
    stats = run("pairs", "stats", "--json")
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout)
    assert data["pairs"] == 1 and data["runs"] == 2 and data["skipped"][SKIP_NO_REJECTED] == 1
    out = tmp_path / "pairs.jsonl"
    exported = run("pairs", "export", str(out), "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["pairs"] == 1 and len(load_pairs(out)) == 1
    none = run("pairs", "export", str(tmp_path / "none.jsonl"), "--min-gap", "5")
    assert none.exit_code == 1 and not (tmp_path / "none.jsonl").exists()
    assert run("pairs", "export", str(out), "--source", "mine").exit_code == 2


def test_cli_train_without_pairs_is_bad_input(invoke, tmp_path):
    run, _ = invoke
    result = run("train", "dpo", "--out", str(tmp_path / "adapter"), "--model", "unused")
    assert result.exit_code == 2 and "no preference pairs" in result.output
    missing = run("train", "dpo", "--pairs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "a"))
    assert missing.exit_code == 2 and "no pairs file" in missing.output
