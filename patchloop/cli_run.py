"""`patchloop run` (a prompt through the patch loop) and `patchloop fix` (the deterministic rewrites on
files, no model).

Exit codes follow patchloop.cli_common; cli.py adds both commands to the root command.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.core.languages import ANALYZED
from patchloop.core.log import LogError
from patchloop.core.types import Analysis

RUN_EXIT = {
    "clean": common.EXIT_OK,
    "t_max": common.EXIT_FINDINGS,
    "repeated": common.EXIT_FINDINGS,
    "no_code": common.EXIT_MODEL,
    "model_error": common.EXIT_MODEL,
    "analyzer_error": common.EXIT_ANALYZER,
    "cancelled": common.EXIT_CANCELLED,
}


@click.command()
@click.argument("prompt", required=False)
@click.option(
    "--file", "-f", "prompt_file", type=click.File("rb"), help="Read the prompt from a file ('-' for stdin)."
)
@common.model_options
@common.loop_options
@click.option(
    "--language",
    "-l",
    type=click.Choice(["auto", *ANALYZED]),
    help="Language to write and analyze in (default auto: the one the prompt names, else the "
    "answer's code fence, else python).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole run as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No streaming progress on stderr.")
@click.pass_context
def run(ctx: click.Context, prompt: str | None, prompt_file, as_json: bool, quiet: bool, **opts) -> None:
    """Generate code for PROMPT, analyze it, and patch until clean or --t-max.

    Progress streams to stderr; the best iteration's code goes to stdout (or the whole run with --json).
    """
    from patchloop.core.languages import solution_file
    from patchloop.core.loop import run_loop
    from patchloop.core.loop_driver import validate_prompt
    from patchloop.core.loop_events import (
        CandidatesStarted,
        IterationFinished,
        IterationStarted,
        TokenReceived,
    )
    from patchloop.output import iteration_summary

    config = common.apply_cli(common.get_config(ctx), **opts)
    text = prompt
    if prompt_file is not None:
        limit = 400_000  # validate_prompt's 100,000 characters in the widest UTF-8
        data = prompt_file.read(limit + 1)
        if len(data) > limit:
            common.fail(f"the prompt file {prompt_file.name} is over {limit:,} bytes", common.EXIT_USAGE)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            common.fail(
                f"the prompt file {prompt_file.name} is not UTF-8 text (byte {exc.start})", common.EXIT_USAGE
            )
    if text is None:
        common.fail("give a PROMPT argument or --file", common.EXIT_USAGE)
    try:
        text = validate_prompt(text)
    except ValueError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    log = common.open_log(config)
    settings = common.loop_settings(config)
    if settings.prewarm:  # the tools start while the model loads and writes its first answer
        from patchloop.core.analyzers import start_tools
        from patchloop.core.loop_settings import resolve_language

        start_tools(settings.analyzers, resolve_language(settings, text)[0].language)
    backend = common.load_model(config, quiet)
    live = not quiet and common.err.is_terminal

    seen: dict = {}  # the run, for what to print should the log fail in the middle of it

    def on_event(event) -> None:
        seen.setdefault("run", getattr(event, "run", None))
        if quiet:
            return
        if isinstance(event, IterationStarted):
            label = "first attempt" if event.index == 0 else "repair"
            common.err.rule(f"v{event.index} · {label}")
        elif isinstance(event, CandidatesStarted):
            common.err.print(f"  sampling {event.count} candidate repairs", markup=False)
        elif isinstance(event, TokenReceived) and live:
            common.err.print(event.text, end="", style="dim", markup=False, highlight=False)
        elif isinstance(event, IterationFinished):
            if live:
                common.err.print()
            common.err.print(iteration_summary(event.iteration, settings.threshold), markup=False)
            for f in event.iteration.flagged(settings.threshold):
                common.err.print(
                    f"  {solution_file(event.run.language)}:{f.line}: {f.severity} {f.tool}:{f.rule_id} "
                    f"{f.message}",
                    markup=False,
                )

    cancel = threading.Event()
    try:
        result = run_loop(
            text, backend, settings, log=log, on_event=on_event, cancel=cancel, adapter=config.model.adapter
        )
    except LogError as exc:
        # The iterations finished so far are still the answer: print them, then say the log failed.
        partial = seen.get("run")
        done = partial.best if partial is not None else None
        if as_json and partial is not None:
            click.echo(json.dumps(partial.to_dict(), indent=2))
        elif done is not None and done.code:
            click.echo(done.code, nl=False)
        kept = f"; the code of v{done.index} was printed but the run is not fully logged" if done else ""
        common.fail(f"{exc}{kept}", common.EXIT_LOG)
    best = result.best
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif best is not None and best.code:
        click.echo(best.code, nl=False)
    if not quiet:
        last = result.last
        common.err.print(
            f"stop: {result.stop_reason} · run {result.id} in {log.path}"
            + (f" · best v{best.index}" if best else "")
            + (f" · last v{last.index}" if last else "")
        )
        if result.error:
            common.err.print(f"[red]{result.error}[/]")
    code = RUN_EXIT[result.stop_reason or "model_error"]
    if code in (common.EXIT_OK, common.EXIT_FINDINGS):
        # What matters to a script is whether the answer it got (the best iteration) is clean.
        code = (
            common.EXIT_OK if best is not None and best.is_clean(settings.threshold) else common.EXIT_FINDINGS
        )
    sys.exit(code)


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@common.analyzers_option()
@common.threshold_option(help="Lowest severity that counts.")
@common.skip_option()
@click.option("--diff", "show_diff", is_flag=True, help="Print the changes as a unified diff; write no file.")
@click.option(
    "--task",
    default="",
    help="What the code is for: some rewrites depend on it (a digest the task asks for).",
)
@click.option("--json", "as_json", is_flag=True, help="What was fixed and what remains, as JSON.")
@click.pass_context
def fix(
    ctx: click.Context, files: tuple[Path, ...], show_diff: bool, task: str, as_json: bool, **opts
) -> None:
    """Apply patchloop's deterministic fixes to FILES in place, like `ruff check --fix`.

    Only flagged code is rewritten (clean files stay byte-identical), and a rewrite is kept only if
    the file still parses and the analyzers flag no more than before. Exit 0 when nothing at or
    above the threshold remains, 1 when something does, 4 when an analyzer failed.
    """
    from patchloop.core.analyzers import analyze_code, language_of
    from patchloop.core.autofix import fix_until_stable
    from patchloop.output import code_diff

    config = common.apply_cli(common.get_config(ctx), **opts)
    threshold, suite = config.loop.threshold, config.loop.analyzers
    report, remaining, errors = {}, 0, False
    for path in files:
        code = common.read_checked(path)
        language = language_of(path)

        def analyze(text: str, language: str = language) -> Analysis:
            return analyze_code(
                text, suite, language=language, skip=config.loop.skip, timeout=config.loop.analyzer_timeout
            )

        before = analyze(code)
        outcome = fix_until_stable(code, before, analyze, task=task, language=language, threshold=threshold)
        after = outcome.analysis
        errors = errors or bool(after.errors)
        left = after.flagged(threshold)
        remaining += len(left)
        if outcome.code != code:
            if show_diff:
                click.echo(code_diff(code, outcome.code, old=f"a/{path}", new=f"b/{path}"), nl=False)
            else:
                path.write_text(outcome.code, encoding="utf-8")
        report[str(path)] = {
            "fixed": [a.to_dict() for a in outcome.applied],
            "before": len(before.flagged(threshold)),
            "remaining": [f.to_dict() for f in left],
            "errors": after.errors,
            "changed": outcome.code != code,
        }
        if not as_json:
            for a in outcome.applied:
                common.err.print(
                    f"{path}:{a.line}: fixed {a.rule}: {a.description}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            for f in left:
                common.err.print(
                    f"{path}:{f.line}:{f.column}: {f.rule_id} {f.message}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            for error in after.errors:
                common.err.print(
                    f"{path}: analyzer error: {error}", markup=False, highlight=False, soft_wrap=True
                )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        fixed = sum(len(r["fixed"]) for r in report.values())
        verb = "would fix" if show_diff else "fixed"
        common.err.print(f"{verb} {fixed} finding(s); {remaining} remaining", highlight=False)
    if errors:
        sys.exit(common.EXIT_ANALYZER)
    sys.exit(common.EXIT_FINDINGS if remaining else common.EXIT_OK)
