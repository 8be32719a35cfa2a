"""`patchloop analyze`: the loop's analyzer suites on existing files, folders or stdin.

PATHS may be files (analyzed whatever their name), folders (walked for files of the languages the
suite has analyzers for, leaving out ``DEFAULT_EXCLUDES``, hidden folders and ``--exclude`` globs)
and ``-`` for stdin (``--language``, reported as ``-`` or ``--stdin-filename``). Every input is
read and checked before any is analyzed, and the verdict is on exactly the text read.

Output (``--format``): ``full`` tables (the default on a terminal), ``concise`` lines like ruff's
(the default otherwise), ``json``, ``sarif`` (``core/sarif.py``) and ``github`` (Actions
annotations). Every format reports the same findings: those at or above the threshold.

Exit codes (as in patchloop.cli_common): 0 nothing at or above the threshold, 1 findings, 2 bad input
(missing path, unreadable or binary file, nothing to analyze, bad option), 4 an analyzer failed.

cli.py adds ``analyze`` to the root command.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.core.types import Analysis

FORMATS = ("full", "concise", "json", "sarif", "github")
# Folders a walk never enters (besides hidden ones): environments, VCS data, caches, build output.
DEFAULT_EXCLUDES = frozenset(
    {".venv", "venv", ".git", "node_modules", "__pycache__", "build", "dist", ".tox", ".mypy_cache"}
)
STDIN = "-"


@dataclass(frozen=True)
class Source:
    """One input: the name it is reported under, its text, its language, and its path (None for stdin)."""

    name: str
    text: str
    language: str
    path: Path | None


@click.command("analyze")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@common.analyzers_option()
@common.threshold_option(help="Lowest severity that is reported and counts.")
@common.skip_option()
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files and folders matching GLOB (name or path) when walking folders; repeatable. "
    ".venv, venv, .git, node_modules, __pycache__, build, dist, .tox, .mypy_cache and hidden "
    "folders are always left out.",
)
@click.option(
    "--language",
    help="Language of the code read from '-' and of the files named (default: from the "
    "file's extension, for '-' from --stdin-filename, else python); walked folders "
    "keep each file's own.",
)
@click.option(
    "--stdin-filename", metavar="NAME", help="Name to report the code read from '-' under (default '-')."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="full: tables (default on a terminal); concise: path:line:col: tool:rule message (default "
    "otherwise); json; sarif (SARIF 2.1.0); github: GitHub Actions annotations.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--sarif", is_flag=True, help="Same as --format sarif (for code-scanning services).")
@click.option("--timeout", type=click.FloatRange(1), help="Seconds each analyzer may take per file.")
@click.pass_context
def analyze(
    ctx: click.Context,
    paths: tuple[Path, ...],
    exclude: tuple[str, ...],
    language: str | None,
    stdin_filename: str | None,
    output_format: str | None,
    as_json: bool,
    sarif: bool,
    timeout: float | None,
    **opts,
) -> None:
    """Analyze FILES, FOLDERS or '-' (stdin) with the same suites the loop uses.

    Exit 0 when nothing at or above the threshold is found, 1 when something is, 2 for bad input,
    4 when an analyzer failed.
    """
    from patchloop.core.analyzers import analyze_code, analyze_file

    output_format = _output_format(output_format, as_json, sarif)
    config = common.apply_cli(common.get_config(ctx), **opts)
    suite, skip, threshold = config.loop.analyzers, config.loop.skip, config.loop.threshold
    timeout = timeout or config.loop.analyzer_timeout
    sources = _read_sources(paths, suite, tuple(exclude), language, stdin_filename)
    results: dict[str, Analysis] = {}
    try:
        for source in sources:
            if source.path is None:
                results[source.name] = analyze_code(
                    source.text,
                    suite,
                    language=source.language,
                    skip=skip,
                    timeout=timeout,
                    filename=_stdin_file(source.language),
                )
            else:
                results[source.name] = analyze_file(
                    source.path, suite, skip=skip, timeout=timeout, code=source.text, language=source.language
                )
    except ValueError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    texts = {s.name: s.text for s in sources}
    _print(output_format, results, texts, threshold, {s.name: s.language for s in sources})
    if any(a.errors for a in results.values()):
        sys.exit(common.EXIT_ANALYZER)
    sys.exit(common.EXIT_FINDINGS if any(a.flagged(threshold) for a in results.values()) else common.EXIT_OK)


def _output_format(chosen: str | None, as_json: bool, sarif: bool) -> str:
    asked = {name for name, on in (("json", as_json), ("sarif", sarif)) if on} | (
        {chosen} if chosen else set()
    )
    if len(asked) > 1:
        common.fail(f"choose one output format, not {' and '.join(sorted(asked))}", common.EXIT_USAGE)
    if asked:
        return asked.pop()
    return "full" if click.get_text_stream("stdout").isatty() else "concise"


# -- inputs --------------------------------------------------------------------------------------


def _read_sources(
    paths: Sequence[Path],
    suite: str,
    exclude: Sequence[str],
    language: str | None,
    stdin_filename: str | None,
) -> list[Source]:
    from patchloop.core.analyzers import get_analyzers, language_of

    handled = {lang for analyzer in get_analyzers(suite) for lang in analyzer.languages}
    if sum(str(p) == STDIN for p in paths) > 1:
        common.fail("'-' (stdin) can be given once", common.EXIT_USAGE)
    files: list[Path] = []
    left_out: Counter[str] = Counter()
    folders: list[Path] = []
    stdin = None
    for path in paths:
        if str(path) == STDIN:
            stdin = _read_stdin(language, stdin_filename)
        elif path.is_dir():
            folders.append(path)
            found, skipped = walk(path, exclude, handled)
            files += found
            left_out.update(skipped)
        elif path.exists():
            files.append(path)  # named explicitly: analyzed whatever its name or suffix
        else:
            common.fail(f"no such file or folder: {path}", common.EXIT_USAGE)
    for lang, count in sorted(left_out.items()):
        common.err.print(
            f"note: left out {count} {lang} file(s): suite {suite!r} has no analyzer for {lang}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    unique = list(dict.fromkeys(files))  # a file named and also found in a folder is analyzed once
    if not unique and stdin is None:
        common.fail(
            f"nothing to analyze in {', '.join(map(str, folders))}: no source files the suite "
            "handles (see --exclude)",
            common.EXIT_USAGE,
        )
    chosen = _known_language(language) if language is not None else None
    sources = [
        Source(
            str(p),
            common.read_checked(p, walked=p not in paths),
            chosen if chosen and p in paths else language_of(p),
            p,
        )
        for p in unique
    ]
    return sources + ([stdin] if stdin else [])


def walk(folder: Path, exclude: Sequence[str], languages: Collection[str]) -> tuple[list[Path], Counter[str]]:
    """The files under ``folder`` in the ``languages``, sorted by path, and how many files of other
    known languages were left out, per language."""
    from patchloop.core.languages import BY_SUFFIX

    found: list[Path] = []
    left_out: Counter[str] = Counter()
    for root, dirs, names in os.walk(folder):  # symlinked folders are not followed: no cycles
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not (d.startswith(".") or d in DEFAULT_EXCLUDES or _excluded(here / d, folder, exclude))
        )
        for name in sorted(names):
            path = here / name
            lang = BY_SUFFIX.get(path.suffix.lower())
            if lang is None or _excluded(path, folder, exclude):
                continue
            if lang in languages:
                found.append(path)
            else:
                left_out[lang] += 1
    return sorted(found, key=lambda p: p.parts), left_out


def _excluded(path: Path, folder: Path, exclude: Sequence[str]) -> bool:
    """Whether a glob matches the name, the path below the walked folder or the path as shown."""
    names = (path.name, path.relative_to(folder).as_posix(), path.as_posix())
    return any(fnmatch.fnmatchcase(name, glob.rstrip("/")) for glob in exclude for name in names)


def _known_language(language: str) -> str:
    """``--language`` normalised ("js" -> "javascript"); an unknown name is bad input (2)."""
    from patchloop.core.languages import ALIASES, BY_SUFFIX, normalise_language

    known = set(BY_SUFFIX.values()) | set(ALIASES.values())
    lang = normalise_language(language)
    if lang not in known:
        common.fail(
            f"unknown language {language!r}; choose one of: {', '.join(sorted(known))}", common.EXIT_USAGE
        )
    return lang


def _read_stdin(language: str | None, stdin_filename: str | None) -> Source:
    from patchloop.core.analyzers import MAX_SOURCE_BYTES
    from patchloop.core.languages import ALIASES, BY_SUFFIX, language_of

    known = set(BY_SUFFIX.values()) | set(ALIASES.values())
    if language is not None:
        lang = _known_language(language)
    elif stdin_filename and language_of(Path(stdin_filename)) in known:
        lang = language_of(Path(stdin_filename))
    else:
        lang = "python"
    data = click.get_binary_stream("stdin").read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        common.fail(
            f"stdin is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MB; analyze smaller files",
            common.EXIT_USAGE,
        )
    if b"\0" in data:
        common.fail("stdin is binary data, not source code", common.EXIT_USAGE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        common.fail(f"stdin is not UTF-8 text (byte {exc.start})", common.EXIT_USAGE)
    return Source(stdin_filename or STDIN, text, lang, None)


def _stdin_file(language: str) -> str:
    """The plain file name code from stdin is analyzed as; only its suffix matters to the tools."""
    from patchloop.core.languages import BY_SUFFIX

    return "stdin" + next((suffix for suffix, lang in BY_SUFFIX.items() if lang == language), "")


# -- outputs -------------------------------------------------------------------------------------


def _print(
    output_format: str,
    results: dict[str, Analysis],
    texts: dict[str, str],
    threshold: str,
    languages: dict[str, str],
) -> None:
    from patchloop.output import concise_line, github_annotation, github_error

    if output_format == "sarif":
        from patchloop.core.sarif import to_sarif

        click.echo(
            json.dumps(to_sarif(results, threshold=threshold, sources=texts, languages=languages), indent=2)
        )
    elif output_format == "json":
        click.echo(
            json.dumps(
                {
                    path: {
                        "findings": [f.to_dict() for f in a.flagged(threshold)],
                        "errors": a.errors,
                        "seconds": round(a.seconds, 3),
                    }
                    for path, a in results.items()
                },
                indent=2,
            )
        )
    elif output_format == "github":
        for path, analysis in results.items():
            for f in analysis.flagged(threshold):
                click.echo(github_annotation(path, f))
            for error in analysis.errors:
                click.echo(github_error(path, error))
    elif output_format == "concise":
        for path, analysis in results.items():
            for f in analysis.flagged(threshold):
                click.echo(concise_line(path, f))
            for error in analysis.errors:
                common.err.print(
                    f"{path}: analyzer error: {error}", markup=False, highlight=False, soft_wrap=True
                )
        found = sum(len(a.flagged(threshold)) for a in results.values())
        common.err.print(
            f"{found} finding(s) at or above {threshold} in {len(results)} file(s)", highlight=False
        )
    else:
        _print_full(results, threshold)


def _print_full(results: dict[str, Analysis], threshold: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from patchloop.output import findings_table

    out = Console(highlight=False)
    for path, analysis in results.items():
        flagged = analysis.flagged(threshold)
        if flagged:
            out.print(findings_table(flagged, title=path, width=out.width))
        else:
            out.print(Text(f"{path}: no findings at or above {threshold}"))
        for error in analysis.errors:
            out.print(Text(f"{path}: analyzer error: {error}", style="red"))
