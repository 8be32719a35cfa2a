"""Java, JavaScript and PHP through the suites (issue 12): every planted defect and vulnerability of
tests/fixtures/languages/<language>/ is caught at its line by its rule, the clean files give no
finding, and a missing tool is an error that names its install command, never a clean verdict."""

from __future__ import annotations

import shutil

import pytest
from language_fixtures import check_planted_bugs, fixture_cases, fixture_files, is_clean_file, planted
from patchloop.core.analyzers import ANALYZERS, analyze_code
from patchloop.core.analyzers import base as analyzers_base
from patchloop.core.analyzers.eslint import eslint_script
from patchloop.core.analyzers.javac import java_file_name, parse_javac
from patchloop.core.analyzers.php_lint import parse_php_lint
from patchloop.core.analyzers.semgrep import semgrep_core_path
from patchloop.core.hints import hint_for, load_hints

LANGUAGES = ("java", "javascript", "php")
TOOLS = {  # language -> (is it there, the install command a skip names)
    "java": (lambda: shutil.which("javac") is not None, "apt-get install default-jdk-headless"),
    "javascript": (lambda: shutil.which("node") is not None and eslint_script() is not None,
                   "apt-get install nodejs npm && make setup"),
    "php": (lambda: shutil.which("php") is not None, "apt-get install php-cli"),
}  # fmt: skip


def needs_tools(language: str) -> None:
    present, install = TOOLS[language]
    if not present() or semgrep_core_path() is None and shutil.which("semgrep") is None:
        pytest.skip(f"tools for {language} missing: {install} (and pip install semgrep)")


@pytest.mark.parametrize(("language", "path"), fixture_cases(LANGUAGES))
def test_planted_bugs_are_caught_at_their_line_and_clean_files_are_clean(language, path):
    needs_tools(language)
    analysis = check_planted_bugs(path, language)
    # every finding the model is shown comes with a concrete fix hint for the language
    hints = load_hints(language)
    assert [f.key for f in analysis.findings if not hint_for(f, hints)] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_plants_at_least_four_classes(language):
    classes = {b.expected for p in fixture_files(language) for b in planted(p)}
    assert len(classes) >= 4, classes
    assert any(is_clean_file(p) for p in fixture_files(language))
    assert fixture_files(language, heldout=True), "no held-out files"


# -- one file, its real name ---------------------------------------------------------------------


def test_java_file_is_named_after_its_public_class():
    assert java_file_name("import java.util.*;\n\npublic final class Ledger {\n}\n") == "Ledger.java"
    assert java_file_name("public record Point(int x, int y) {}\n") == "Point.java"
    assert java_file_name("class Helper {}\n") == "solution.java"


def test_javac_compiles_a_public_class_given_under_another_name():
    needs_tools("java")
    code = "public class Greeter {\n    public String hi() {\n        return missing;\n    }\n}\n"
    analysis = analyze_code(code, "defects", language="java", filename="solution.java")
    assert not analysis.errors
    assert [(f.rule_id, f.line) for f in analysis.findings] == [("cannot-find-symbol", 3)]


def test_es_module_code_in_a_js_file_is_linted_as_a_module():
    needs_tools("javascript")
    code = 'import { readFile } from "node:fs/promises";\n\nexport const load = () => readFile("a.txt");\n'
    analysis = analyze_code(code, "all", language="javascript", filename="solution.js")
    assert not analysis.errors and analysis.findings == []


# -- parsers on recorded output ------------------------------------------------------------------


def test_parse_javac_takes_the_caret_column_and_lint_category():
    output = (
        "Demo.java:6: warning: [rawtypes] found raw type: List\n"
        "        List l = new ArrayList();\n"
        "        ^\n"
        "  missing type arguments for generic class List<E>\n"
        "  where E is a type-variable:\n"
        "Demo.java:12: warning: [divzero] division by zero\n"
        "        int z = 1 / 0;\n"
        "                    ^\n"
        "Other.java:1: error: cannot find symbol\n"
        "1 error\n2 warnings\n"
    )
    findings = parse_javac(output, "Demo.java")
    assert [(f.rule_id, f.line, f.column, f.cwe) for f in findings] == [
        ("rawtypes", 6, 9, ""), ("divzero", 12, 21, "CWE-369")]  # fmt: skip
    assert "missing type arguments" in findings[0].message and "where" not in findings[0].message


def test_parse_php_lint_keeps_only_the_file_and_maps_the_message():
    output = (
        "PHP Deprecated:  Optional parameter $x declared before required parameter $y is implicitly "
        "treated as a required parameter in /tmp/a/solution.php on line 2\n"
        "PHP Fatal error:  Cannot redeclare g() (previously declared in /tmp/a/solution.php:3) in "
        "/tmp/a/solution.php on line 5\n"
    )
    findings = parse_php_lint(output, "solution.php")
    assert [(f.rule_id, f.severity, f.line) for f in findings] == [
        ("optional-before-required", "warning", 2), ("redeclared-function", "error", 5)]  # fmt: skip


# -- fail closed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("analyzer", "language", "suffix", "install"),
    [("javac", "java", ".java", "default-jdk-headless"), ("node-check", "javascript", ".js", "nodejs"),
     ("eslint", "javascript", ".js", "nodejs"), ("php-lint", "php", ".php", "php-cli")],
)  # fmt: skip
def test_a_missing_tool_is_an_error_naming_its_install_command(
    monkeypatch, tmp_path, analyzer, language, suffix, install
):
    monkeypatch.setattr(analyzers_base, "find_tool", lambda executable: None)  # what require_tool asks
    source = tmp_path / f"solution{suffix}"
    source.write_text("x\n", encoding="utf-8")
    result = ANALYZERS[analyzer]().analyze(source, language, 30)
    assert result.findings == [] and result.error and install in result.error


def test_eslint_without_its_npm_folder_is_an_error_naming_make_setup(monkeypatch, tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node missing: apt-get install nodejs")
    monkeypatch.setenv("PATCHLOOP_ESLINT_DIR", str(tmp_path / "nowhere"))
    source = tmp_path / "solution.js"
    source.write_text("eval(x);\n", encoding="utf-8")
    result = ANALYZERS["eslint"]().analyze(source, "javascript", 30)
    assert result.findings == [] and "make setup" in (result.error or "")


def test_semgrep_on_broken_php_keeps_its_matches_and_php_lint_reports_the_syntax_error():
    needs_tools("php")
    code = '<?php\nfunction f() {\n    return md5($_GET["p"])\n}\n'
    analysis = analyze_code(code, "security", language="php", filename="solution.php")
    assert not analysis.errors
    assert {(f.tool, f.rule_id) for f in analysis.findings} >= {("php-lint", "parse-error")}


def test_semgrep_that_cannot_parse_code_the_language_accepts_is_an_error(monkeypatch, tmp_path):
    needs_tools("php")
    from patchloop.core.analyzers import semgrep_langs
    from patchloop.core.analyzers.semgrep import SemgrepScan

    source = tmp_path / "solution.php"
    source.write_text("<?php\necho 'fine';\n", encoding="utf-8")
    monkeypatch.setattr(
        semgrep_langs,
        "run_semgrep",
        lambda rules, targets, **kw: SemgrepScan([], (str(source),), "semgrep-core", (str(source),)),
    )
    result = semgrep_langs.SemgrepLangsAnalyzer().analyze(source, "php", 30)
    assert result.findings == [] and "could not parse" in (result.error or "")


def test_php_without_its_open_tag_is_analyzed_as_php_at_its_own_lines():
    needs_tools("php")
    code = "function digest($password) {\n    return md5($password);\n}\n\nfunction digest($x) {\n    return $x;\n}\n"
    analysis = analyze_code(code, "all", language="php")
    assert not analysis.errors
    assert {(f.rule_id, f.line) for f in analysis.findings} == {
        ("php-weak-hash", 2),
        ("redeclared-function", 5),
    }
