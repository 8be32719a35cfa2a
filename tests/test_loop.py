"""The loop's control flow: every stop reason, the best iteration, feedback wording, logging as it goes."""

from __future__ import annotations

import threading

import pytest
from doubles import ScriptedBackend, a_run, fake_analyze
from patchloop.core.backends.base import ModelError
from patchloop.core.log import Log
from patchloop.core.loop import run_loop
from patchloop.core.loop_batch import LoopTask, run_loops
from patchloop.core.loop_events import IterationFinished, RunFinished, TokenReceived
from patchloop.core.loop_settings import LoopSettings
from patchloop.core.types import Analysis, AnalyzerResult, Finding, Iteration

BAD = "```python\ndef f(x):\n    return eval(x)\n```"
WORSE = "```python\ndef f(x):\n    y = 1\n    return eval(x)\n```"
GOOD = "Here you go:\n```python\ndef f(x):\n    return int(x)\n```\nDone."


def crashing_analyze(code: str) -> Analysis:
    return Analysis(results=[AnalyzerResult("pylint", [], error="exited with code 32")])


@pytest.fixture
def log(tmp_path):
    store = Log(tmp_path / "log.db")
    yield store
    store.close()


def settings(**kw) -> LoopSettings:
    """The paper's plain loop (chat-style feedback, no autofix, no candidates) unless asked for."""
    return LoopSettings(**{"t_max": 3, "autofix": False, "feedback": "chat", "candidates": 0, **kw})


def test_clean_after_one_patch_logs_every_iteration(log):
    backend = ScriptedBackend([BAD, GOOD])
    run = run_loop("parse x", backend, settings(), log=log, analyze=fake_analyze)
    assert run.stop_reason == "clean"
    assert [len(it.findings) for it in run.iterations] == [1, 0]
    assert run.best_index == 1
    rows = list(log.db["iterations"].rows_where("run_id = ?", [run.id], order_by="idx"))
    assert [r["n_findings"] for r in rows] == [1, 0]
    assert log.db["findings"].count == 1
    assert log.db["runs"].get(run.id)["stop_reason"] == "clean"


def test_feedback_prompt_uses_the_papers_wording_and_only_flagged_findings():
    backend = ScriptedBackend([WORSE, GOOD])
    run_loop("parse x", backend, settings(threshold="error"), analyze=fake_analyze)
    feedback = backend.calls[1][-1]["content"]
    assert "Total warnings: 1. Warnings:" in feedback
    assert "Use of possibly insecure function eval [B307] at solution.py:3" in feedback
    assert "F841" not in feedback  # a warning is below the "error" threshold
    assert backend.calls[1][-2] == {"role": "assistant", "content": WORSE}
    assert backend.calls[1][1]["content"] == "parse x"


def test_t_max_stop_and_best_is_fewest_findings_last_on_ties():
    bad_again = BAD.replace("f(x)", "g(x)")
    backend = ScriptedBackend([WORSE, BAD, WORSE.replace("f(x)", "h(x)"), bad_again])
    run = run_loop("parse x", backend, settings(t_max=3), analyze=fake_analyze)
    assert run.stop_reason == "t_max"
    assert len(run.iterations) == 4
    assert run.best_index == 3  # v1 and v3 tie at one finding: the last wins


def test_a_repeat_at_greedy_decoding_stops_the_run_and_is_not_recorded(log):
    # The next patch request would be the last one again, and greedy decoding would answer it the
    # same way up to t_max: stop at the first repeat, and never log the repeat as a new iteration.
    run = run_loop(
        "parse x", ScriptedBackend([BAD, BAD, BAD, BAD]), settings(t_max=3), analyze=fake_analyze, log=log
    )
    assert run.stop_reason == "repeated" and len(run.iterations) == 1
    assert log.load_run(run.id).stop_reason == "repeated" and log.db["iterations"].count == 1
    # The same code in other words is the same code: still a repeat.
    reworded = "Fixed:\n" + BAD
    run = run_loop(
        "parse x", ScriptedBackend([BAD, reworded, reworded]), settings(t_max=3), analyze=fake_analyze
    )
    assert run.stop_reason == "repeated" and len(run.iterations) == 1
    # Code tried two steps back is a repeat too (no cycles).
    run = run_loop("parse x", ScriptedBackend([BAD, WORSE, BAD]), settings(t_max=3), analyze=fake_analyze)
    assert run.stop_reason == "repeated" and len(run.iterations) == 2


def test_repeats_go_on_when_sampling():
    from patchloop.core.types import GenParams

    sampled = settings(t_max=3, gen=GenParams(temperature=0.7, seed=1))
    run = run_loop("parse x", ScriptedBackend([BAD, BAD, BAD, GOOD]), sampled, analyze=fake_analyze)
    assert run.stop_reason == "clean" and len(run.iterations) == 2  # the repeats were not recorded


def test_each_sampled_iteration_draws_with_its_own_seed():
    from patchloop.core.types import GenParams

    # One seed for all would make a repeated patch request a fixed point even when sampling.
    backend = ScriptedBackend([BAD])
    run_loop(
        "parse x", backend, settings(t_max=2, gen=GenParams(temperature=0.8, seed=5)), analyze=fake_analyze
    )
    assert [p.seed for p in backend.params] == [5, 6, 7]
    backend = ScriptedBackend([BAD, WORSE, BAD])
    run_loops(
        [LoopTask("parse x")],
        backend,
        settings(t_max=2, gen=GenParams(temperature=0.8, seed=5)),
        analyze=fake_analyze,
    )
    assert [p.seed for p in backend.params] == [5, 6, 7]
    backend = ScriptedBackend([BAD, WORSE, BAD])
    run_loop("parse x", backend, settings(t_max=2, gen=GenParams(seed=5)), analyze=fake_analyze)
    assert [p.seed for p in backend.params] == [5, 5, 5]  # greedy: the seed plays no part


def test_t_max_zero_is_first_attempt_only():
    run = run_loop("parse x", ScriptedBackend([BAD]), settings(t_max=0), analyze=fake_analyze)
    assert run.stop_reason == "t_max" and len(run.iterations) == 1


def test_no_code_stops_and_is_logged(log):
    run = run_loop(
        "parse x", ScriptedBackend(["I cannot help with that."]), settings(), log=log, analyze=fake_analyze
    )
    assert run.stop_reason == "no_code"
    assert run.iterations[0].code is None
    assert run.best_index is None
    assert log.db["iterations"].count == 1


def test_model_error_is_recorded(log):
    run = run_loop(
        "x", ScriptedBackend([BAD, ModelError("out of memory")]), settings(), log=log, analyze=fake_analyze
    )
    assert run.stop_reason == "model_error"
    assert "out of memory" in run.error
    assert run.best_index == 0
    assert log.db["runs"].get(run.id)["error"] == "out of memory"


def test_analyzer_crash_is_an_error_never_clean():
    run = run_loop("x", ScriptedBackend([GOOD]), settings(), analyze=crashing_analyze)
    assert run.stop_reason == "analyzer_error"
    assert not run.iterations[0].is_clean("note")
    assert run.iterations[0].analyzer_errors == ["pylint: exited with code 32"]


def test_cancel_mid_stream_keeps_finished_iterations(log):
    cancel = threading.Event()
    backend = ScriptedBackend([BAD, GOOD * 50], delay=0.001, piece=2)

    def on_event(event):
        if isinstance(event, TokenReceived) and event.index == 1 and len(event.so_far) > 20:
            cancel.set()

    run = run_loop("x", backend, settings(), log=log, analyze=fake_analyze, on_event=on_event, cancel=cancel)
    assert run.stop_reason == "cancelled"
    assert run.iterations[0].code is not None and run.iterations[1].error == "cancelled"
    assert log.db["runs"].get(run.id)["stop_reason"] == "cancelled"
    assert log.db["iterations"].count == 2


def test_keyboard_interrupt_is_a_clean_cancel(log):
    class InterruptingBackend(ScriptedBackend):
        def generate(self, messages, params, cancel=None, stats=None):
            yield "```python\n"
            raise KeyboardInterrupt

    run = run_loop("x", InterruptingBackend([""]), settings(), log=log, analyze=fake_analyze)
    assert run.stop_reason == "cancelled"
    assert log.db["runs"].get(run.id)["stop_reason"] == "cancelled"


def test_failing_tests_rank_below_passing_ones():
    # v0 is clean but fails its tests; v1 has a finding but passes: the answer is v1.
    backend = ScriptedBackend([GOOD, BAD])
    run = run_loop(
        "x", backend, settings(t_max=1), analyze=lambda code: Analysis(), tests=lambda code: "eval" in code
    )
    assert run.stop_reason == "clean"  # clean stops the loop at v0 ...
    assert run.best_index == 0  # ... and the only iteration is the answer
    run = run_loop(
        "x",
        ScriptedBackend([BAD, WORSE]),
        settings(t_max=1),
        analyze=fake_analyze,
        tests=lambda code: "y = 1" not in code,
    )
    assert run.best_index == 0  # v1 fails its tests, so the flagged-but-passing v0 wins


def test_empty_and_huge_prompts_are_rejected_before_anything_runs(log):
    backend = ScriptedBackend([GOOD])
    with pytest.raises(ValueError, match="empty"):
        run_loop("   ", backend, log=log)
    with pytest.raises(ValueError, match="limit"):
        run_loop("x" * 200_001, backend, log=log)
    assert backend.calls == [] and log.db["runs"].count == 0


def test_events_arrive_in_order():
    events = []
    run_loop("x", ScriptedBackend([BAD, GOOD]), settings(), analyze=fake_analyze, on_event=events.append)
    kinds = [type(e).__name__ for e in events if not isinstance(e, TokenReceived)]
    assert kinds == ["IterationStarted", "AnalysisStarted", "IterationFinished"] * 2 + ["RunFinished"]
    assert isinstance(events[-1], RunFinished)
    assert "".join(e.text for e in events if isinstance(e, TokenReceived) and e.index == 0) == BAD


def test_batched_loops_move_each_prompt_independently(log):
    class PerPromptBackend(ScriptedBackend):
        """Answers by prompt: 'a' is clean at once, 'b' needs one patch, 'c' never gets clean."""

        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            from patchloop.core.types import GenStats

            out = []
            for messages in conversations:
                task, round_ = messages[1]["content"], (len(messages) - 2) // 2
                text = {"a": GOOD, "b": BAD if round_ == 0 else GOOD, "c": BAD}[task]
                out.append((text, GenStats(prompt_tokens=10, completion_tokens=5)))
            return out

    tasks = [LoopTask("a", "t/a"), LoopTask("b", "t/b"), LoopTask("c", "t/c")]
    finished = []
    runs = run_loops(
        tasks,
        PerPromptBackend([]),
        settings(t_max=2),
        log=log,
        analyze=fake_analyze,
        on_event=lambda e: finished.append(e) if isinstance(e, IterationFinished) else None,
    )
    # 'c' answers the patch request exactly as before: at greedy decoding that is where it stops,
    # and the repeat is not recorded.
    assert [r.stop_reason for r in runs] == ["clean", "clean", "repeated"]
    assert [len(r.iterations) for r in runs] == [1, 2, 1]
    assert len(finished) == 4
    assert [row["task_id"] for row in log.db["runs"].rows] == ["t/a", "t/b", "t/c"]
    assert log.db["iterations"].count == 4


def test_an_answer_start_is_asked_for_only_where_the_backend_continues_answers():
    start = "```python\ndef f():\n"

    class Continuing(ScriptedBackend):
        continues_answers = True

    for backend, continued in ((ScriptedBackend([GOOD]), False), (Continuing([GOOD]), True)):
        (run,) = run_loops(
            [LoopTask("write f", answer_start=start)], backend, settings(t_max=0), analyze=fake_analyze
        )
        asked = backend.calls[0]
        assert [m["role"] for m in asked] == ["system", "user", "assistant"][: 3 if continued else 2]
        assert asked[-1]["content"] == (start if continued else "write f")
        assert run.iterations[0].prompt == asked  # the log keeps what the model was asked, start included


def test_batched_model_error_stops_every_pending_run(log):
    class Broken(ScriptedBackend):
        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            raise ModelError("CUDA out of memory")

    runs = run_loops([LoopTask("a"), LoopTask("b")], Broken([]), settings(), log=log, analyze=fake_analyze)
    assert [r.stop_reason for r in runs] == ["model_error", "model_error"]
    assert all("CUDA" in r.error for r in runs)


# -- the repair step: autofix, fresh requests, candidates ------------------------------------------

UNUSED_IMPORT = "```python\nimport os\n\ndef f(x):\n    return int(x)\n```"


def unused_import_analyze(code: str) -> Analysis:
    findings = [
        Finding("ruff", "F401", "note", "`os` imported but unused", n)
        for n, line in enumerate(code.splitlines(), 1)
        if line == "import os"
    ]
    return Analysis(findings=findings, results=[AnalyzerResult("fake", findings)])


def test_autofix_repairs_without_the_model_and_is_marked(log):
    backend = ScriptedBackend([UNUSED_IMPORT])
    run = run_loop("parse x", backend, settings(autofix=True), analyze=unused_import_analyze, log=log)
    assert run.stop_reason == "clean" and len(backend.calls) == 1  # only v0 was generated
    fixed = run.iterations[1]
    assert fixed.origin == "autofix" and fixed.code == "def f(x):\n    return int(x)\n"
    assert fixed.completion_tokens == 0 and fixed.fixes[0]["rule"] == "ruff:F401"
    stored = log.load_run(run.id).iterations[1]
    assert stored.origin == "autofix" and stored.fixes == fixed.fixes


def test_autofix_that_breaks_passing_tests_is_dropped():
    backend = ScriptedBackend([UNUSED_IMPORT, GOOD])
    run = run_loop(
        "parse x",
        backend,
        settings(autofix=True, t_max=1),
        analyze=unused_import_analyze,
        tests=lambda code: "import os" in code,
    )
    assert [it.origin for it in run.iterations] == ["model", "model"]  # the rewrite failed the tests


def test_fresh_request_holds_the_task_the_code_a_frame_and_a_hint():
    backend = ScriptedBackend([BAD, GOOD])
    run_loop("parse x", backend, settings(feedback="fresh"), analyze=fake_analyze)
    request = backend.calls[1]
    assert [m["role"] for m in request] == ["system", "user"]  # a new conversation, not the chat
    text = request[1]["content"]
    assert "Task:\nparse x" in text and "```python\ndef f(x):\n    return eval(x)\n```" in text
    assert "  > 2 |     return eval(x)" in text  # the offending line, marked
    assert "Fix: Do not use `eval`" in text


class CandidateBackend(ScriptedBackend):
    """Greedy answers from the script; sampled candidates from ``samples`` (by call order)."""

    def __init__(self, responses, samples):
        super().__init__(responses)
        self.samples = list(samples)
        self.batches = []

    def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
        from patchloop.core.types import GenStats

        self.batches.append(list(params) if isinstance(params, list) else params)
        self.conversations = list(conversations)
        return [(self.samples.pop(0), GenStats(prompt_tokens=3, completion_tokens=7)) for _ in conversations]


def test_a_repeat_draws_candidates_and_the_best_becomes_the_iteration(log):
    other_bad = BAD.replace("eval(x)", "eval(x.strip())")
    backend = CandidateBackend([BAD, BAD], [other_bad, GOOD, WORSE, BAD])
    run = run_loop(
        "parse x", backend, settings(candidates=4, feedback="fresh"), analyze=fake_analyze, log=log
    )
    assert run.stop_reason == "clean" and len(run.iterations) == 2
    params = backend.batches[0]
    assert [p.temperature for p in params] == sorted(p.temperature for p in params) and params[
        0
    ].temperature > 0
    assert len({p.seed for p in params}) == 4  # a seed per candidate
    chosen = run.iterations[1]
    assert (
        chosen.origin == "candidate"
        and chosen.candidate == 2
        and chosen.origin_label == "candidate 2/4 rewrite"
    )
    assert [c.k for c in chosen.candidates] == [0, 1, 2, 3, 4] and [
        c.chosen for c in chosen.candidates
    ].count(True) == 1
    assert log.db["candidates"].count == 5
    assert [c.k for c in log.load_run(run.id).iterations[1].candidates if c.chosen] == [2]


def test_even_candidates_answer_a_rewrite_request_that_does_not_show_the_code(log):
    backend = CandidateBackend([BAD, BAD], [BAD, GOOD, BAD, BAD])
    run = run_loop(
        "parse x", backend, settings(candidates=4, feedback="fresh"), analyze=fake_analyze, log=log
    )
    repair, rewrite = backend.conversations[0][1]["content"], backend.conversations[1][1]["content"]
    assert (
        backend.conversations[2] == backend.conversations[0]
        and backend.conversations[3] == backend.conversations[1]
    )
    assert "return eval(x)" in repair  # the repair request shows the code ...
    assert "return eval(x)" not in rewrite and rewrite.startswith(
        "parse x"
    )  # ... the rewrite one only the task
    assert (
        "- Use of possibly insecure function eval [B307]" in rewrite and "Fix: Do not use `eval`" in rewrite
    )  # and the problems to avoid
    chosen = run.iterations[1]
    assert chosen.candidate == 2 and [c.request for c in chosen.candidates] == [
        "repair",
        "repair",
        "rewrite",
        "repair",
        "rewrite",
    ]
    assert [c.request for c in log.load_run(run.id).iterations[1].candidates] == [
        "repair",
        "repair",
        "rewrite",
        "repair",
        "rewrite",
    ]


def test_candidates_rank_tests_then_findings_then_closeness():
    from patchloop.core.repair import rank_key
    from patchloop.core.types import Candidate

    flagged = [Finding("bandit", "B307", "error", "eval", 1)]

    def cand(k, tests, findings, closeness):
        return Candidate(
            k=k,
            n=3,
            temperature=0.5,
            seed=k,
            response="",
            code=f"c{k}",
            findings=findings,
            tests_passed=tests,
            closeness=closeness,
        )

    pool = [
        cand(1, False, [], 0.9),
        cand(2, True, flagged, 0.9),
        cand(3, True, [], 0.2),
        cand(4, True, [], 0.8),
    ]
    assert max(pool, key=lambda c: rank_key(c, "note")).k == 4  # passing, clean, closest
    pool = pool[:2]
    assert (
        max(pool, key=lambda c: rank_key(c, "note")).k == 2
    )  # a passing flagged one beats a failing clean one


def test_every_candidate_repeating_stops_as_repeated_without_a_new_iteration():
    backend = CandidateBackend([BAD, BAD], [BAD, BAD])
    run = run_loop("parse x", backend, settings(candidates=2), analyze=fake_analyze)
    assert run.stop_reason == "repeated" and len(run.iterations) == 1


def test_batched_loops_sample_candidates_for_every_run_in_one_batch():
    class Batched(ScriptedBackend):
        def __init__(self):
            super().__init__([])
            self.calls_batch = []

        def generate_batch(self, conversations, params, cancel=None, *, errors="raise"):
            from patchloop.core.types import GenStats

            self.calls_batch.append((len(conversations), isinstance(params, list)))
            sampled = isinstance(params, list)
            return [((GOOD if sampled else BAD), GenStats()) for _ in conversations]

    backend = Batched()
    runs = run_loops([LoopTask("a"), LoopTask("b")], backend, settings(candidates=3), analyze=fake_analyze)
    assert [r.stop_reason for r in runs] == ["clean", "clean"]
    assert backend.calls_batch == [(2, False), (2, False), (6, True)]  # v0, greedy repairs, 2 x 3 candidates
    assert all(r.iterations[1].origin == "candidate" for r in runs)


def test_a_syntax_error_at_the_token_limit_gets_a_cut_off_finding_with_its_hint():
    from patchloop.core.hints import hint_for, load_hints
    from patchloop.core.repair import check_code

    syntax = Analysis(findings=[Finding("ruff", "invalid-syntax", "error", "unterminated string", 2)])
    cut = "```python\ndef f():\n    return 'abc"

    def answer(response, tokens):
        return Iteration(index=0, prompt=[], response=response, completion_tokens=tokens)

    it = answer(cut, 512)
    check_code(it, lambda code: syntax, None, "python", token_limit=512)
    assert [f.rule_id for f in it.findings] == ["invalid-syntax", "cut-off"]
    assert "512 tokens" in it.findings[1].message and it.findings[1].line == 2
    assert "shorter" in hint_for(it.findings[1], load_hints())
    for response, tokens, analysis in [
        (cut, 300, syntax),  # stopped early, not at the limit: a syntax error of its own
        (cut + "'\n```", 512, syntax),  # the block was closed
        (cut, 512, Analysis()),  # it parses: the analyzers alone decide
    ]:
        it = answer(response, tokens)
        check_code(it, lambda code, a=analysis: a, None, "python", token_limit=512)
        assert "cut-off" not in [f.rule_id for f in it.findings]


def test_an_answer_in_another_language_ranks_below_any_in_the_right_one():
    from patchloop.core.repair import rank_key
    from patchloop.core.types import Candidate

    wrong = [Finding("patchloop", "wrong-language", "error", "this is a shell script, not python code", 1)]
    two = [
        Finding("pyright", "reportUndefinedVariable", "error", '"a" is not defined', 3),
        Finding("pyright", "reportUndefinedVariable", "error", '"b" is not defined', 4),
    ]
    run = a_run(
        iterations=[
            Iteration(index=0, prompt=[], response="", code="#!/bin/sh\n", findings=wrong),
            Iteration(index=1, prompt=[], response="", code="a + b\n", findings=two),
        ],
    )
    assert run.best_index == 1  # the Python with two findings is the one to build on, not the script
    pool = [
        Candidate(
            k=1, n=2, temperature=0.3, seed=1, response="", code="#!/bin/sh\n", findings=wrong, closeness=1.0
        ),
        Candidate(k=2, n=2, temperature=0.6, seed=2, response="", code="a + b\n", findings=two),
    ]
    assert max(pool, key=lambda c: rank_key(c, "note")).k == 2
