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
    findings = [
        Finding("bandit", "B307", "error", "Use of eval", 2),
        Finding("ruff", "F841", "note", "unused y", 3),
    ]
    text = render_feedback("a\nb\nc\n", findings, threshold="warning")
    assert "Total warnings: 1. Warnings:\nUse of eval [B307] at solution.py:2" in text
    assert "F841" not in text and "```python\na\nb\nc\n```" in text


def test_user_template_replaces_the_shipped_one(tmp_path):
    (tmp_path / "feedback.txt").write_text("N={count}\n{warnings}")
    text = render_feedback("x\n", [Finding("t", "R1", "error", "m", 1)], prompts_dir=tmp_path)
    assert text == "N=1\nm [R1] at solution.py:1"


def test_code_frame_marks_the_line_and_stays_inside_its_function():
    from patchloop.core.feedback import code_frame

    code = "import os\n\ndef run(cmd):\n    os.system(cmd)\n    return 0\n\nx = 1\n"
    frame = code_frame(code, 4)
    assert frame.splitlines() == [
        "    3 | def run(cmd):",
        "  > 4 |     os.system(cmd)",
        "    5 |     return 0",
    ]
    assert code_frame("a = 1\n", 9).endswith("> 1 | a = 1")  # a line past the end marks the last


def test_fresh_repair_request_has_task_code_frames_cwe_and_hints():
    from patchloop.core.feedback import repair_messages

    code = "import os\n\ndef run(cmd):\n    os.system(cmd)\n"
    findings = [
        Finding(
            "bandit", "B605", "error", "Starting a process with a shell", 4, cwe="CWE-78", also=("ruff:S605",)
        ),
        Finding("ruff", "F999", "note", "a rule without a hint", 1),
    ]
    messages = repair_messages("run a command", code, findings)
    assert [m["role"] for m in messages] == ["system", "user"]
    text = messages[1]["content"]
    assert text.startswith("Task:\nrun a command\n")
    assert "1. solution.py:4: Starting a process with a shell [B605, CWE-78]" in text
    assert "  > 4 |     os.system(cmd)" in text
    assert "Fix: Use `subprocess.run([...])`" in text
    assert "2. solution.py:1: a rule without a hint [F999]" in text  # no hint: the generic line
    assert "found 2 problem(s)" in text


def test_hints_come_from_twins_classes_and_the_users_file(tmp_path):
    from patchloop.core.hints import hint_for, load_hints

    hints = load_hints("python")
    assert "safe_load" in hint_for(
        Finding("ruff", "S506", "warning", "yaml", 1), hints
    )  # canonical bandit:B506
    assert "Remove the import" in hint_for(
        Finding("pylint", "W0611", "note", "unused", 1), hints
    )  # its class
    (tmp_path / "hints-python.toml").write_text('[hints]\n"bandit:B506" = "use our loader"\n')
    mine = load_hints("python", tmp_path)
    assert hint_for(Finding("bandit", "B506", "warning", "yaml", 1), mine) == "use our loader"
    assert "Remove the import" in hint_for(Finding("ruff", "F401", "note", "unused", 1), mine)  # others kept
    (tmp_path / "hints-python.toml").write_text("[hints\n")
    import pytest

    with pytest.raises(ValueError, match="cannot parse"):
        load_hints("python", tmp_path)
