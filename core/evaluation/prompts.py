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
