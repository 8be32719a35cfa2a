"""The pieces of one repair step, shared by the streaming and the batched loop.

After a flagged answer, cheapest first:

1. ``autofix_iteration``: patchloop's deterministic rewrites (``core.autofix``); kept only when the
   code still parses and tests that passed still pass. No model call.
2. ``request_messages``: a fresh repair request (task, current code, each finding framed with a
   hint) or, with ``feedback = "chat"``, the paper's wording appended to the last exchange.
3. ``needs_candidates`` / ``candidate_params`` / ``choose``: when the greedy answer repeats code
   already tried or does not lower the findings, N answers are sampled in one batch at rising
   temperatures, each analyzed and tested, and ranked: tests passed (where known), then fewest
   findings at or above the threshold, then closeness to the code being repaired. The best one
   becomes the iteration; every candidate is kept on it for the log (preference pairs for free).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .analyzers.merge import problem_class
from .autofix import fix_until_stable
from .extract import extract_code, is_cut_off
from .feedback import patch_messages, render_feedback, repair_messages
from .types import (
    Analysis,
    Candidate,
    Finding,
    GenParams,
    GenStats,
    Iteration,
    Message,
    Run,
    StopReason,
    in_another_language,
)

AnalyzeFn = Callable[[str], Analysis]
TestsFn = Callable[[str], bool]


def check_code(
    it: Iteration | Candidate,
    analyze: AnalyzeFn,
    tests: TestsFn | None,
    language: str,
    token_limit: int | None = None,
) -> float:
    """Extract the code of ``it.response`` (when not set yet), analyze and test it; return the
    analysis seconds. Code that is None (no block) is neither analyzed nor tested."""
    if it.code is None and it.response:
        it.code = extract_code(it.response, language)
    if it.code is None:
        return 0.0
    started = time.monotonic()
    analysis = analyze(it.code)
    seconds = time.monotonic() - started
    it.findings, it.analyzer_errors = analysis.findings, analysis.errors
    cut = cut_off_finding(it, token_limit)
    if cut is not None:
        it.findings = [*it.findings, cut]
    run_tests(it, tests)
    return seconds


def cut_off_finding(it: Iteration | Candidate, token_limit: int | None) -> Finding | None:
    """A ``cut-off`` error when an answer that does not parse ended inside its code block at the
    token limit: the syntax error is the limit's doing, and the fix is a shorter answer, which
    the hint says. Code that parses gets none, so the analyzers alone decide what is flagged."""
    if not token_limit or it.completion_tokens < token_limit or not is_cut_off(it.response or ""):
        return None
    if not any(problem_class(key) == "syntax-error" for f in it.findings for key in (f.key, *f.also)):
        return None
    last = len((it.code or "").splitlines()) or 1
    return Finding(
        "patchloop",
        "cut-off",
        "error",
        f"the answer stopped at the token limit ({token_limit} tokens) in the middle of the code",
        last,
    )


def run_tests(it: Iteration | Candidate, tests: TestsFn | None) -> None:
    """Set ``it.tests_passed`` from the sandboxed tests, where there are any."""
    if tests is None or it.code is None:
        return
    try:
        it.tests_passed = bool(tests(it.code))
    except Exception:  # noqa: BLE001 - a sandbox failure is a failed test, never a crashed run
        it.tests_passed = False


def stop_reason(it: Iteration, threshold: str) -> StopReason | None:
    """Why a run ends at this iteration, whatever the budget: no code, an analyzer error, clean."""
    if it.code is None:
        return "no_code"
    if it.analyzer_errors:
        return "analyzer_error"
    if it.is_clean(threshold):
        return "clean"
    return None


def autofix_iteration(
    run: Run, base: Iteration, analyze: AnalyzeFn, tests: TestsFn | None, *, language: str, threshold: str
) -> Iteration | None:
    """The next iteration made by deterministic rewrites of ``base``, or None when no rewrite
    applies, the rewritten code is not better, or it breaks tests that passed."""
    started = time.monotonic()
    seconds = [0.0]

    def timed_analyze(code: str) -> Analysis:
        begun = time.monotonic()
        try:
            return analyze(code)
        finally:
            seconds[0] += time.monotonic() - begun

    base_analysis = Analysis(findings=base.findings, results=[])
    outcome = fix_until_stable(
        base.code or "", base_analysis, timed_analyze, task=run.prompt, language=language, threshold=threshold
    )
    if not outcome.passes or outcome.code == base.code:
        return None
    it = Iteration(
        index=len(run.iterations),
        prompt=[],
        response=f"```{language}\n{outcome.code}```",
        code=outcome.code,
        origin="autofix",
        fixes=[a.to_dict() for a in outcome.applied],
        findings=outcome.analysis.findings,
        analyzer_errors=outcome.analysis.errors,
    )
    run_tests(it, tests)
    it.analysis_seconds = seconds[0]
    it.gen_seconds = time.monotonic() - started - seconds[0]
    if base.tests_passed and it.tests_passed is False:
        return None  # a rewrite that breaks the code is no fix
    if it.analyzer_errors and not base.analyzer_errors:
        return None
    if len(it.flagged(threshold)) > len(base.flagged(threshold)):
        return None
    return it


def request_messages(
    run: Run,
    base: Iteration,
    first: list[Message],
    *,
    feedback: str,
    language: str,
    threshold: str,
    prompts_dir: str | None,
) -> list[Message]:
    """The conversation that asks the model to repair ``base``."""
    code = base.code or ""
    if feedback == "chat":
        text = render_feedback(
            code, base.findings, threshold=threshold, language=language, prompts_dir=prompts_dir
        )
        return patch_messages(first, base.response, text)
    return repair_messages(
        run.prompt, code, base.findings, threshold=threshold, language=language, prompts_dir=prompts_dir
    )


def tried_codes(run: Run, exclude: Iteration | None = None) -> set[str]:
    """The code of every iteration so far (``exclude``: the answer being judged, which a live
    view may already show in the run)."""
    return {it.code for it in run.iterations if it.code is not None and it is not exclude}


def needs_candidates(
    run: Run, base: Iteration, answer: Iteration, threshold: str, count: int, exclude: Iteration | None = None
) -> bool:
    """Sample candidates when the greedy answer brings nothing new: code already tried, no code,
    or no fewer findings than the code it repairs."""
    if count <= 0:
        return False
    if answer.error:
        return False
    if answer.code is None or answer.code in tried_codes(run, exclude):
        return True
    if answer.analyzer_errors:
        return True
    return len(answer.flagged(threshold)) >= len(base.flagged(threshold))


def candidate_params(gen: GenParams, count: int, index: int, low: float, high: float) -> list[GenParams]:
    """``count`` sampling settings at temperatures rising from ``low`` to ``high``, each with its
    own seed (derived from the run's seed, or 0, and the iteration index: reproducible, and a
    repeated step draws new answers)."""
    base_seed = 0 if gen.seed is None else gen.seed
    params = []
    for k in range(1, count + 1):
        temperature = low if count == 1 else low + (high - low) * (k - 1) / (count - 1)
        params.append(
            replace(
                gen,
                temperature=round(temperature, 3),
                top_p=gen.top_p if gen.top_p < 1 else 0.95,
                seed=base_seed + 1000 * index + k,
            )
        )
    return params


def closeness(a: str | None, b: str | None) -> float:
    if a is None or b is None:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# What an answer is and what its check found: the same fields on an Iteration and a Candidate, which
# as_candidate and choose carry from one to the other.
_CHECKED_ANSWER = ("response", "code", "findings", "analyzer_errors", "tests_passed")


def _checked_answer(source: Iteration | Candidate) -> dict[str, Any]:
    return {name: getattr(source, name) for name in _CHECKED_ANSWER}


def as_candidate(answer: Iteration, k: int, n: int, params: GenParams) -> Candidate:
    return Candidate(
        k=k,
        n=n,
        temperature=params.temperature,
        seed=params.seed,
        **_checked_answer(answer),
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
    )


def new_candidate(
    text: str, stats: GenStats, k: int, n: int, params: GenParams, request: str = "repair"
) -> Candidate:
    return Candidate(
        k=k,
        n=n,
        temperature=params.temperature,
        seed=params.seed,
        response=text,
        code=None,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        request=request,
    )


def candidate_request(k: int) -> str:
    """Odd candidates answer the repair request, even ones a rewrite request that does not show
    the code (nothing to copy): the pool then holds both edits and fresh answers."""
    return "rewrite" if k % 2 == 0 else "repair"


def rank_key(candidate: Candidate, threshold: str) -> tuple:
    """Higher is better: code and a verdict first, tests, then fewest findings, then closeness."""
    return (
        candidate.code is not None,
        not candidate.analyzer_errors and not in_another_language(candidate.findings),
        candidate.tests_passed is not False,
        -len(candidate.flagged(threshold)),
        candidate.closeness,
        -candidate.k,  # on a full tie the greedy answer, then the cooler sample
    )


def choose(
    run: Run,
    base: Iteration,
    pool: list[Candidate],
    prompt: list[Message],
    *,
    threshold: str,
    index: int,
    exclude: Iteration | None = None,
) -> Iteration | None:
    """The iteration made of the best candidate that is not code already tried; None when every
    candidate repeats (the run then stops as ``repeated``)."""
    tried = tried_codes(run, exclude)
    for candidate in pool:
        candidate.closeness = closeness(candidate.code, base.code)
    fresh = [c for c in pool if c.code is not None and c.code not in tried]
    if not fresh:
        return None
    best = max(fresh, key=lambda c: rank_key(c, threshold))
    best.chosen = True
    return Iteration(
        index=index,
        prompt=prompt,
        **_checked_answer(best),
        prompt_tokens=sum(c.prompt_tokens for c in pool),
        completion_tokens=sum(c.completion_tokens for c in pool),
        origin="model" if best.k == 0 else "candidate",
        candidate=best.k,
        candidates=pool,
    )


def repair_base(run: Run) -> Iteration:
    """The iteration the next repair starts from: the best so far (a worse patch is not built on)."""
    best = run.best
    return best if best is not None else run.iterations[-1]
