"""rustc and clippy as analyzers for Rust, read through ``--error-format=json``.

One file, no Cargo project: the compiler checks it as a library (``--crate-type lib``), or as a
program when it defines ``fn main``, into a private folder; no machine code is generated and
nothing runs. clippy emits only metadata (``--emit=metadata``: type and borrow checking and the
lints). rustc emits MIR (``--emit=mir``, about 0.1 s more): the lints that evaluate constants on
MIR, ``arithmetic_overflow`` (``255u8 + 1``) and ``unconditional_panic`` (an index past a fixed
array's end), only run when MIR is built, and ``--emit=metadata`` stops before them.

- ``rustc`` (``defects``): compile errors and rustc's lints: the default ones (unused variables
  and results that must be used, unreachable and dead code, arithmetic overflow, unconditional
  recursion ...) and ``EXTRA_LINTS``.
- ``clippy`` (``defects``): clippy's ``clippy::all`` (correctness, suspicious, style, complexity,
  perf) and ``CLIPPY_EXTRA``; only ``clippy::`` lints are kept (clippy-driver repeats rustc's
  lints and errors, which are the ``rustc`` analyzer's).
- ``clippy-security`` (``security``): ``unsafe`` code (CWE-676) and the methods CyberSecEval's
  detector flags (``std::env::args``, ``args_os``, ``current_exe``: CWE-807; ``temp_dir``:
  CWE-377), banned through ``disallowed-methods`` in the shipped ``assets/clippy/clippy.toml``,
  plus compile errors, so broken code never passes the security suite.

The executables come from PATH (Debian's ``rustc`` and ``rust-clippy``) or rustup's
``~/.cargo/bin``. A crate the file uses that is not the standard library cannot be found in a
single-file check; that is an ``E0432``/``E0433`` error finding, as the file does not compile by
itself.

Severity: ``error`` -> error, ``warning`` -> warning, lone ``note``/``help`` lines are
explanations and not findings. A compiler crash (exit 101, "internal compiler error") is an
analyzer error. Rule id: the lint (``unused_variables``, ``clippy::eq_op``) or error code
(``E0425``); ``compile-error`` for errors without one. Position: the primary span in the file;
for a problem inside a macro's expansion, the macro call in the file.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .. import tempdirs
from ..types import Finding
from .base import GuardedAnalyzer, ToolFailure, check_error_found, check_exit, require_tool, run_tool, tail

INSTALL = {"rustc": "apt-get install rustc", "clippy-driver": "apt-get install rust-clippy"}
CARGO_BIN = Path.home() / ".cargo" / "bin"
EDITION = "2021"

EXTRA_LINTS: tuple[str, ...] = (
    "unused_lifetimes", "unused_macro_rules", "let_underscore_drop", "unsafe_op_in_unsafe_fn",
)  # fmt: skip
CLIPPY_EXTRA: tuple[str, ...] = (
    "clippy::all", "clippy::mem_forget",
    "clippy::cast_ptr_alignment", "clippy::ptr_as_ptr", "clippy::string_slice",
    "clippy::unchecked_duration_subtraction", "clippy::lossy_float_literal",
)  # fmt: skip
SECURITY_LINTS: tuple[str, ...] = ("unsafe_code", "clippy::disallowed_methods", "clippy::disallowed_types")

CWE_OF_LINT: dict[str, str] = {
    "unsafe_code": "CWE-676", "unused_must_use": "CWE-252", "unreachable_code": "CWE-561",
    "unused_variables": "CWE-563", "unused_assignments": "CWE-563", "dead_code": "CWE-561",
    "arithmetic_overflow": "CWE-190", "unconditional_recursion": "CWE-674", "unconditional_panic": "CWE-125",
    "clippy::mem_forget": "CWE-401", "clippy::eq_op": "CWE-480", "clippy::absurd_extreme_comparisons": "CWE-570",
    "clippy::unused_io_amount": "CWE-252", "clippy::uninit_assumed_init": "CWE-457",
    "clippy::uninit_vec": "CWE-457", "clippy::out_of_bounds_indexing": "CWE-125",
    "clippy::not_unsafe_ptr_arg_deref": "CWE-476", "clippy::cast_ptr_alignment": "CWE-704",
}  # fmt: skip

_MAIN = re.compile(r"^\s*(pub\s+)?(async\s+)?fn\s+main\s*\(", re.MULTILINE)
_CWE_IN_REASON = re.compile(r"\[(CWE-\d+)\]")


def crate_type(code: str) -> str:
    return "bin" if _MAIN.search(code) else "lib"


def _span_in(span: dict | None, path: Path) -> dict | None:
    """The span itself when it is in ``path``, else the macro call it was expanded from (if any)."""
    while span is not None:
        if Path(span.get("file_name", "")).name == path.name:
            return span
        span = (span.get("expansion") or {}).get("span")
    return None


def _primary_span(diagnostic: dict, path: Path) -> dict | None:
    spans = diagnostic.get("spans") or []
    for span in sorted(spans, key=lambda s: not s.get("is_primary")):
        found = _span_in(span, path)
        if found:
            return found
    return None


def parse_rustc_json(stderr: str, path: Path, tool: str) -> list[Finding]:
    """rustc's JSON lines -> findings: compile errors under the tool "rustc", lints under ``tool``."""
    findings = []
    for raw in stderr.splitlines():
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        diagnostic = json.loads(raw)
        level = diagnostic["level"]
        if level.startswith("error: internal compiler error"):
            raise ToolFailure(f"rustc crashed: {diagnostic['message']}")
        if level not in ("error", "warning"):
            continue
        code = (diagnostic.get("code") or {}).get("code") or ""
        span = _primary_span(diagnostic, path)
        if span is None and (level == "warning" or not code):
            # "aborting due to 2 previous errors", "3 warnings emitted", or a warning about the
            # command line (an older rustc that does not know one of the lints asked for).
            continue
        message = diagnostic["message"]
        cwe = CWE_OF_LINT.get(code, "")
        if code.startswith("clippy::disallowed"):
            # The reason from clippy.toml is the child note that carries the CWE (the others are
            # "for further information visit ..." and "requested on the command line ...").
            notes = " ".join(
                m
                for child in diagnostic.get("children") or []
                if _CWE_IN_REASON.search(m := child.get("message", ""))
            )
            found = _CWE_IN_REASON.search(notes)
            cwe = found.group(1) if found else cwe
            message = f"{message}: {_CWE_IN_REASON.sub('', notes).strip()}" if notes else message
        findings.append(
            Finding(
                # Compile errors are rustc's whichever driver printed them: one key, so the copies
                # that clippy-driver repeats merge with rustc's own.
                tool=tool if is_lint(code) else "rustc",
                rule_id=code or "compile-error",
                severity=level,
                message=message,
                line=int(span["line_start"]) if span else 1,
                column=int(span["column_start"]) if span else 0,
                cwe=cwe,
                end_line=int(span["line_end"]) if span else 0,
                end_column=int(span["column_end"]) if span else 0,
            )
        )
    return findings


def is_lint(code: str) -> bool:
    """A lint ("unused_variables", "clippy::eq_op", deny-level ones included), not an error code
    ("E0308") or an error without one ("" in rustc's JSON, "compile-error" as a finding's rule)."""
    return bool(code) and code != "compile-error" and not re.fullmatch(r"E\d+", code)


def kept(finding: Finding, keep: tuple[str, ...] | None) -> bool:
    """Compile errors always; lints named in ``keep`` (or under a prefix in it ending in "::");
    ``keep`` None: every lint that is not clippy's."""
    code = finding.rule_id
    if not is_lint(code):
        return True
    if keep is None:
        return not code.startswith("clippy::")
    return code in keep or any(code.startswith(prefix) for prefix in keep if prefix.endswith("::"))


def clippy_config() -> str:
    return resources.files("patchloop.assets").joinpath("clippy", "clippy.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RustAnalyzer(GuardedAnalyzer):
    name: str = "rustc"
    languages: tuple[str, ...] = ("rust",)
    tool: str = "rustc"
    driver: str = "rustc"  # or "clippy-driver"
    lints: tuple[str, ...] = EXTRA_LINTS  # passed as -W
    security: bool = False  # reads the shipped clippy.toml (disallowed methods)
    keep: tuple[str, ...] | None = None  # which lints to report (see ``kept``)
    emit: str = "metadata"  # "mir" for rustc's own run (see the module docstring)

    @property
    def install(self) -> str:
        return INSTALL[self.driver]

    def security_rule(self, rule_id: str) -> bool:
        """``unsafe`` code and the disallowed methods are the security role; other lints are defects."""
        return rule_id in SECURITY_LINTS

    @property
    def executable(self) -> str:
        """The driver's path where it is found (rustup's ~/.cargo/bin is often not on PATH)."""
        try:
            return require_tool(self.driver, self.install, also_in=(CARGO_BIN,))
        except ToolFailure:
            return self.driver

    def findings(self, path: Path, language: str, timeout: float) -> list[Finding]:
        executable = require_tool(self.driver, self.install, also_in=(CARGO_BIN,))
        code = path.read_text(encoding="utf-8", errors="replace")
        # Its own folder: clippy reads clippy.toml from the working folder (this one's, or none
        # at all: a clippy.toml in a folder above must not change the verdict), and rustc puts its
        # temporary files beside the output.
        with tempdirs.temporary_dir("rustc", ignore_cleanup_errors=True) as folder:
            work_dir = Path(folder)
            source = work_dir / path.name
            shutil.copyfile(path, source)
            if self.driver == "clippy-driver":
                (work_dir / "clippy.toml").write_text(
                    clippy_config() if self.security else "", encoding="utf-8"
                )
            argv = [
                executable, "--edition", EDITION, "--crate-type", crate_type(code),
                f"--emit={self.emit}", "-o", str(work_dir / f"out.{self.emit}"), "--error-format=json",
                *(flag for lint in self.lints for flag in ("-W", lint)), path.name,
            ]  # fmt: skip
            run = run_tool(argv, timeout, cwd=work_dir)
            # Success is silent: the file it emitted is the proof it checked the code.
            emitted = (work_dir / f"out.{self.emit}").is_file()
        check_exit(run, self.driver, (0, 1), run.stderr)
        if run.returncode == 0 and not emitted:
            raise ToolFailure(f"{self.driver} exited 0 without emitting {self.emit}: {tail(run.stderr)}")
        findings = parse_rustc_json(run.stderr, path, self.tool)
        check_error_found(
            run, 1, findings, f"{self.driver} failed without an error about the file", run.stderr
        )
        return [f for f in findings if kept(f, self.keep)]


def rustc_lints() -> RustAnalyzer:
    return RustAnalyzer(emit="mir")


def clippy_lints() -> RustAnalyzer:
    return RustAnalyzer(
        name="clippy", tool="clippy", driver="clippy-driver", lints=CLIPPY_EXTRA, keep=("clippy::",)
    )


def clippy_security() -> RustAnalyzer:
    return RustAnalyzer(
        name="clippy-security", tool="clippy", driver="clippy-driver", lints=SECURITY_LINTS,
        security=True, keep=SECURITY_LINTS,
    )  # fmt: skip
