"""Model backends and the factory that turns a model spec into one.

Model specs:
  ``embedded``          the shipped Qwen2.5-Coder-0.5B-Instruct GGUF (default)
  ``embedded-1.5b``     the larger shipped sibling, Qwen2.5-Coder-1.5B-Instruct
  ``PATH.gguf``         a local GGUF file
  ``openai:NAME``       a model served by an OpenAI-compatible server (``base_url``)
  anything else         a Hugging Face model id or a local folder, via transformers

GGUF models run on llama.cpp on a machine without CUDA (when llama-cpp-python is installed) and on
transformers otherwise; the ``engine`` option (llama.cpp | transformers | auto) overrides that
(rules in engines.py).
"""

from __future__ import annotations

from typing import Any

from .base import Backend, ModelError

__all__ = ["Backend", "ModelError", "load_backend"]


def load_backend(spec: str, *, engine: str | None = "auto", **options: Any) -> Backend:
    """Build the backend a model spec names. ``engine`` picks the in-process engine for a local
    model (see engines.py); other options are backend-specific (device, load_in_4bit, adapter,
    base_url, api_key, timeout, progress ...) and unknown ones are ignored by each backend."""
    if spec.startswith("openai:"):
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(spec.removeprefix("openai:"), **options)
    from .engines import LLAMA_CPP, choose_engine

    if choose_engine(spec, engine, options.get("device") or "auto") == LLAMA_CPP:
        from .llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(spec, **options)
    from .transformers_backend import TransformersBackend

    return TransformersBackend(spec, **options)


def backend_options(model, *, progress=None) -> dict[str, Any]:
    """Options for ``load_backend`` from a ``config.ModelSettings`` (the API key comes from the
    environment variable it names, so it never sits in a file or the log)."""
    import os

    options: dict[str, Any] = {
        "device": model.device,
        # None lets the backend decide: 4-bit NF4 on CUDA, full precision on CPU; False forces it off.
        "load_in_4bit": None if model.load_in_4bit else False,
        "adapter": model.adapter or None,
        "progress": progress,
        "engine": model.engine,
    }
    if model.name.startswith("openai:"):
        options = {"base_url": model.base_url or None, "api_key_env": model.api_key_env,
                   "api_key": os.environ.get(model.api_key_env) or None, "timeout": model.timeout}
    return options
