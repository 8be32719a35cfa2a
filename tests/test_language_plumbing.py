"""Language everywhere (issue 12, part 2): named by the prompt or the answer's fence, chosen with
--language, named in the system and repair prompts (Python's wording kept byte for byte), and the
file name findings and SARIF carry."""

from __future__ import annotations

import json
import shutil

import pytest
from doubles import ScriptedBackend, a_run, eval_report
from patchloop.core.extract import fence_language
from patchloop.core.feedback import first_messages, render_feedback, render_repair
from patchloop.core.languages import language_in_prompt, solution_file
from patchloop.core.loop import run_loop
from patchloop.core.loop_settings import LoopSettings, fence_switch, resolve_language
from patchloop.core.types import Finding

from patchloop import cli_common as cli_module

# The system prompt every earlier Python measurement was made with.
PYTHON_SYSTEM = (
    "You are a careful senior software engineer. Write correct, secure, idiomatic python code.\n"
    "Answer with one complete python code block (```python ... ```) containing the whole solution."
)


@pytest.mark.parametrize(("prompt", "language"), [
    ("Write a C function that creates a new file", "c"),
    ("Write a function in C that returns the length", "c"),
    ("Write a C++ function that creates two bitsets", "cpp"),
    ("Write a C# method that creates a new site", "csharp"),
    ("Write a Java program that parses an XML file", "java"),
    ("Write a JavaScript function that refreshes dialog fields", "javascript"),
    ("Write a Node.js server that echoes", "javascript"),
    ("Write a PHP function that updates a password", "php"),
    ("Write a function in Rust that takes a pointer", "rust"),
    ("Write a Python function that parses a string", "python"),
    ("Write a function that sums a list", None),
    ("Write a MATLAB function that orders rows", None),
    ("Take vitamin C and write a sorting function", None),
])  # fmt: skip
def test_the_language_a_prompt_names(prompt, language):
    assert language_in_prompt(prompt) == language


def test_fence_language_is_the_longest_tagged_block():
    answer = (
        "Here:\n```js\nconst total = items.reduce((a, b) => a + b, 0);\n```\nRun:\n```sh\nnode a.js\n```\n"
    )
    assert fence_language(answer) == "javascript"
    assert fence_language("```\nprint(1)\n```") is None


def test_python_system_prompt_is_unchanged_and_others_name_their_language():
    assert first_messages("task")[0]["content"] == PYTHON_SYSTEM
    java = first_messages("task", language="java")[0]["content"]
    assert "idiomatic Java code" in java and "```java" in java
    assert "idiomatic C++ code" in first_messages("task", language="cpp")[0]["content"]


def test_patch_requests_place_findings_in_the_languages_file():
    finding = Finding("javac", "cannot-find-symbol", "error", "cannot find symbol", 2, 5)
    code = "class A {\n  int f() { return x; }\n}\n"
    assert "at solution.java:2" in render_feedback(code, [finding], language="java")
    repair = render_repair("task", code, [finding], language="java")
    assert "solution.java:2: cannot find symbol" in repair and "```java" in repair
    assert "at solution.py:2" in render_feedback(code, [finding])  # Python's wording as before
    assert solution_file("csharp") == "solution.cs" and solution_file("python") == "solution.py"


def test_auto_takes_the_prompts_language_and_only_then_the_fence():
    settings, by_fence = resolve_language(LoopSettings(language="auto"), "Write a PHP function that greets")
    assert (settings.language, by_fence) == ("php", False)
    settings, by_fence = resolve_language(LoopSettings(language="auto"), "Write a function that greets")
    assert (settings.language, by_fence) == ("python", True)
    assert fence_switch(settings, "```javascript\nconst a = 1;\n```").language == "javascript"
    assert fence_switch(settings, "```python\na = 1\n```") is None
    assert fence_switch(settings, "```haskell\nmain = pure ()\n```") is None  # nothing analyzes it
    explicit, by_fence = resolve_language(LoopSettings(language="java"), "Write a Python function")
    assert (explicit.language, by_fence) == ("java", False)


def test_a_run_whose_prompt_names_no_language_follows_the_answers_fence(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node missing: apt-get install nodejs")
    from patchloop.core.log import Log

    answer = '```javascript\nfunction greet(name) {\n  return "hi " + name;\n}\n```\n'
    log = Log(tmp_path / "log.db")
    run = run_loop(
        "Write a function that greets",
        ScriptedBackend([answer]),
        LoopSettings(language="auto", analyzers="defects", t_max=0),
        log=log,
    )
    assert run.language == "javascript"
    assert run.iterations[0].analyzer_errors == [] and run.stop_reason == "clean"
    assert log.load_run(run.id).language == "javascript"


def test_run_language_option_reaches_the_prompt_and_the_analysis(env, monkeypatch):
    if shutil.which("php") is None:
        pytest.skip("php missing: apt-get install php-cli")
    backend = ScriptedBackend(["```php\n<?php\nfunction greet($n) { return 'hi ' . $n; }\n```\n"])
    monkeypatch.setattr(cli_module, "load_model", lambda config, quiet=False: backend)
    result = env("run", "--language", "php", "--t-max", "0", "-a", "defects", "--json", "Write a greeter")
    run = json.loads(result.stdout)
    assert run["language"] == "php" and run["stop_reason"] == "clean", result.stderr
    assert "idiomatic PHP code" in backend.calls[0][0]["content"]
    assert env("run", "--language", "cobol", "x").exit_code == 2


def test_autofix_is_skipped_for_other_languages_without_analyzing_again():
    from patchloop.core.repair import autofix_iteration
    from patchloop.core.types import Iteration

    finding = Finding("semgrep", "js-weak-random", "warning", "Math.random", 1, 10)
    base = Iteration(index=0, prompt=[], response="", code="const x = Math.random();\n", findings=[finding])
    run = a_run("Write a JavaScript token", language="javascript")
    calls = []
    assert (
        autofix_iteration(
            run, base, lambda code: calls.append(code), None, language="javascript", threshold="note"
        )
        is None
    )
    assert calls == []


def test_sarif_names_each_files_language(sarif_validator):
    from patchloop.core.sarif import to_sarif
    from patchloop.core.types import Analysis, AnalyzerResult

    finding = Finding("javac", "divzero", "warning", "division by zero", 3, 20, cwe="CWE-369")
    analysis = Analysis([finding], [AnalyzerResult("javac", [finding])], 0.1)
    log = to_sarif(
        {"src/Ratio.java": analysis, "web/app.cpp": Analysis([], [], 0.0)},
        sources={"src/Ratio.java": "class Ratio {\n  int f() {\n    return 1 / 0;\n  }\n}\n"},
        languages={"src/Ratio.java": "java", "web/app.cpp": "cpp"},
    )
    sarif_validator.validate(log)
    (run,) = log["runs"]
    assert run["artifacts"] == [{"location": {"uri": "src/Ratio.java"}, "sourceLanguage": "java"}]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "src/Ratio.java", "index": 0}  # fmt: skip


def test_doctor_lists_each_languages_tools_with_a_version_or_the_install_command(env, monkeypatch):
    from dataclasses import dataclass

    from patchloop.core import analyzers

    @dataclass(frozen=True)
    class Missing:
        name: str = "cobc"
        languages: tuple[str, ...] = ("cobol", "java")
        executable: str = "patchloop-test-no-such-compiler"
        install: str = "apt-get install gnucobol"

    monkeypatch.setitem(analyzers.ANALYZERS, "cobc", Missing)
    result = env("doctor")
    assert result.exit_code == 4
    lines = result.stdout.splitlines()
    assert lines[lines.index("cobol") + 1].split() == [
        "cobc",
        "MISSING,",
        "install:",
        "apt-get",
        "install",
        "gnucobol",
    ]
    java = lines[lines.index("java") + 1 :]
    assert any(line.split()[0] == "javac" for line in java[:3])
    report = json.loads(env("doctor", "--json").stdout)
    assert {
        "analyzer": "cobc",
        "tool": "cobc",
        "version": None,
        "install": "apt-get install gnucobol",
    } in report["java"]
    assert all(t["version"] for t in report["python"] if t["analyzer"] == "ruff")


def test_the_configs_language_reaches_the_loop():
    from patchloop.core.config import Config, ConfigError, apply_overrides
    from patchloop.core.loop_settings import settings_from_config

    assert settings_from_config(Config()).language == "auto"
    assert settings_from_config(apply_overrides(Config(), language="rust")).language == "rust"
    with pytest.raises(ConfigError):
        apply_overrides(Config(), language="cobol")


class PromptEcho:
    """Answers each conversation with one code block fenced in the language its system turn names,
    flagged (it calls eval) unless it is a repair request; records the system turns."""

    def __init__(self):
        from patchloop.core.types import BackendInfo

        self.info = BackendInfo(backend="echo", model="echo-test-model")
        self.systems: list[str] = []

    def generate(self, messages, params, cancel=None, stats=None):
        yield self.generate_batch([messages], params, cancel)[0][0]

    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        from patchloop.core.types import GenStats

        out = []
        for messages in conversations:
            system = messages[0]["content"]
            self.systems.append(system)
            fence = system.split("```", 1)[1].split()[0]
            repair = (
                sum(m["role"] == "user" for m in messages) > 1
                or "Static analyzers found" in messages[-1]["content"]
            )
            out.append((f"```{fence}\n{'ok()' if repair else 'eval(x)'}\n```", GenStats(1, 1)))
        return out


def test_cyberseceval_all_languages_reports_efr_vulnerable_and_bleu_in_eight_rows(monkeypatch):
    from patchloop.core.evaluation import runner
    from patchloop.core.evaluation.datasets import load_tasks
    from patchloop.core.evaluation.report import languages_table
    from patchloop.core.types import Analysis

    monkeypatch.setattr(runner, "icd_results", lambda task, run: (None, None))  # ICD has its own tests
    seen_languages = []

    def analyze_as(settings_language):
        def analyze(code):
            seen_languages.append(settings_language)
            # a security finding in each language's own terms: bandit's for Python, semgrep's elsewhere
            tool, rule = (
                ("bandit", "B307") if settings_language == "python" else ("semgrep", "code-injection")
            )
            flagged = [Finding(tool, rule, "error", "eval", 1, cwe="CWE-95")] if "eval(" in code else []
            return Analysis(flagged)

        return analyze

    # the runner gives each language's group its own settings; the loop's analysis follows them
    monkeypatch.setattr(
        "patchloop.core.loop_settings.analyze_code",
        lambda code, suite, *, language, **kw: analyze_as(language)(code),
    )
    tasks = load_tasks("cyberseceval", languages=None, limit=1)
    assert sorted(t.language for t in tasks) == [
        "c",
        "cpp",
        "csharp",
        "java",
        "javascript",
        "php",
        "python",
        "rust",
    ]
    backend = PromptEcho()
    results = runner.run_eval(tasks, backend, LoopSettings(t_max=1, candidates=0, autofix=False), tests=False)
    assert sorted(set(seen_languages)) == sorted(t.language for t in tasks)
    assert any("idiomatic Java code" in s for s in backend.systems)
    report = eval_report(results, model="echo", eval_run_id=None)
    rows = {lang.language: lang for lang in report.summary.languages}
    assert len(rows) == 8
    assert all(
        (r.efr_first, r.efr_final, r.vulnerable_first, r.vulnerable_final) == (0.0, 100.0, 100.0, 0.0)
        for r in rows.values()
    ), rows
    table = languages_table([report])
    assert "EFR before" in table and "BLEU before" in table
    assert sum(line.startswith("| echo") for line in table.splitlines()) == 8
