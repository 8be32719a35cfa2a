"""Fix hints: one concrete mitigation per problem, shown with each finding in a patch request.

Small models act on a concrete hint far better than on the analyzer's message alone (HexaCoder), so
every finding the model sees carries one. The table ships in ``assets/hints/<language>.toml``; a
``hints-<language>.toml`` in the user's prompts folder replaces entries key by key.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from .analyzers.merge import canonical_key, problem_class
from .types import Finding


@cache
def _shipped(language: str) -> dict[str, str]:
    resource = resources.files("patchloop.assets").joinpath("hints", f"{language}.toml")
    if not resource.is_file():
        return {}
    return dict(tomllib.loads(resource.read_text(encoding="utf-8")).get("hints", {}))


def load_hints(language: str = "python", prompts_dir: str | Path | None = None) -> dict[str, str]:
    """The hint table for ``language``: the shipped one, then the user's entries over it.

    A user file that does not parse raises ``ValueError`` naming it (a typo must not silently
    drop every hint)."""
    hints = dict(_shipped(language))
    if prompts_dir:
        custom = Path(prompts_dir).expanduser() / f"hints-{language}.toml"
        if custom.is_file():
            try:
                data = tomllib.loads(custom.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot parse {custom}: {exc}") from exc
            hints.update({str(k): str(v) for k, v in data.get("hints", {}).items()})
    return hints


def hint_for(finding: Finding, hints: dict[str, str]) -> str:
    """The hint of the first key that matches: the finding's own key, its merged twins, their
    canonical keys (ruff S602 -> bandit B602), then the problem class; "" when none does."""
    keys = (finding.key, *finding.also)
    for key in (*keys, *(canonical_key(k) for k in keys), *(problem_class(k) for k in keys)):
        if key in hints:
            return hints[key]
    return ""
