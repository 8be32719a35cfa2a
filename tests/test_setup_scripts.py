"""The set-up's own checks (scripts/, run by `make setup`): the Python version and the torch build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _fake_python(tmp_path: Path, body: str) -> Path:
    """An interpreter stand-in: a shell script in place of `python`."""
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _check(python: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(SCRIPTS / "check-python.sh"), str(python)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_this_python_passes_the_version_check():
    run = _check(sys.executable)
    assert run.returncode == 0 and run.stderr == "" and run.stdout == ""


@pytest.mark.parametrize("version", ["3.10.14", "2.7.18", "3.9.0"])
def test_an_old_python_gets_one_line_saying_what_to_do(tmp_path, version):
    run = _check(_fake_python(tmp_path, f"printf '{version}'"))
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "needs Python >= 3.11, but" in run.stderr and version in run.stderr and "PYTHON=" in run.stderr


@pytest.mark.parametrize("version", ["3.11.0", "3.12.1", "3.13.0", "4.0.0"])
def test_newer_pythons_pass(tmp_path, version):
    assert _check(_fake_python(tmp_path, f"printf '{version}'")).returncode == 0


def test_a_missing_or_broken_python_is_named(tmp_path):
    missing = _check(tmp_path / "no-such-python")
    assert missing.returncode == 1 and "was not found" in missing.stderr and missing.stderr.count("\n") == 1
    broken = _check(_fake_python(tmp_path, "exit 3"))
    assert broken.returncode == 1 and "did not run as Python" in broken.stderr


def _torch_spec(python: Path, build: str, *spec: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TORCH_BUILD": build}
    return subprocess.run(
        ["bash", str(SCRIPTS / "torch-spec.sh"), str(python), *spec],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _pip_resolving_to(tmp_path: Path, version: str) -> Path:
    """`python -m pip install --dry-run --report -` answers with ``version``; `python -c` is the real one."""
    report = json.dumps({"install": [{"metadata": {"name": "torch", "version": version}}]})
    return _fake_python(
        tmp_path, f'if [ "$1" = "-m" ]; then echo \'{report}\'; else exec "{sys.executable}" "$@"; fi'
    )


def test_without_a_gpu_the_cpu_index_is_used_unless_pip_already_has_a_cpu_build(tmp_path):
    cuda = _torch_spec(_pip_resolving_to(tmp_path, "2.13.0"), "cpu", "torch==2.13.0")
    assert cuda.returncode == 0
    assert cuda.stdout.split() == [
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
        "--extra-index-url",
        "https://pypi.org/simple",
        "torch==2.13.0",
    ]
    local = _torch_spec(_pip_resolving_to(tmp_path, "2.13.0+cpu"), "cpu", "torch==2.13.0")
    assert local.returncode == 0 and local.stdout.split() == [
        "torch==2.13.0"
    ]  # a local CPU wheel: plain spec


def test_a_gpu_gets_the_plain_spec_and_a_bad_choice_is_refused(tmp_path):
    python = _pip_resolving_to(tmp_path, "2.13.0")
    assert _torch_spec(python, "gpu", "torch==2.13.0").stdout.split() == ["torch==2.13.0"]
    bad = _torch_spec(python, "tpu")
    assert bad.returncode == 2 and "TORCH_BUILD must be auto, cpu or gpu" in bad.stderr
