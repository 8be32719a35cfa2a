"""Renders a model's own Jinja chat template (the one a GGUF carries in tokenizer.chat_template).

The environment mirrors what transformers' ``apply_chat_template`` sets up (sandboxed, trim_blocks,
lstrip_blocks, loop controls, ``raise_exception``, a ``tojson`` that keeps non-ASCII text and
``strftime_now``), so a GGUF model sees the same prompt text on the llama.cpp engine as on the
transformers engine. llama.cpp's own C template code only knows templates it recognises by
heuristics and drops parts of them (Qwen's default system turn, for one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..types import Message
from .base import ModelError


def _raise_exception(message: str) -> None:
    raise ModelError(f"The model's chat template rejected the conversation: {message}")


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


@lru_cache(maxsize=8)
def _compile(source: str):
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except Exception as exc:  # a broken template is a model problem, said once
        raise ModelError(f"The model's chat template does not compile: {exc}") from exc


def render(
    source: str,
    messages: Sequence[Message],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for ``messages``, ready for the assistant's answer."""
    template = _compile(source)
    try:
        return template.render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except ModelError:
        raise
    except Exception as exc:  # undefined variables, type errors inside the template ...
        raise ModelError(f"The model's chat template rejected the conversation: {exc}") from exc
