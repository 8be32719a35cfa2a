"""Loading a Hugging Face causal LM and its tokenizer: the one way both the transformers backend
and DPO training (train/) get a model.

Specs: ``embedded`` / ``embedded-1.5b`` (the shipped GGUF, dequantized once into a cached model
folder, see embedded.py), a local model folder, a ``.gguf`` file (the same cache), or a Hugging
Face model id (from the local cache; downloaded only when the Hub is reachable).

On CUDA the model loads 4-bit NF4 through bitsandbytes (bf16 compute, double quantization)
unless ``load_in_4bit=False`` (then bf16); on CPU it runs in full fp32, which is what the
dequantized GGUF is anyway. An optional LoRA adapter goes on top (peft, not trainable).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..types import BackendInfo
from . import embedded
from .base import ModelError

__all__ = [
    "STAGE_ADAPTER",
    "STAGE_DOWNLOADING",
    "STAGE_LOADING",
    "LoadedModel",
    "Progress",
    "load_model_and_tokenizer",
    "load_pretrained",
    "resolve_device",
]

Progress = Callable[[str], None]

STAGE_LOADING = "loading model"
STAGE_DOWNLOADING = "downloading model from the Hugging Face Hub"
STAGE_ADAPTER = "loading adapter"


@dataclass
class LoadedModel:
    """A model, its tokenizer and how it was loaded."""

    model: Any
    tokenizer: Any
    info: BackendInfo


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" when a GPU is usable, else "cpu"; an explicit CUDA device must exist."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"Device '{device}' was asked for, but torch sees no CUDA GPU. Use --device cpu.")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelError(f"Unknown device '{device}': use auto, cpu, cuda or cuda:N.")
    return device


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~", "\\")) or spec.endswith(".gguf") or spec.count("/") > 1


def _hub_error(spec: str) -> ModelError | None:
    """Why the Hub cannot give us ``spec`` (None when it can). One quick request, no retries, so
    an offline machine gets its answer in a moment instead of after a minute of backoff."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    cache = constants.HF_HUB_CACHE
    hint = (
        "Use 'embedded' or 'embedded-1.5b' (the shipped models), a local model folder or .gguf file, "
        "or download the model first."
    )
    if constants.HF_HUB_OFFLINE:
        return ModelError(
            f"Model '{spec}' is not a local folder and not in the Hugging Face cache ({cache}); "
            f"HF_HUB_OFFLINE is set, so it was not downloaded. {hint}"
        )
    try:
        HfApi().model_info(spec, timeout=10)
    except GatedRepoError:
        return ModelError(
            f"Model '{spec}' is gated on the Hugging Face Hub: accept its licence and log in "
            "(hf auth login) first."
        )
    except RepositoryNotFoundError:
        return ModelError(
            f"Model '{spec}' is not a local folder, not in the Hugging Face cache ({cache}) "
            f"and not on the Hugging Face Hub. {hint}"
        )
    except Exception as exc:  # noqa: BLE001 - network failures come in many types
        return ModelError(
            f"Model '{spec}' is not a local folder and not in the Hugging Face cache ({cache}), "
            f"and the Hub cannot be reached ({type(exc).__name__}: {exc}). {hint}"
        )
    return None


@dataclass
class _Source:
    """Where from_pretrained reads a model: a folder or a hub id."""

    location: str
    name: str  # what BackendInfo.model says
    local_only: bool = True
    from_gguf: bool = False  # a folder of weights converted from a GGUF (the embedded model's cache)


def _resolve_source(spec: str, progress: Progress | None, cache_dir: Path | None) -> _Source:
    if embedded.is_embedded(spec):
        model = embedded.EMBEDDED_MODELS[spec]
        folder = embedded.prepare(spec, cache_dir=cache_dir, progress=progress)
        return _Source(str(folder), model.title, from_gguf=True)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        folder = embedded.prepare_local_gguf(path, cache_dir=cache_dir, progress=progress)
        return _Source(str(folder), str(path), from_gguf=True)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"Folder '{spec}' holds no config.json, so it is not a transformers model folder."
            )
        return _Source(str(path), str(path))
    if path.exists():
        raise ModelError(
            f"'{spec}' is a file but not a .gguf model file; give a model folder, a .gguf file, "
            "a Hugging Face model id or 'embedded'."
        )
    if _looks_like_path(spec):
        raise ModelError(f"Model folder or file '{spec}' does not exist.")
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(spec, local_files_only=True)
        return _Source(spec, spec)
    except (OSError, ValueError):
        pass
    error = _hub_error(spec)
    if error is not None:
        raise error
    if progress is not None:
        progress(STAGE_DOWNLOADING)
    return _Source(spec, spec, local_only=False)


def _quantization_kwargs(device: str, load_in_4bit: bool | None, from_gguf: bool) -> tuple[dict, str]:
    """from_pretrained arguments for the precision, and the label BackendInfo shows for it."""
    import torch

    if device == "cpu":
        if load_in_4bit:
            raise ModelError("4-bit NF4 loading needs a CUDA GPU; on CPU the model runs in fp32.")
        return {"dtype": torch.float32}, "gguf->fp32" if from_gguf else "fp32"
    if load_in_4bit is False:
        return {"dtype": torch.bfloat16, "device_map": {"": device}}, "bf16"
    try:
        # Only checking that it is there; a CUDA-only extra, so the type checker's environment may lack it.
        import bitsandbytes  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        raise ModelError(
            "4-bit loading on CUDA needs bitsandbytes: pip install bitsandbytes "
            "(or turn 4-bit off to load in bf16)."
        ) from None
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    return {"quantization_config": config, "dtype": torch.bfloat16, "device_map": {"": device}}, "nf4"


def _from_pretrained(source: _Source, model_kwargs: dict) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with embedded.quiet_progress_bars():
        tokenizer = AutoTokenizer.from_pretrained(source.location, local_files_only=source.local_only)
        model = AutoModelForCausalLM.from_pretrained(
            source.location, local_files_only=source.local_only, **model_kwargs
        )
    return model, tokenizer


def _load_adapter(model: Any, adapter: str) -> Any:
    from peft import PeftModel

    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"Adapter folder '{adapter}' does not exist or holds no adapter_config.json.")
    try:
        with warnings.catch_warnings():
            # peft asks transformers a deprecated question on every load; users cannot act on it.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return PeftModel.from_pretrained(model, str(path), is_trainable=False)
    except Exception as exc:  # a mismatched adapter fails in many ways
        raise ModelError(f"Could not load adapter '{adapter}' onto the model: {exc}") from exc


def load_pretrained(
    spec: str,
    *,
    device: str = "auto",
    load_in_4bit: bool | None = None,
    adapter: str | None = None,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
) -> LoadedModel:
    """Load model + tokenizer for ``spec`` the way TransformersBackend runs them."""
    device = resolve_device(device)
    source = _resolve_source(spec, progress, cache_dir)
    model_kwargs, quantization = _quantization_kwargs(device, load_in_4bit, source.from_gguf)
    if progress is not None:
        progress(embedded.STAGE_LOADING_CACHED if source.from_gguf else STAGE_LOADING)
    try:
        model, tokenizer = _from_pretrained(source, model_kwargs)
    except ModelError:
        raise
    except Exception as exc:  # from_pretrained raises OSError, ValueError, KeyError ...
        hint = ""
        if source.from_gguf:
            hint = f" The converted cache {source.location} may be damaged: delete that folder to rebuild it."
        raise ModelError(f"Could not load model '{spec}': {type(exc).__name__}: {exc}.{hint}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        if progress is not None:
            progress(STAGE_ADAPTER)
        model = _load_adapter(model, adapter)
    model.eval()
    info = BackendInfo(
        backend="transformers",
        model=source.name,
        device="cuda" if device.startswith("cuda") else "cpu",
        quantization=quantization,
        adapter=str(adapter) if adapter else "",
    )
    return LoadedModel(model=model, tokenizer=tokenizer, info=info)


def load_model_and_tokenizer(spec: str, **options: Any) -> tuple[Any, Any]:
    """(model, tokenizer) for ``spec`` without a backend: what train/ fine-tunes. ``options`` are
    ``load_pretrained``'s."""
    loaded = load_pretrained(spec, **options)
    return loaded.model, loaded.tokenizer
