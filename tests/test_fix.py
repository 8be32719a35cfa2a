"""`patchloop fix`: deterministic rewrites applied to files, behaviour kept, clean files untouched."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from patchloop.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "fix_cli"


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(tmp_path / "config.toml"))

    def run(*args):
        return CliRunner().invoke(cli, ["--db", str(tmp_path / "log.db"), *args], catch_exceptions=False)

    return run


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fix_removes_most_findings_and_keeps_behaviour(invoke, tmp_path):
    target = tmp_path / "fixable.py"
    shutil.copy(FIXTURES / "fixable.py", target)
    result = invoke("fix", str(target), "--json")
    report = json.loads(result.stdout)[str(target)]
    assert report["changed"] and report["errors"] == []
    before, after = report["before"], len(report["remaining"])
    assert before >= 14 and (before - after) / before >= 0.8, report
    assert result.exit_code == (1 if after else 0)

    old, new = load(FIXTURES / "fixable.py", "fixable_before"), load(target, "fixable_after")
    text = "a: 1\nb: [x, y]\n"
    assert new.parse_config(text) == old.parse_config(text) == {"a": 1, "b": ["x", "y"]}
    assert new.greet("bob") == old.greet("bob") == "hello bob"
    token = new.token(12)
    assert len(token) == 12 and set(token) <= set("abcdef0123456789")
    path = Path(new.scratch_path())
    assert path.suffix == ".txt" and isinstance(new.scratch_path(), str)
    path.unlink(missing_ok=True)
    assert (
        [new.to_int(v) for v in ("5", "x", None)]
        == [old.to_int(v) for v in ("5", "x", None)]
        == [5, None, None]
    )
    assert new.count_words(["a", "b", "a"]) == old.count_words(["a", "b", "a"]) == "a"
    assert new.hypotenuse(3, 4) == old.hypotenuse(3, 4) == 5.0
    assert new.append_to(1, []) == old.append_to(1, []) == [1]
    assert new.append_to(2) == [2] and new.append_to(3) == [3]  # no shared default any more
    assert new.first_positive([-1, 4]) == old.first_positive([-1, 4]) == 4
    assert new.repeat("ab", 3) == old.repeat("ab", 3) == "ababab"
    assert new.find_user("ann") == old.find_user("ann") == 31
    assert new.find_user("x' OR '1'='1") is None  # the injection no longer matches every row
    assert new.label(3) == old.label(3)


def test_fix_leaves_clean_code_byte_identical(invoke, tmp_path):
    target = tmp_path / "clean.py"
    shutil.copy(FIXTURES / "clean.py", target)
    original = target.read_bytes()
    result = invoke("fix", str(target))
    assert result.exit_code == 0 and target.read_bytes() == original
    assert "fixed 0 finding(s); 0 remaining" in result.stderr


def test_fix_diff_writes_nothing_and_prints_a_unified_diff(invoke, tmp_path):
    target = tmp_path / "fixable.py"
    shutil.copy(FIXTURES / "fixable.py", target)
    original = target.read_bytes()
    result = invoke("fix", "--diff", "-a", "security", str(target))
    assert target.read_bytes() == original
    assert f"--- a/{target}" in result.stdout and "+    return yaml.safe_load(text)" in result.stdout
    assert "would fix" in result.stderr


def test_fix_refuses_a_file_that_is_not_text(invoke, tmp_path):
    target = tmp_path / "latin.py"
    target.write_bytes(b"x = '\xe9'\n")
    result = invoke("fix", str(target))
    assert result.exit_code == 2 and "not UTF-8" in result.stderr
