"""What one run of the loop is set to do: ``LoopSettings`` and where they come from.

``LoopSettings`` is ``config.LoopConfig`` (the ``[loop]`` keys, declared there once) as one run uses
it, plus the generation parameters: a language to write in (``auto`` is the config's, resolved per
prompt by ``resolve_language``), the skip list as a tuple and "no prompts folder" as None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .analyzers import analyze_code
from .config import Config, LoopConfig
from .extract import fence_language
from .languages import ANALYZED, language_in_prompt
from .repair import AnalyzeFn
from .types import Analysis, GenParams


@dataclass
class LoopSettings(LoopConfig):
    """The ``[loop]`` keys as one run uses them, and the generation parameters."""

    # The three keys whose run-time form differs from the file's (each keeps its place among the fields).
    # skip's and prompts_dir's types differ from LoopConfig's on purpose (so the checker's override rule
    # is off for them): nothing takes a LoopSettings where a LoopConfig is wanted.
    language: str = "python"  # or "auto": see resolve_language
    skip: tuple[str, ...] = ()  # pyright: ignore[reportIncompatibleVariableOverride]
    prompts_dir: str | None = None  # pyright: ignore[reportIncompatibleVariableOverride]
    gen: GenParams = field(default_factory=GenParams)


def settings_from_config(config: Config) -> LoopSettings:
    """The loop settings a config (file + CLI overrides) asks for."""
    loop = config.loop
    values = {f.name: getattr(loop, f.name) for f in fields(LoopConfig)}
    values.update(skip=tuple(loop.skip), prompts_dir=loop.prompts_dir or None)
    return LoopSettings(**values, gen=config.gen_params())


def resolve_language(settings: LoopSettings, prompt: str) -> tuple[LoopSettings, bool]:
    """``settings`` with a language to write and analyze in: "auto" becomes the language the prompt
    names ("Write a C function ...", "... in Java"), else Python. The flag is True when the prompt
    named none, so the first answer's code fence tag may still decide it (``fence_switch``)."""
    if settings.language != "auto":
        return settings, False
    named = language_in_prompt(prompt)
    return replace(settings, language=named or "python"), named is None


def fence_switch(settings: LoopSettings, response: str) -> LoopSettings | None:
    """New settings when an answer to a prompt that named no language is fenced as another language
    patchloop analyzes (```java); None when it stays as it is."""
    tag = fence_language(response)
    if tag in ANALYZED and tag != settings.language:
        return replace(settings, language=tag)
    return None


def default_analyze(settings: LoopSettings) -> AnalyzeFn:
    """The analysis the settings ask for (suite, language, skip list, timeout)."""

    def analyze(code: str) -> Analysis:
        return analyze_code(
            code,
            settings.analyzers,
            language=settings.language,
            skip=settings.skip,
            timeout=settings.analyzer_timeout,
        )

    return analyze
