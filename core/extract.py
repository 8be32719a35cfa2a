"""Pull the code out of a model's answer."""

from __future__ import annotations

import re

from .languages import normalise_language

# A fenced block: ```lang\n ... ```; the closing fence may be missing when generation was cut off.
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)


def extract_code(response: str, language: str = "python") -> str | None:
    """Return the code block that answers the request, or None when the answer has no code.

    Prefers blocks tagged with ``language``; among those (or among untagged ones) the longest,
    because models often add a short usage example after the solution. Answers without any fence
    are treated as "no code": guessing which prose lines are code would feed garbage to the
    analyzers and mislabel preference pairs.
    """
    blocks = [(normalise_language(m.group(1)), m.group(2)) for m in _FENCE.finditer(response)]
    blocks = [(tag, body.strip("\n")) for tag, body in blocks if body.strip()]
    if not blocks:
        return None
    wanted = normalise_language(language)
    tagged = [body for tag, body in blocks if tag == wanted]
    untagged = [body for tag, body in blocks if not tag]
    candidates = tagged or untagged or [body for _, body in blocks]
    return max(candidates, key=len) + "\n"


def fence_language(response: str) -> str | None:
    """The language the answer's code is tagged with: the tag of its longest tagged block
    ("```js" -> "javascript"); None when no block carries a tag."""
    blocks = [(normalise_language(m.group(1)), m.group(2)) for m in _FENCE.finditer(response)]
    tagged = [(len(body.strip()), tag) for tag, body in blocks if tag and body.strip()]
    return max(tagged)[1] if tagged else None


def partial_code(streamed: str) -> str | None:
    """Code seen so far while an answer is still streaming (for live re-analysis)."""
    match = re.search(r"```[^\n]*\n(.*)", streamed, re.DOTALL)
    if not match:
        return None
    body = match.group(1).split("\n```", 1)[0]
    return body if body.strip() else None


def is_cut_off(response: str) -> bool:
    """True when the answer's last code fence is never closed: generation stopped inside the code."""
    return response.count("```") % 2 == 1
