"""End to end on the real embedded model: load, generate, analyze, patch, log. Slow (minutes on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

# The answer to this prompt reliably uses pickle, which the security suite flags, so the loop must
# send at least one patch request.
PROMPT = "Write a Python function load_cache(path) that loads a cached Python object from a file with pickle."


def patchloop_run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATCHLOOP_CONFIG": str(tmp_path / "config.toml")}
    patchloop = Path(sys.executable).with_name("patchloop")
    return subprocess.run(
        [str(patchloop), "--db", str(tmp_path / "log.db"), "run", "--json", "--quiet", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def test_the_repair_loop_fixes_a_flagged_first_attempt_on_the_embedded_model(tmp_path):
    result = patchloop_run(tmp_path, "-a", "security", "--t-max", "2", "--max-new-tokens", "256", PROMPT)
    assert result.returncode == 0, result.stderr[-2000:]  # 0: the answer is clean
    run = json.loads(result.stdout)
    first, best = run["iterations"][0], run["iterations"][run["best_index"]]
    assert first["findings"] and "pickle" in first["code"]
    assert run["stop_reason"] == "clean" and best["findings"] == [] and best["index"] > 0
    # The repair request was a fresh conversation holding the task, the marked line and a hint.
    request = run["iterations"][1]["prompt"]
    if request:  # an autofix iteration has no request
        assert [m["role"] for m in request] == ["system", "user"]
        assert "Task:" in request[1]["content"] and "  > " in request[1]["content"]
        assert "Fix: " in request[1]["content"]
    import sqlite_utils

    rows = list(
        sqlite_utils.Database(tmp_path / "log.db")["iterations"].rows_where(
            "run_id = ?", [run["id"]], order_by="idx"
        )
    )
    assert [r["origin"] for r in rows] == [it["origin"] for it in run["iterations"]]


def test_the_papers_plain_loop_on_the_embedded_model(tmp_path):
    db = tmp_path / "log.db"
    result = patchloop_run(
        tmp_path,
        "-a",
        "security",
        "--t-max",
        "1",
        "--max-new-tokens",
        "200",
        "--no-autofix",
        "--feedback",
        "chat",
        "--candidates",
        "0",
        PROMPT,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    run = json.loads(result.stdout)
    assert run["model"].startswith("Qwen2.5-Coder-0.5B"), run["model"]
    first = run["iterations"][0]
    assert first["code"] and "pickle" in first["code"]
    assert first["findings"], "the first attempt should be flagged, so a patch iteration runs"
    assert run["stop_reason"] in ("clean", "t_max", "repeated")
    if run["stop_reason"] == "repeated":  # the 0.5B model copied its answer: not recorded again
        assert len(run["iterations"]) == 1
        return
    assert len(run["iterations"]) == 2
    patch_request = run["iterations"][1]["prompt"][-1]["content"]
    assert "Total warnings:" in patch_request and "at solution.py:" in patch_request

    import sqlite_utils

    log = sqlite_utils.Database(db)
    row = log["runs"].get(run["id"])
    assert row["stop_reason"] == run["stop_reason"] and row["n_iterations"] == 2
    iterations = list(log["iterations"].rows_where("run_id = ?", [run["id"]], order_by="idx"))
    assert [it["idx"] for it in iterations] == [0, 1]
    assert all(it["completion_tokens"] > 0 and it["gen_seconds"] > 0 for it in iterations)
    assert log["findings"].count_where("iteration_id = ?", [iterations[0]["id"]]) == len(first["findings"])
