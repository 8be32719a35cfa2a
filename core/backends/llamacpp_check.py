"""Set-up check of the llama.cpp engine: ``python -m patchloop.core.backends.llamacpp_check``.

A llama-cpp-python build that imports can still crash at its first evaluation (compiled for CPU
instructions this machine or its kernel does not offer), so set-up runs this in its own process
and removes the engine when it fails: patchloop then runs GGUF models on transformers instead of
dying later inside the app. Exit status 0: the library loads the embedded model and answers.
"""

from __future__ import annotations

import sys

from ..types import GenParams
from .base import ModelError


def main() -> int:
    from . import embedded, engines
    from .llamacpp_backend import LlamaCppBackend

    if not engines.llama_cpp_installed():
        print("llama.cpp check: llama-cpp-python is not installed", file=sys.stderr)
        return 1
    try:
        embedded.locate_chunks(embedded.EMBEDDED_MODELS["embedded"])
    except ModelError as exc:
        # Nothing to evaluate with: loading the library is all that can be checked here.
        from .llamacpp_engine import _lib

        _lib()
        print(f"llama.cpp check: library loads; not evaluated ({exc})", file=sys.stderr)
        return 0
    try:
        backend = LlamaCppBackend("embedded", n_ctx=512, batch_size=2)
        text = "".join(
            backend.generate([{"role": "user", "content": "Say hi."}], GenParams(max_new_tokens=4))
        )
        backend.generate_batch([[{"role": "user", "content": "1+1="}]] * 2, GenParams(max_new_tokens=2))
        backend.close()
    except ModelError as exc:
        print(f"llama.cpp check failed: {exc}", file=sys.stderr)
        return 1
    print(f"llama.cpp check: the embedded model answers ({text!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
