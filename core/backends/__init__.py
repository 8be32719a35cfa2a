"""Model backends and the factory that turns a model spec into one.

Model specs:
  ``embedded``          the shipped Qwen2.5-Coder-0.5B-Instruct GGUF (default)
  ``embedded-1.5b``     the larger shipped sibling, Qwen2.5-Coder-1.5B-Instruct
  ``openai:NAME``       a model served by an OpenAI-compatible server (``base_url``)
  anything else         a Hugging Face model id or a local folder, via transformers
"""

from __future__ import annotations

from typing import Any

from .base import Backend, ModelError

__all__ = ["Backend", "ModelError", "load_backend"]


def load_backend(spec: str, **options: Any) -> Backend:
    """Build the backend a model spec names. Options are backend-specific (device, load_in_4bit,
    adapter, base_url, api_key, timeout, progress ...); unknown ones are ignored by each backend."""
    if spec.startswith("openai:"):
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(spec.removeprefix("openai:"), **options)
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
    }
    if model.name.startswith("openai:"):
        options = {"base_url": model.base_url or None, "api_key_env": model.api_key_env,
                   "api_key": os.environ.get(model.api_key_env) or None, "timeout": model.timeout}
    return options
