"""The sandbox modes this machine has, as pytest parameters, shared by the sandbox test files."""

from __future__ import annotations

import pytest
from patchloop.core import sandbox
from patchloop.core.sandbox import SandboxError, sandbox_info


def available(mode: str) -> bool:
    try:
        sandbox_info(mode)
    except SandboxError:
        return False
    return True


MODES = [
    pytest.param(m, marks=pytest.mark.skipif(not available(m), reason=f"no {m} sandbox here"))
    for m in sandbox.MODES
]


def needs(mode: str, *guarantees: str) -> sandbox.SandboxInfo:
    info = sandbox_info(mode)
    missing = [g for g in guarantees if g not in info.guarantees]
    if missing:
        pytest.skip(f"sandbox mode {mode} does not promise {', '.join(missing)}")
    return info
