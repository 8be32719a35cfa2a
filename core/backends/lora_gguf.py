"""peft LoRA adapters (what `patchloop train dpo` writes) in llama.cpp's GGUF LoRA format.

llama.cpp's own converter (convert_lora_to_gguf.py) is not shipped in any package and needs torch,
transformers and the base model's Hugging Face folder; patchloop's adapters are plain LoRA on the
linear layers of a Qwen2-family model, so this writes the same file with the ``gguf`` package:

- tensor names go from peft's ``base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`` to
  llama.cpp's ``blk.N.attn_q.weight.lora_a`` through gguf's own name map;
- ``lora_A`` (r x in) and ``lora_B`` (out x r) keep their layout: the GGUF writer reverses the
  shape into ggml's order, which is what llama.cpp checks against the base weight;
- peft's scaling (alpha / r, alpha / sqrt(r) with rsLoRA, per-module ranks and alphas) is folded
  into ``lora_B`` and the file says alpha 0, which llama.cpp reads as "scale 1".

The result is cached by the hash of the adapter's files (and this converter's version), written
to a temp name and renamed into place, so it is converted once and never half-written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .base import ModelError

if TYPE_CHECKING:
    import numpy as np

CONVERTER_VERSION = 1
# Architectures whose GGUF weights keep the Hugging Face layout (llama's q/k are permuted by the
# GGUF converter, so a LoRA on them would need the same permutation).
SUPPORTED_ARCHITECTURES = ("qwen2", "qwen3")

_PREFIX = "base_model.model."
_NAME = re.compile(r"^(?P<module>.+)\.lora_(?P<side>[AB])\.weight$")
_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("patchloop")) / "adapters"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """name -> float32 numpy array, for the dtypes adapters are saved in (numpy has no bf16, and
    safetensors' numpy loader refuses it, so the file is read here: 8-byte header size, JSON header,
    raw little-endian data)."""
    import numpy as np

    data = path.read_bytes()
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
    except (struct.error, ValueError) as exc:
        raise ModelError(f"{path} is not a safetensors file: {exc}") from exc
    body = memoryview(data)[8 + size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ModelError(f"Adapter tensor {name} has dtype {entry['dtype']}; expected F32, F16 or BF16.")
        start, end = entry["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=dtype).reshape(entry["shape"])
        if entry["dtype"] == "BF16":  # bf16 is the top half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array.astype(np.float32)
    return tensors


def _config(folder: Path) -> dict:
    path = folder / "adapter_config.json"
    if not path.is_file():
        raise ModelError(f"Adapter folder '{folder}' does not exist or holds no adapter_config.json.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from exc
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelError(
            f"Adapter '{folder}' is {config.get('peft_type')}, not LoRA; llama.cpp runs LoRA adapters only."
        )
    if config.get("use_dora"):
        raise ModelError(
            f"Adapter '{folder}' uses DoRA, which llama.cpp cannot run; use --engine transformers."
        )
    if config.get("modules_to_save"):
        raise ModelError(
            f"Adapter '{folder}' also saves whole modules ({', '.join(config['modules_to_save'])}), "
            "which a llama.cpp LoRA cannot hold; use --engine transformers."
        )
    return config


def _scaling(config: dict, module: str, rank: int) -> float:
    """peft's multiplier for one module: alpha / r (or / sqrt(r) with rsLoRA), patterns applied."""
    alpha = float(config.get("lora_alpha", rank))
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", module):
            alpha = float(value)
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def _tensor_pairs(
    folder: Path, config: dict, architecture: str, n_layers: int
) -> list[tuple[str, np.ndarray]]:
    import gguf

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelError(
            f"Adapter folder '{folder}' holds no adapter_model.safetensors "
            "(save it with safetensors; pickled .bin adapters are not read)."
        )
    arch = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}[architecture]
    names = gguf.get_tensor_name_map(arch, n_layers)
    sides: dict[str, dict[str, np.ndarray]] = {}
    for name, array in read_safetensors(weights).items():
        match = _NAME.match(name.removeprefix(_PREFIX))
        if match is None:
            raise ModelError(
                f"Adapter tensor '{name}' is not a LoRA A/B weight of a linear layer; "
                "llama.cpp cannot run it (use --engine transformers)."
            )
        sides.setdefault(match["module"], {})[match["side"]] = array
    pairs = []
    for module, ab in sorted(sides.items()):
        target = names.get_name(module)
        if target is None or set(ab) != {"A", "B"}:
            raise ModelError(
                f"Adapter module '{module}' has no counterpart in the {architecture} GGUF "
                f"({n_layers} layers); was it trained on another model?"
            )
        a, b = ab["A"], ab["B"]
        rank = a.shape[0]
        pairs.append((f"{target}.weight.lora_a", a))
        pairs.append((f"{target}.weight.lora_b", (b * _scaling(config, module, rank)).astype(a.dtype)))
    if not pairs:
        raise ModelError(f"Adapter '{folder}' holds no LoRA weights.")
    return pairs


def _key(folder: Path, architecture: str) -> str:
    digest = hashlib.sha256(f"v{CONVERTER_VERSION} {architecture}".encode())
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        with open(folder / name, "rb") as handle:
            while block := handle.read(8 * 1024 * 1024):
                digest.update(block)
    return digest.hexdigest()[:16]


def convert(folder: Path, dest: Path, *, architecture: str, n_layers: int) -> Path:
    """Write the GGUF LoRA of the peft adapter in ``folder`` to ``dest`` (atomically)."""
    import gguf

    config = _config(folder)
    pairs = _tensor_pairs(folder, config, architecture, n_layers)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp_name, architecture)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 0.0)  # scaling is folded into lora_b
        for name, array in pairs:
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp_name, dest)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return dest


def ensure_converted(
    folder: Path,
    *,
    architecture: str,
    n_layers: int,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    stage: str = "converting adapter",
) -> Path:
    """The cached GGUF LoRA for the adapter in ``folder``, converting it on first use."""
    folder = Path(folder).expanduser()
    _config(folder)
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ModelError(
            f"LoRA adapters on the llama.cpp engine are supported for {', '.join(SUPPORTED_ARCHITECTURES)} "
            f"models, not {architecture or 'this one'}; use --engine transformers."
        )
    if not (folder / "adapter_model.safetensors").is_file():
        raise ModelError(
            f"Adapter folder '{folder}' holds no adapter_model.safetensors "
            "(save it with safetensors; pickled .bin adapters are not read)."
        )
    root = Path(cache_dir) / "adapters" if cache_dir is not None else default_cache_dir()
    dest = root / f"{folder.resolve().name}-{_key(folder, architecture)}.gguf"
    if dest.is_file():
        return dest
    if progress is not None:
        progress(stage)
    return convert(folder, dest, architecture=architecture, n_layers=n_layers)
