"""DPO training with TRL on a tiny model: loss, reward margin, the saved adapter, merge, rounds."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from doubles import cli_with
from patchloop.core.evaluation import DatasetError, Task
from patchloop.core.log import Log
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.types import BackendInfo, GenStats
from patchloop.train.dpo import (
    RECORD_NAME,
    DPOSettings,
    TrainError,
    load_base,
    preference_scores,
    read_record,
    train_dpo,
)
from patchloop.train.pairs import records_dataset, write_jsonl
from patchloop.train.rounds import RoundsConfig, TaskSet, load_task_set, parse_ids, run_rounds

SYSTEM = {"role": "system", "content": "You write python."}
GOOD = (
    "```python\nimport subprocess\n\n\ndef run(cmd: list[str]) -> int:\n    return subprocess.call(cmd)\n```"
)
BAD = "```python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n```"


def toy_rows(n: int = 4) -> list[dict]:
    return [
        {
            "prompt": [SYSTEM, {"role": "user", "content": f"run a shell command ({k})"}],
            "chosen": [{"role": "assistant", "content": GOOD}],
            "rejected": [{"role": "assistant", "content": BAD}],
        }
        for k in range(n)
    ]


# Big enough steps that a handful of them move a random tiny model measurably.
FAST = DPOSettings(
    device="cpu",
    learning_rate=5e-3,
    max_steps=6,
    batch_size=2,
    grad_accum=1,
    lora_r=8,
    lora_alpha=16,
    max_length=256,
)

TWO_STEPS = dataclasses.replace(FAST, max_steps=2)


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    """One training run shared by the checks below (training is the slow part)."""
    out = tmp_path_factory.mktemp("adapter")
    result = train_dpo(
        records_dataset(toy_rows()),
        out,
        FAST,
        model_spec=str(tiny_model_dir),
        merge=True,
        data_info={"kind": "toy"},
        show_progress=False,
    )
    return result


def test_a_few_dpo_steps_run_with_a_finite_loss_and_a_growing_reward_margin(trained):
    history = trained.metrics["history"]
    assert len(history) == FAST.max_steps
    assert trained.metrics["finite"]
    margins = [h["rewards/margins"] for h in history]
    assert margins[0] == pytest.approx(0.0, abs=1e-6)  # policy == reference before the first update
    assert margins[-1] > margins[0] and margins[-1] > 0
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["rewards/accuracies"] == 1.0


def test_the_output_folder_holds_the_adapter_and_a_record(trained):
    out = trained.out_dir
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    record = read_record(out)
    assert record == json.loads((out / RECORD_NAME).read_text())
    assert record["data"]["pairs"] == 4 and len(record["data"]["sha256"]) == 64
    assert record["settings"]["beta"] == FAST.beta and record["settings"]["lora_r"] == 8
    assert record["device"] == "cpu" and record["quantization"] == ""
    assert {"trl", "peft", "transformers", "torch"} <= set(record["versions"])
    assert record["metrics"]["steps"] == FAST.max_steps


def test_the_saved_adapter_moves_log_probabilities_towards_the_chosen_answer(trained, tiny_model_dir):
    from peft import PeftModel

    rows = toy_rows()
    base = load_base(str(tiny_model_dir), device="cpu")
    before = preference_scores(base.model, base.tokenizer, rows)
    tuned = PeftModel.from_pretrained(
        load_base(str(tiny_model_dir), device="cpu").model, str(trained.out_dir)
    )
    after = preference_scores(tuned, base.tokenizer, rows)
    for b, a in zip(before, after):
        assert a.margin > b.margin + 0.05  # chosen gained on rejected


def test_the_backend_loads_base_plus_adapter_and_the_merged_model_agrees(trained, tiny_model_dir):
    from patchloop.core.backends.transformers_backend import TransformersBackend
    from transformers import AutoModelForCausalLM

    rows = toy_rows(1)
    backend = TransformersBackend(str(tiny_model_dir), device="cpu", adapter=str(trained.out_dir))
    assert backend.info.adapter == str(trained.out_dir)
    via_backend = preference_scores(backend.model, backend.tokenizer, rows)[0]
    merged = AutoModelForCausalLM.from_pretrained(trained.merged_dir)
    via_merged = preference_scores(merged, backend.tokenizer, rows)[0]
    assert via_merged.chosen == pytest.approx(via_backend.chosen, abs=1e-3)
    assert via_merged.rejected == pytest.approx(via_backend.rejected, abs=1e-3)
    base = load_base(str(tiny_model_dir), device="cpu")
    assert via_backend.margin > preference_scores(base.model, base.tokenizer, rows)[0].margin


def test_patchloop_run_loads_a_trained_adapter(trained, tiny_model_dir, tmp_path, monkeypatch):
    from patchloop.cli import cli

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    args = [
        "--db",
        str(tmp_path / "log.db"),
        "run",
        "--json",
        "-q",
        "-a",
        "security",
        "--t-max",
        "0",
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--no-4bit",
        "--max-new-tokens",
        "4",
        "write add(a, b)",
    ]
    result = CliRunner().invoke(cli, [*args, "--adapter", str(trained.out_dir)], catch_exceptions=False)
    # The tiny model writes no code block (exit 3), but the run happened with the adapter loaded and logged.
    assert result.exit_code == 3
    assert json.loads(result.stdout)["stop_reason"] == "no_code"
    store = Log(tmp_path / "log.db")
    assert store.run_row(store.list_runs()[0].id)["adapter"] == str(trained.out_dir)
    missing = CliRunner().invoke(cli, [*args, "--adapter", str(tmp_path / "nothing")])
    assert missing.exit_code in (2, 3) and "adapter" in missing.output.lower()


def test_continuing_an_adapter_keeps_only_the_trained_one(trained, tiny_model_dir, tmp_path):
    out = tmp_path / "round-2"
    again = train_dpo(
        records_dataset(toy_rows()),
        out,
        TWO_STEPS,
        model_spec=str(tiny_model_dir),
        init_adapter=trained.out_dir,
        show_progress=False,
    )
    # The reference is the starting adapter, so the first step again has a zero margin.
    assert again.metrics["history"][0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert (out / "adapter_model.safetensors").is_file() and not (out / "ref").exists()
    assert again.record["init_adapter"] == str(trained.out_dir)


def test_no_pairs_or_a_served_model_are_refused(tiny_model_dir, tmp_path):
    with pytest.raises(TrainError, match="no preference pairs"):
        train_dpo(records_dataset([]), tmp_path / "a", FAST, model_spec=str(tiny_model_dir))
    with pytest.raises(TrainError, match="served model"):
        train_dpo(records_dataset(toy_rows(1)), tmp_path / "b", FAST, model_spec="openai:gpt")
    with pytest.raises(TrainError, match="holds no adapter"):
        train_dpo(
            records_dataset(toy_rows(1)),
            tmp_path / "c",
            FAST,
            model_spec=str(tiny_model_dir),
            init_adapter=tmp_path,
        )


def test_cli_train_dpo_from_a_pairs_file(tiny_model_dir, tmp_path, monkeypatch):
    from patchloop.train.pairs import Pair

    from patchloop.cli_train import train_group

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    root = cli_with(train_group)
    pairs = [
        Pair(
            prompt=r["prompt"],
            chosen=GOOD,
            rejected=BAD,
            run_id=1,
            chosen_index=1,
            rejected_index=0,
            chosen_findings=0,
            rejected_findings=1,
            origin="loop",
            run_ids=[1],
        )
        for r in toy_rows(2)
    ]
    pairs_file = write_jsonl(pairs, tmp_path / "pairs.jsonl")
    out = tmp_path / "adapter"
    result = CliRunner().invoke(
        root,
        [
            "--db",
            str(tmp_path / "log.db"),
            "train",
            "dpo",
            "--pairs",
            str(pairs_file),
            "--model",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--grad-accum",
            "1",
            "--lr",
            "1e-3",
            "--device",
            "cpu",
            "--json",
            "--quiet",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["data"]["kind"] == "file" and record["data"]["pairs"] == 2
    assert record["data"]["origins"] == {"loop": 2}
    assert (out / "adapter_config.json").is_file()
    bad_model = CliRunner().invoke(
        root,
        [
            "train",
            "dpo",
            "--pairs",
            str(pairs_file),
            "--model",
            str(tmp_path / "no-such-model"),
            "--out",
            str(tmp_path / "x"),
            "-q",
        ],
    )
    assert bad_model.exit_code == 3


# -- rounds ---------------------------------------------------------------------------------------


class PatchingBackend:
    """Answers a first attempt with BAD and any patch request with GOOD (a model that learns from feedback)."""

    def __init__(self):
        self.info = BackendInfo(backend="scripted", model="scripted", device="cpu")

    def generate(self, messages, params, cancel=None, stats=None):
        yield GOOD if len(messages) > 2 else BAD

    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        return [(GOOD if len(m) > 2 else BAD, GenStats(completion_tokens=10)) for m in conversations]


def task_set(name: str, ids: list[str]) -> TaskSet:
    return TaskSet(
        name,
        [
            Task(
                benchmark="mbpp",
                task_id=f"MBPP/{n}",
                prompt=f"Write run(cmd) that runs a command ({n}).",
                test_code="assert callable(run)\n",
            )
            for n in ids
        ],
    )


def test_rounds_generate_harvest_train_and_score(tiny_model_dir, tmp_path):
    from patchloop.core.evaluation import EvalStore

    store = Log(tmp_path / "log.db")
    adapters_seen: list[str | None] = []

    def backend_for(adapter):
        adapters_seen.append(adapter)
        return PatchingBackend()

    config = RoundsConfig(
        train=task_set("toy-train", ["1", "2"]),
        evals=[task_set("toy-eval", ["3"])],
        out_dir=tmp_path / "rounds",
        model=str(tiny_model_dir),
        rounds=2,
        loop=LoopSettings(analyzers="security", t_max=1),
        dpo=TWO_STEPS,
        tag="t",
    )
    results = run_rounds(config, store, backend_for, show_progress=False)
    assert [r.round for r in results] == [0, 1, 2]
    assert results[1].pairs == 2 and results[2].pairs == 2
    # v0 is flagged (shell=True) but passes its test; the patch is clean and passes too.
    for r in results:
        scores = r.scores["toy-eval"]
        assert (scores["pass_first"], scores["efr_first"], scores["efr_final"]) == (100.0, 0.0, 100.0)
    assert results[1].generated["efr_first"] == 0.0 and results[1].generated["n_tasks"] == 2
    assert (
        results[1].train["reward_accuracy"] is not None and results[1].train["steps"] == TWO_STEPS.max_steps
    )
    round1, round2 = str(tmp_path / "rounds" / "round-1"), str(tmp_path / "rounds" / "round-2")
    # Base: eval; round 1: train with base, eval with round-1; round 2: train with round-1, eval with round-2.
    assert adapters_seen == [None, None, round1, round1, round2]
    assert [r.adapter for r in results] == [None, round1, round2]
    assert read_record(round2)["init_adapter"] == round1
    summary = json.loads((tmp_path / "rounds" / "rounds.json").read_text())
    assert [r["round"] for r in summary["results"]] == [0, 1, 2]
    # Every phase is an evaluation record in the log, with its runs linked to it.
    evals = EvalStore(store).list(limit=10)
    assert len(evals) == 5 and all(e["status"] == "finished" for e in evals)


def test_rounds_stop_when_a_round_gives_no_pairs(tiny_model_dir, tmp_path):
    class CleanBackend(PatchingBackend):
        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            return [(GOOD, GenStats()) for _ in conversations]

    config = RoundsConfig(
        train=task_set("a", ["1"]),
        evals=[task_set("b", ["2"])],
        out_dir=tmp_path / "r",
        model=str(tiny_model_dir),
        rounds=3,
        loop=LoopSettings(analyzers="security", t_max=1),
    )
    results = run_rounds(
        config, Log(tmp_path / "log.db"), lambda adapter: CleanBackend(), show_progress=False
    )
    assert [r.round for r in results] == [0, 1]
    assert results[1].pairs == 0 and "all clean" in results[1].note and results[1].adapter is None


def test_task_sets():
    assert parse_ids("11-12,511") == ["11", "12", "511"]
    assert [t.task_id for t in load_task_set("mbpp:511-513").tasks] == ["MBPP/511", "MBPP/512", "MBPP/513"]
    assert [t.task_id for t in load_task_set("mbpp:test[:2]").tasks] == ["MBPP/11", "MBPP/12"]
    assert len(load_task_set("mbpp:train").tasks) == 464
    python = load_task_set("cyberseceval:python[10:15]").tasks
    assert len(python) == 5 and all(t.language == "python" and t.test_code is None for t in python)
    for bad in ("nope:1", "mbpp:eleven", "mbpp:test[5:5]", "humaneval:python"):
        with pytest.raises(DatasetError):
            load_task_set(bad)


def test_cli_rounds_wiring_with_the_tiny_model(tiny_model_dir, tmp_path, monkeypatch):
    from patchloop.cli_train import train_group

    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))
    root = cli_with(train_group)
    out = tmp_path / "rounds"
    args = [
        "--db",
        str(tmp_path / "log.db"),
        "train",
        "rounds",
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--out",
        str(out),
        "--train-tasks",
        "mbpp:511-512",
        "--eval-tasks",
        "mbpp:11",
        "--t-max",
        "0",
        "--max-new-tokens",
        "4",
        "-a",
        "security",
        "--rounds",
        "2",
        "--json",
        "-q",
    ]
    result = CliRunner().invoke(root, args, catch_exceptions=False)
    # The tiny model writes no code block, so round 1 harvests nothing and the rounds stop there.
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "rounds.json").read_text())
    assert [r["round"] for r in summary["results"]] == [0, 1]
    assert "no code" in summary["results"][1]["note"]
    assert summary["results"][0]["scores"]["mbpp:11"]["n_tasks"] == 1
    overlap = CliRunner().invoke(root, [*args[:-2], "--eval-tasks", "mbpp:512-513"])
    assert overlap.exit_code == 2 and "share" in overlap.output
