"""Code extraction from answers and the patch-request wording."""

from __future__ import annotations

from patchloop.core.extract import extract_code, partial_code
from patchloop.core.feedback import render_feedback
from patchloop.core.types import Finding


def test_prefers_the_python_block_and_the_longest_one():
    answer = "Sure.\n```bash\npip install x\n```\n```python\ndef f():\n    return 1\n```\nUsage:\n```python\nf()\n```"
    assert extract_code(answer) == "def f():\n    return 1\n"


def test_untagged_block_and_cut_off_block():
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("```python\ndef f():\n    return 1") == "def f():\n    return 1\n"


def test_no_block_means_no_code():
    assert extract_code("def f(): return 1") is None
    assert extract_code("```python\n\n```") is None


def test_partial_code_while_streaming():
    assert partial_code("Sure:\n```python\ndef f(") == "def f("
    assert partial_code("thinking...") is None


def test_feedback_wording_and_threshold(tmp_path):
    findings = [Finding("bandit", "B307", "error", "Use of eval", 2), Finding("ruff", "F841", "note", "unused y", 3)]
    text = render_feedback("a\nb\nc\n", findings, threshold="warning")
    assert "Total warnings: 1. Warnings:\nUse of eval [B307] at solution.py:2" in text
    assert "F841" not in text and "```python\na\nb\nc\n```" in text


def test_user_template_replaces_the_shipped_one(tmp_path):
    (tmp_path / "feedback.txt").write_text("N={count}\n{warnings}")
    text = render_feedback("x\n", [Finding("t", "R1", "error", "m", 1)], prompts_dir=tmp_path)
    assert text == "N=1\nm [R1] at solution.py:1"
