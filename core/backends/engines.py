"""Which in-process engine runs a model: llama.cpp or transformers.

llama.cpp reads a GGUF as it is (quantized, mmapped) and is about 3x faster on a CPU than the
transformers path, which dequantizes the GGUF to fp32. transformers stays the engine for Hugging
Face models, for CUDA (4-bit NF4) and for training. The rules:

- ``engine="llama.cpp"`` or ``"transformers"`` is obeyed (or refused with the reason);
- ``engine="auto"`` picks llama.cpp for a GGUF model (``embedded``, ``embedded-1.5b``, a local
  ``.gguf`` file) when there is no CUDA GPU to use and llama-cpp-python is installed, else
  transformers.

Deciding must stay cheap: importing torch to ask about CUDA costs seconds, and the llama.cpp path
is meant to reach its first token in under three. So CUDA is detected from the driver's device
files unless torch is already loaded.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from . import embedded
from .base import ModelError

ENGINES = ("auto", "llama.cpp", "transformers")
LLAMA_CPP = "llama.cpp"
TRANSFORMERS = "transformers"

INSTALL_HINT = "install it with `make setup` (scripts/build-llama-wheel.sh builds it once)"


def is_gguf_spec(spec: str) -> bool:
    """True for the shipped GGUF models and for a model spec naming a .gguf file."""
    return embedded.is_embedded(spec) or spec.lower().endswith(".gguf")


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def cuda_visible() -> bool:
    """Whether a CUDA GPU is there to use, without importing torch when it is not loaded yet."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    # The NVIDIA kernel driver creates /dev/nvidia0.. per GPU (and lists them under /proc);
    # without it CUDA cannot run, whatever is installed.
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True
    return any(Path("/dev").glob("nvidia[0-9]*"))


def normalize_engine(engine: str | None) -> str:
    name = (engine or "auto").strip().lower()
    aliases = {"llamacpp": LLAMA_CPP, "llama-cpp": LLAMA_CPP, "llama_cpp": LLAMA_CPP, "hf": TRANSFORMERS}
    name = aliases.get(name, name)
    if name not in ENGINES:
        raise ModelError(f"Unknown engine '{engine}': use {', '.join(ENGINES)}.")
    return name


def choose_engine(spec: str, engine: str | None = "auto", device: str = "auto") -> str:
    """The engine ("llama.cpp" or "transformers") that runs ``spec``; ModelError when the asked-for
    engine cannot run it here."""
    name = normalize_engine(engine)
    gguf = is_gguf_spec(spec)
    if name == TRANSFORMERS:
        return TRANSFORMERS
    if name == LLAMA_CPP:
        if not gguf:
            raise ModelError(
                f"The llama.cpp engine runs GGUF models (embedded, embedded-1.5b or a .gguf file), "
                f"not '{spec}'; use --engine transformers."
            )
        if device.startswith("cuda"):
            raise ModelError(
                "patchloop's llama.cpp engine runs on the CPU; use --device cpu, "
                "or --engine transformers for CUDA."
            )
        if not llama_cpp_installed():
            raise ModelError(
                f"The llama.cpp engine needs llama-cpp-python, which is not installed: {INSTALL_HINT}."
            )
        return LLAMA_CPP
    if not gguf or device.startswith("cuda"):
        return TRANSFORMERS
    if device == "auto" and cuda_visible():
        return TRANSFORMERS  # the GPU path (4-bit NF4) is what a CUDA machine is for
    return LLAMA_CPP if llama_cpp_installed() else TRANSFORMERS
