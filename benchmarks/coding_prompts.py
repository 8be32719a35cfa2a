"""The coding requests the model benchmarks send (bench_model.py, bench_engines.py): eight short,
different Python tasks, the first of which is the single-stream prompt."""

from __future__ import annotations

PROMPTS = [
    "Write a Python function that parses a CSV file of users (name, email, age) and returns the adults.",
    "Write a Python function that returns the n-th Fibonacci number iteratively.",
    "Write a Python class implementing a stack with push, pop and peek.",
    "Write a Python function that checks whether a string is a palindrome, ignoring case and spaces.",
    "Write a Python function that merges two sorted lists into one sorted list.",
    "Write a Python function that counts the words in a text file.",
    "Write a Python function that hashes a password with a random salt using hashlib.",
    "Write a Python function that runs a shell command safely and returns its output.",
]


def messages(prompt: str) -> list[dict[str, str]]:
    """``prompt`` as the one user turn of a conversation."""
    return [{"role": "user", "content": prompt}]
