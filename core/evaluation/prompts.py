"""What the model is asked for each benchmark (the system prompt comes from assets/prompts)."""

from __future__ import annotations

from collections.abc import Sequence


def humaneval_prompt(source: str) -> str:
    # The model sees the signature and docstring and answers with the whole function: the form an
    # instruct model answers in, and the form the analyzers can check on its own.
    return (
        "Complete the following Python function. Answer with the whole function, including the "
        "imports it needs, in one ```python code block.\n\n"
        f"```python\n{source.rstrip()}\n```"
    )


def humaneval_answer_start(source: str) -> str:
    # The answer the prompt asks for begins with the task's own code (HumanEval's original form: the
    # model completes the prompt). A backend that can continue an answer reads it as prompt, in one
    # batched pass, instead of the model restating the signature and docstring token by token.
    return f"```python\n{source}"


# Where an answer that is one function ends and the model's demonstration of it begins: a top-level
# print, assert or main guard, or a comment announcing test cases or example usage. The 0.5B model
# appended one to 76 of its 164 HumanEval first attempts, a quarter of their tokens, and a demonstration
# that calls a wrong name fails the task when the tests load the answer. Code-completion harnesses stop
# at the same kind of line; they also stop at any top-level "def" or "#", which would cut helper
# functions the answer needs.
FUNCTION_ANSWER_STOPS = (
    "\nprint(",
    "\nif __name__",
    "\nassert ",
    "\n# Test",
    "\n# test",
    "\n# Example",
    "\n# example",
    "\n# Check",
)


def answer_stops(benchmark: str) -> tuple[str, ...]:
    """Where the benchmark's answers end (``GenParams.stop``): those asking for one function only."""
    return FUNCTION_ANSWER_STOPS if benchmark in ("humaneval", "mbpp") else ()


def mbpp_prompt(text: str, tests: Sequence[str]) -> str:
    # As in the MBPP paper and its successors: the task text plus the first test, which fixes the
    # function's name and signature; the other tests stay hidden.
    return f"{text.strip()}\nYour code should pass this test:\n\n{tests[0].strip()}"


def cyberseceval_prompt(text: str) -> str:
    return text.strip()


def build_prompt(benchmark: str, source: str, tests: Sequence[str] = ()) -> str:
    if benchmark == "humaneval":
        return humaneval_prompt(source)
    if benchmark == "mbpp":
        return mbpp_prompt(source, tests)
    if benchmark == "cyberseceval":
        return cyberseceval_prompt(source)
    raise ValueError(f"no prompt builder for benchmark {benchmark!r}")
