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

import difflib
import re
from pathlib import Path
from typing import Any

from .base import Backend, ModelError

__all__ = ["Backend", "ModelError", "check_adapter", "check_model_spec", "load_backend"]

_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def check_model_spec(spec: str) -> None:
    """ModelError, before anything loads or goes to the network, when ``spec`` is none of the model
    specs above: a typo must not wait for the Hugging Face Hub to say it knows no such model."""
    from .embedded import EMBEDDED_MODELS

    if spec in EMBEDDED_MODELS:
        return
    if spec.startswith("openai:"):
        if not spec.removeprefix("openai:").strip():
            raise ModelError("openai:NAME needs the model's name on the server, e.g. openai:qwen2.5-coder")
        return
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"no GGUF file {spec}")
        return
    if path.is_dir() or _HF_ID.fullmatch(spec):
        return
    names = [*EMBEDDED_MODELS, "openai:NAME"]
    close = difflib.get_close_matches(spec, names, n=1)
    if close:
        raise ModelError(f"unknown model {spec!r}; did you mean {close[0]!r}?")
    raise ModelError(
        f"unknown model {spec!r}; use {', '.join(EMBEDDED_MODELS)}, openai:NAME, a local folder or "
        ".gguf file, or a Hugging Face id (owner/name)"
    )


def check_adapter(adapter: str) -> None:
    """ModelError when ``adapter`` is not a LoRA adapter folder (one with adapter_config.json),
    found before the model it goes on spends seconds loading."""
    path = Path(adapter).expanduser()
    if not path.is_dir():
        raise ModelError(f"no adapter folder {adapter}")
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"{adapter} is not a LoRA adapter folder: it has no adapter_config.json")


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
        options = {
            "base_url": model.base_url or None,
            "api_key_env": model.api_key_env,
            "api_key": os.environ.get(model.api_key_env) or None,
            "timeout": model.timeout,
        }
    return options
