"""C, C++, C# and Rust through the suites (issue 12): every planted defect and vulnerability of
tests/fixtures/languages/<language>/ is caught at its line by its rule, the clean files give no
finding, each tool's output is mapped to findings (rule, severity, line, CWE), and a missing tool
is an error that names its install command, never a clean verdict."""

from __future__ import annotations

import json

import pytest
from language_fixtures import (
    analyze_fixture,
    check_planted_bugs,
    fixture_cases,
    fixture_files,
    is_clean_file,
    planted,
)
from patchloop.core.analyzers import analyze_code, get_analyzers
from patchloop.core.analyzers import base as analyzers_base
from patchloop.core.analyzers.cppcheck import parse_cppcheck_xml
from patchloop.core.analyzers.flawfinder import parse_flawfinder_csv
from patchloop.core.analyzers.gcc import parse_gcc_json
from patchloop.core.analyzers.mcs import parse_mcs_output
from patchloop.core.analyzers.rustc import CARGO_BIN, crate_type, parse_rustc_json
from patchloop.core.hints import hint_for, load_hints
from patchloop.core.sarif import to_sarif

LANGUAGES = ("c", "cpp", "csharp", "rust")
SUFFIX = {"c": ".c", "cpp": ".cpp", "csharp": ".cs", "rust": ".rs"}
# language -> the executables its analyzers run, and the set-up that installs them (a skip's reason)
TOOLS = {
    "c": (("gcc", "cppcheck", "flawfinder"), "bash scripts/install-system-deps.sh && pip install flawfinder"),
    "cpp": (("g++", "cppcheck", "flawfinder"), "bash scripts/install-system-deps.sh && pip install flawfinder"),
    "csharp": (("mcs", "semgrep"), "apt-get install mono-mcs (bash scripts/install-system-deps.sh), pip install semgrep"),
    "rust": (("rustc", "clippy-driver"), "apt-get install rustc rust-clippy (bash scripts/install-system-deps.sh)"),
}  # fmt: skip


def _present(executable: str) -> bool:
    return analyzers_base.find_tool(executable) is not None or (CARGO_BIN / executable).is_file()


def needs_tools(language: str) -> None:
    executables, install = TOOLS[language]
    missing = [e for e in executables if not _present(e)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: {install}")


@pytest.mark.parametrize(("language", "path"), fixture_cases(LANGUAGES))
def test_planted_bugs_are_caught_at_their_line_and_clean_files_are_clean(language, path):
    needs_tools(language)
    # A line may name several rules ("expect: Wanalyzer-double-free, doubleFree"): each must be there.
    check_planted_bugs(path, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_finding_on_the_fixtures_has_a_fix_hint(language):
    needs_tools(language)
    hints = load_hints(language)
    unhinted = set()
    for path in fixture_files(language) + fixture_files(language, heldout=True):
        analysis = analyze_fixture(path, language)
        unhinted |= {f.key for f in analysis.findings if not hint_for(f, hints)}
    assert not unhinted, sorted(unhinted)


HELDOUT = [case for case in fixture_cases(LANGUAGES, heldout=True) if is_clean_file(case.values[1])]


@pytest.mark.parametrize(("language", "path"), HELDOUT)
def test_heldout_clean_files_are_clean(language, path):
    needs_tools(language)
    analysis = analyze_fixture(path, language)
    assert analysis.findings == [], [(f.line, f.rule_id, f.message) for f in analysis.findings]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_plants_at_least_four_classes(language):
    classes = {b.expected for p in fixture_files(language) for b in planted(p)}
    assert len(classes) >= 4, classes
    assert any(is_clean_file(p) for p in fixture_files(language))
    assert [p for p in fixture_files(language, heldout=True) if planted(p)], "no held-out files"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("suite", ["defects", "security", "all"])
def test_every_suite_has_an_analyzer_for_the_language(language, suite):
    assert [a.name for a in get_analyzers(suite) if language in a.languages]


@pytest.mark.parametrize("language", LANGUAGES)
def test_broken_code_is_never_clean_in_the_security_suite(language):
    needs_tools(language)
    broken = next(p for p in fixture_files(language) if p.stem.lower() == "broken")
    analysis = analyze_fixture(broken, language, "security")
    assert any(f.severity == "error" for f in analysis.findings), analysis.findings


def test_csharp_security_findings_come_from_the_semgrep_rules():
    needs_tools("csharp")
    code = (
        "using System.Security.Cryptography;\npublic class A {\n"
        "    public byte[] H(byte[] d) { using (var h = MD5.Create()) { return h.ComputeHash(d); } }\n}\n"
    )
    analysis = analyze_code(code, "security", language="csharp", filename="solution.cs")
    assert not analysis.errors
    assert [(f.tool, f.rule_id, f.line, f.cwe) for f in analysis.findings] == [
        ("semgrep", "csharp-weak-hash", 3, "CWE-327")
    ]


# -- each tool's output mapped to findings (real outputs of the versions tested here) ----------------


def test_gcc_json_maps_option_cwe_and_severity(tmp_path):
    path = tmp_path / "solution.c"
    stderr = (
        '[{"kind": "note", "locations": [], "message": "here"},'
        ' {"kind": "warning", "option": "-Wanalyzer-double-free", "metadata": {"cwe": 415},'
        '  "locations": [{"caret": {"file": "solution.c", "line": 10, "column": 5},'
        '                 "finish": {"file": "solution.c", "line": 10, "column": 11}}],'
        '  "message": "double-free of p"},'
        ' {"kind": "warning", "option": "-Wformat-security",'
        '  "locations": [{"caret": {"file": "solution.c", "line": 7, "column": 5}}], "message": "format"},'
        ' {"kind": "error", "locations": [{"caret": {"file": "solution.c", "line": 3, "column": 9}}],'
        '  "message": "expected ;"}]'
    )
    compiler = parse_gcc_json(stderr, path, "gcc", "compiler")
    assert [(f.rule_id, f.severity, f.line, f.cwe) for f in compiler] == [
        ("Wformat-security", "warning", 7, "CWE-134"),
        ("compile-error", "error", 3, ""),
    ]
    analyzer = parse_gcc_json(stderr, path, "gcc", "analyzer")
    assert [(f.rule_id, f.severity, f.line, f.column, f.end_column, f.cwe) for f in analyzer] == [
        ("Wanalyzer-double-free", "error", 10, 5, 12, "CWE-415"),
        ("compile-error", "error", 3, 9, 0, ""),
    ]


def test_gcc_fatal_error_about_no_place_is_a_tool_failure(tmp_path):
    stderr = '[{"kind": "fatal error", "locations": [], "message": "solution.c: No such file or directory"}]'
    with pytest.raises(analyzers_base.ToolFailure, match="No such file"):
        parse_gcc_json(stderr, tmp_path / "solution.c", "gcc")


def test_cppcheck_xml_maps_ids_severity_cwe_and_pattern_rules(tmp_path):
    path = tmp_path / "solution.c"
    stderr = """<?xml version="1.0" encoding="UTF-8"?>
<results version="2"><cppcheck version="2.10"/><errors>
<error id="doubleFree" severity="error" msg="freed twice" cwe="415"><location file="solution.c" line="10" column="5"/>
<location file="solution.c" line="9" column="5"/></error>
<error id="variableScope" severity="style" msg="scope can be reduced" cwe="398"><location file="solution.c" line="2" column="1"/></error>
<error id="insecureRandom" severity="warning" msg="rand() is predictable [CWE-338]"><location file="solution.c" line="4" column="0"/></error>
<error id="knownConditionTrueFalse" severity="style" inconclusive="true" msg="always true" cwe="571"><location file="solution.c" line="6" column="9"/></error>
</errors></results>"""
    findings = parse_cppcheck_xml(stderr, path)
    assert [(f.rule_id, f.severity, f.line, f.cwe, f.confidence) for f in findings] == [
        ("doubleFree", "error", 10, "CWE-415", "high"),
        ("insecureRandom", "warning", 4, "CWE-338", "high"),
        ("knownConditionTrueFalse", "note", 6, "CWE-571", "low"),
    ]
    assert findings[1].message == "rand() is predictable"


def test_cppcheck_internal_error_is_a_tool_failure(tmp_path):
    stderr = (
        '<?xml version="1.0"?><results version="2"><errors><error id="internalError" severity="error" '
        'msg="Internal error"/></errors></results>'
    )
    with pytest.raises(analyzers_base.ToolFailure):
        parse_cppcheck_xml(stderr, tmp_path / "solution.c")


FLAWFINDER_HEADER = (
    "File,Line,Column,DefaultLevel,Level,Category,Name,Warning,Suggestion,Note,CWEs,Context,"
    "Fingerprint,ToolVersion,RuleId,HelpUri\n"
)


def test_flawfinder_csv_maps_level_and_first_cwe():
    csv_text = FLAWFINDER_HEADER + (
        "solution.c,6,5,4,4,buffer,strcpy,Does not check for buffer overflows (CWE-120).,Consider snprintf.,,"
        'CWE-120,"    strcpy(b, s);",ab,2.0.20,FF1001,https://cwe.mitre.org/data/definitions/120.html\n'
        "solution.c,9,3,2,2,buffer,char,Statically-sized arrays can overflow (CWE-119!/CWE-120).,,,"
        'CWE-119!/CWE-120,"char b[8];",cd,2.0.20,FF1013,https://cwe.mitre.org/data/definitions/119.html\n'
    )
    findings = parse_flawfinder_csv(csv_text)
    assert [(f.rule_id, f.severity, f.line, f.column, f.cwe) for f in findings] == [
        ("FF1001", "error", 6, 5, "CWE-120"),
        ("FF1013", "warning", 9, 3, "CWE-119"),
    ]
    assert findings[0].message.startswith("strcpy: ")


def test_flawfinder_review_only_hits_on_every_memcpy_and_fopen_are_dropped():
    csv_text = FLAWFINDER_HEADER + (
        "solution.c,4,5,2,2,buffer,memcpy,Does not check for buffer overflows when copying (CWE-120).,,,"
        'CWE-120,"memcpy(d, s, n);",ab,2.0.20,FF1004,https://cwe.mitre.org/data/definitions/120.html\n'
        "solution.c,7,5,2,2,misc,fopen,Check when opening files (CWE-362).,,,"
        'CWE-362,"fopen(p, "r");",cd,2.0.20,FF1040,https://cwe.mitre.org/data/definitions/362.html\n'
    )
    assert parse_flawfinder_csv(csv_text) == []


def test_flawfinder_csv_without_its_columns_is_unparsable():
    with pytest.raises(ValueError, match="columns"):
        parse_flawfinder_csv("Segmentation fault\n")


def test_mcs_output_maps_codes_and_moves_an_empty_statement_to_its_semicolon(tmp_path):
    path = tmp_path / "solution.cs"
    code = "class A {\n  int F(int x) {\n    if (x > 0) ;\n    return x;\n  }\n}\n"
    output = (
        "solution.cs(4,12): warning CS0642: Possible mistaken empty statement\n"
        "solution.cs(2,7): error CS0161: not all code paths return a value\n"
        "Compilation failed: 1 error(s), 1 warnings\n"
    )
    findings = parse_mcs_output(output, path, code)
    assert [(f.rule_id, f.severity, f.line, f.column, f.cwe) for f in findings] == [
        ("CS0642", "warning", 3, 16, "CWE-483"),
        ("CS0161", "error", 2, 7, ""),
    ]


def test_mcs_missing_assembly_names_the_install_command(tmp_path):
    with pytest.raises(analyzers_base.ToolFailure, match="apt-get install mono-mcs"):
        parse_mcs_output(
            "error CS0006: Metadata file `System.Data' could not be found\n", tmp_path / "solution.cs", ""
        )


def test_rustc_json_follows_a_macro_to_its_call_and_keeps_errors_under_rustc(tmp_path):
    path = tmp_path / "solution.rs"

    def span(file_name, line, column, expansion=None):
        return {
            "file_name": file_name,
            "line_start": line,
            "line_end": line,
            "column_start": column,
            "column_end": column + 5,
            "is_primary": True,
            "expansion": expansion,
        }

    diagnostics = [
        {
            "message": "unreachable statement",
            "code": {"code": "unreachable_code"},
            "level": "warning",
            "spans": [span("/rustlib/src/std/macros.rs", 142, 23, {"span": span("solution.rs", 12, 5)})],
            "children": [],
        },
        {
            "message": "mismatched types",
            "code": {"code": "E0308"},
            "level": "error",
            "spans": [span("solution.rs", 2, 18)],
            "children": [],
        },
        {
            "message": "aborting due to 1 previous error",
            "code": None,
            "level": "error",
            "spans": [],
            "children": [],
        },
    ]
    stderr = "\n".join(json.dumps(d) for d in diagnostics)
    findings = parse_rustc_json(stderr, path, "clippy")
    assert [(f.tool, f.rule_id, f.severity, f.line, f.column, f.cwe) for f in findings] == [
        ("clippy", "unreachable_code", "warning", 12, 5, "CWE-561"),
        ("rustc", "E0308", "error", 2, 18, ""),
    ]


def test_rust_code_with_main_is_checked_as_a_program():
    assert crate_type("use std::io;\n\nfn main() {\n}\n") == "bin"
    assert crate_type("pub fn add(a: i32, b: i32) -> i32 { a + b }\n") == "lib"


# -- a missing tool -------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "install"), [
    ("c", "apt-get install gcc"), ("cpp", "apt-get install cppcheck"), ("c", "pip install flawfinder"),
    ("csharp", "apt-get install mono-mcs"), ("rust", "apt-get install rustc"),
    ("rust", "apt-get install rust-clippy"),
])  # fmt: skip
def test_a_missing_tool_is_an_error_naming_its_install_command(language, install, monkeypatch):
    monkeypatch.setattr(analyzers_base, "find_tool", lambda executable: None)
    analysis = analyze_code("int x;\n", "all", language=language, filename="solution" + SUFFIX[language])
    assert analysis.findings == []
    assert any(install in error for error in analysis.errors), analysis.errors


def test_a_disallowed_method_carries_its_reason_and_cwe_from_clippy_toml(tmp_path):
    children = [
        {"message": "the shared temporary folder is predictable [CWE-377]", "level": "note"},
        {"message": "for further information visit https://rust-lang.github.io/...", "level": "help"},
        {"message": "requested on the command line with `-W clippy::disallowed-methods`", "level": "note"},
    ]
    diagnostic = {
        "message": "use of a disallowed method `std::env::temp_dir`",
        "code": {"code": "clippy::disallowed_methods"},
        "level": "warning",
        "children": children,
        "spans": [
            {
                "file_name": "solution.rs",
                "line_start": 4,
                "line_end": 4,
                "column_start": 15,
                "column_end": 28,
                "is_primary": True,
                "expansion": None,
            }
        ],
    }
    [finding] = parse_rustc_json(json.dumps(diagnostic), tmp_path / "solution.rs", "clippy")
    assert (finding.rule_id, finding.line, finding.cwe) == ("clippy::disallowed_methods", 4, "CWE-377")
    assert (
        finding.message
        == "use of a disallowed method `std::env::temp_dir`: the shared temporary folder is predictable"
    )


def test_a_rust_syntax_error_without_an_error_code_is_kept_by_every_rust_analyzer():
    needs_tools("rust")
    code = "/// a doc comment that documents nothing\n"
    for suite in ("defects", "security"):
        analysis = analyze_code(code, suite, language="rust", filename="solution.rs")
        assert not analysis.errors
        assert [(f.tool, f.rule_id, f.severity, f.line) for f in analysis.findings] == [
            ("rustc", "compile-error", "error", 1)
        ], suite


def test_a_missing_header_is_a_finding_at_its_include_line(tmp_path):
    stderr = (
        '[{"kind": "fatal error", "locations": [{"caret": {"file": "solution.cpp", "line": 3, "column": 10}}],'
        ' "message": "windows.h: No such file or directory"}]\ncompilation terminated.\n'
    )
    [finding] = parse_gcc_json(stderr, tmp_path / "solution.cpp", "gcc")
    assert (finding.rule_id, finding.severity, finding.line, finding.column) == (
        "compile-error",
        "error",
        3,
        10,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_sarif_of_each_language_validates_and_names_its_file(language, sarif_validator):
    needs_tools(language)
    path = next(p for p in fixture_files(language) if planted(p) and p.stem.lower() != "broken")
    analysis = analyze_fixture(path, language)
    document = to_sarif(
        {path.name: analysis},
        sources={path.name: path.read_text(encoding="utf-8")},
        languages={path.name: language},
    )
    errors = sorted(sarif_validator.iter_errors(document), key=str)
    assert not errors, errors[0].message
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for run in document["runs"]
        for r in run["results"]
    }
    assert uris == {path.name}
