"""DPO fine-tuning with TRL: LoRA adapters trained on preference pairs from the log.

On CUDA the base model is loaded 4-bit NF4 through bitsandbytes and LoRA adapters are trained on
top (QLoRA); on CPU the full-precision model gets LoRA adapters (slow, but it works for the
embedded 0.5B model). Either way the frozen base with the adapter switched off is DPO's
reference model, so no second copy of the model is held (``ref_model=None`` with a PEFT model).
Continuing from an earlier adapter (``init_adapter``, the iterative rounds) makes TRL keep a
frozen copy of that adapter as the reference, so each round is anchored to the previous policy.

The output folder holds the adapter (``adapter_config.json`` + ``adapter_model.safetensors``,
loadable with ``--adapter DIR``), ``training.json`` (data, settings, metrics, versions) and,
with ``merge``, a ``merged/`` model folder with the adapter folded into the weights.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from patchloop.core.files import write_atomic
from patchloop.core.types import Message

if TYPE_CHECKING:
    import datasets

RECORD_NAME = "training.json"
MERGED_DIR = "merged"
Progress = Callable[[str], None]


class TrainError(RuntimeError):
    """Training cannot start or failed; the message says why and what to do."""


@dataclass
class DPOSettings:
    """What `patchloop train dpo` exposes; the rest of TRL's DPOConfig keeps its defaults."""

    beta: float = 0.1
    learning_rate: float = 5e-5
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: str = "all-linear"
    max_length: int = 1024
    batch_size: int = 2
    grad_accum: int = 4
    warmup_ratio: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    load_in_4bit: bool = True  # on CUDA only
    gradient_checkpointing: bool | None = None  # None: on for CUDA, off for CPU (small models train faster)
    logging_steps: int = 1


@dataclass
class DPOResult:
    out_dir: Path
    record: dict[str, Any]
    merged_dir: Path | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record["metrics"]


@dataclass
class ModelHandle:
    """A loaded base model and what the record says about it."""

    model: Any
    tokenizer: Any
    spec: str
    path: str  # the folder or id transformers loaded
    device: str
    quantization: str = ""  # "nf4" | ""


def load_base(
    spec: str, *, device: str = "auto", load_in_4bit: bool = True, progress: Progress | None = None
) -> ModelHandle:
    """The base model to train, loaded by hf_models the way the backend runs it: 4-bit NF4 on CUDA
    (unless ``load_in_4bit`` is off, then bf16), fp32 on CPU. Any spec the backend takes works here."""
    from patchloop.core.backends.base import ModelError
    from patchloop.core.backends.hf_models import load_pretrained, resolve_device

    if spec.startswith("openai:"):
        raise TrainError(
            f"{spec} is a served model: training needs the weights (a HF id, a folder or 'embedded')"
        )
    try:
        device = resolve_device(device)
        loaded = load_pretrained(
            spec, device=device, load_in_4bit=load_in_4bit if device != "cpu" else None, progress=progress
        )
    except ModelError as exc:
        raise TrainError(str(exc)) from exc
    model = loaded.model
    path = str(getattr(model, "name_or_path", "") or spec)
    quantization = "nf4" if loaded.info.quantization == "nf4" else ""
    return ModelHandle(model, loaded.tokenizer, spec, path, loaded.info.device, quantization)


def lora_config(settings: DPOSettings):
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
        bias="none",
    )


def dpo_config(settings: DPOSettings, out_dir: Path, device: str):
    # trl's documented name; its lazily filled __init__ does not show the checker that it exports it.
    from trl import DPOConfig  # pyright: ignore[reportPrivateImportUsage]

    on_cuda = device == "cuda"
    checkpointing = on_cuda if settings.gradient_checkpointing is None else settings.gradient_checkpointing
    return DPOConfig(
        output_dir=str(out_dir),
        beta=settings.beta,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        warmup_steps=settings.warmup_ratio,  # a float in [0, 1) is a ratio of all steps
        max_length=settings.max_length,
        seed=settings.seed,
        logging_steps=settings.logging_steps,
        save_strategy="no",
        report_to="none",
        bf16=on_cuda,
        fp16=False,
        use_cpu=not on_cuda,
        gradient_checkpointing=checkpointing,
        disable_tqdm=True,  # our own bar (ProgressReporter) shows loss, margin and accuracy
        remove_unused_columns=False,
    )


# -- progress and metrics -----------------------------------------------------------------------

HISTORY_KEYS = (
    "loss",
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
    "logps/chosen",
    "logps/rejected",
    "learning_rate",
    "grad_norm",
)


def _reporter_class():
    from transformers import TrainerCallback

    class ProgressReporter(TrainerCallback):
        """A progress bar with loss, reward margin and reward accuracy; keeps every logged step."""

        def __init__(self, show: bool):
            self.show = show
            self.history: list[dict[str, float]] = []
            self.bar = None
            self.started = time.monotonic()

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            if self.show:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc="dpo", unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            entry = {
                "step": state.global_step,
                "epoch": round(state.epoch or 0.0, 4),
                "seconds": round(time.monotonic() - self.started, 3),
            }
            entry.update({k: float(logs[k]) for k in HISTORY_KEYS if k in logs})
            self.history.append(entry)
            if self.bar is not None:
                self.bar.set_postfix(
                    loss=f"{entry['loss']:.4f}",
                    margin=f"{entry.get('rewards/margins', 0):.4f}",
                    acc=f"{entry.get('rewards/accuracies', 0):.2f}",
                )

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    return ProgressReporter


# -- data ---------------------------------------------------------------------------------------

TRAIN_COLUMNS = ("prompt", "chosen", "rejected")


def training_rows(dataset: datasets.Dataset) -> datasets.Dataset:
    """Only the columns DPO reads (provenance columns would reach the collator otherwise)."""
    missing = [c for c in TRAIN_COLUMNS if c not in dataset.column_names]
    if missing:
        raise TrainError(f"the pairs lack the column(s) {', '.join(missing)}")
    if len(dataset) == 0:
        raise TrainError(
            "there are no preference pairs to train on: run the loop on more prompts (a flagged first attempt "
            "patched to clean gives a pair), label iterations in the app, or see `patchloop pairs stats`"
        )
    return dataset.select_columns(list(TRAIN_COLUMNS))


def dataset_digest(dataset: datasets.Dataset) -> str:
    """SHA-256 of the training rows, so a record names exactly the data it was trained on."""
    digest = hashlib.sha256()
    for item in dataset:
        row = cast(dict[str, Any], item)  # a row is a dict of its columns; datasets types it loosely
        digest.update(json.dumps([row[c] for c in TRAIN_COLUMNS], sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def describe_data(dataset: datasets.Dataset, **where: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"pairs": len(dataset), **{k: v for k, v in where.items() if v is not None}}
    if "origin" in dataset.column_names:
        info["origins"] = {o: dataset["origin"].count(o) for o in sorted(set(dataset["origin"]))}
    if "run_ids" in dataset.column_names:
        info["runs"] = len({r for ids in dataset["run_ids"] for r in ids})
    info["sha256"] = dataset_digest(dataset)
    return info


# -- training -----------------------------------------------------------------------------------


def train_dpo(
    dataset: datasets.Dataset,
    out_dir: str | Path,
    settings: DPOSettings | None = None,
    *,
    model_spec: str = "embedded",
    handle: ModelHandle | None = None,
    init_adapter: str | Path | None = None,
    merge: bool = False,
    data_info: dict[str, Any] | None = None,
    show_progress: bool = True,
    progress: Progress | None = None,
) -> DPOResult:
    """Train LoRA adapters with TRL's DPOTrainer and write them, with a record, to ``out_dir``.

    ``handle`` passes an already loaded base model (benchmarks, tests); otherwise ``model_spec``
    is loaded with ``load_base``.
    """
    import torch
    import transformers
    from peft import PeftModel
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOTrainer  # pyright: ignore[reportPrivateImportUsage] (as DPOConfig above)

    settings = settings or DPOSettings()
    out_dir = Path(out_dir).expanduser()
    if out_dir.is_file():
        raise TrainError(f"{out_dir} is a file; --out needs a folder")
    rows = training_rows(dataset)
    data = dict(data_info or {})
    data.setdefault("pairs", len(rows))
    data.setdefault("sha256", dataset_digest(rows))
    if handle is None:
        handle = load_base(
            model_spec, device=settings.device, load_in_4bit=settings.load_in_4bit, progress=progress
        )
    model, tokenizer = handle.model, handle.tokenizer
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    peft_config = None
    if init_adapter:
        init_adapter = Path(init_adapter).expanduser()
        if not (init_adapter / "adapter_config.json").is_file():
            raise TrainError(f"{init_adapter} holds no adapter (adapter_config.json is missing)")
        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    else:
        peft_config = lora_config(settings)

    out_dir.mkdir(parents=True, exist_ok=True)
    args = dpo_config(settings, out_dir, handle.device)
    reporter = _reporter_class()(show_progress)
    if handle.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer = DPOTrainer(
            model=model,
            ref_model=None,
            args=args,
            train_dataset=rows,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        for callback in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(callback)
        trainer.add_callback(reporter)
        if progress:
            progress(f"training on {len(rows)} pairs on {handle.device}")
        started = time.monotonic()
        output = trainer.train()
    except (
        RuntimeError,
        ValueError,
    ) as exc:  # out of memory, a CUDA error, a template that cannot render ...
        raise TrainError(f"DPO training of {handle.spec} failed: {type(exc).__name__}: {exc}") from exc
    seconds = time.monotonic() - started
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if handle.device == "cuda" else None

    policy = trainer.accelerator.unwrap_model(trainer.model)
    if "ref" in getattr(policy, "peft_config", {}):
        policy.delete_adapter("ref")  # TRL's frozen reference copy of init_adapter: not ours to ship
    policy.save_pretrained(str(out_dir), selected_adapters=["default"])

    history = reporter.history
    epochs_done = float(output.metrics.get("epoch", settings.epochs))
    metrics = {
        "train_loss": output.metrics.get("train_loss"),
        "first": history[0] if history else None,
        "last": history[-1] if history else None,
        "history": history,
        "steps": output.global_step,
        "epochs": epochs_done,
        "train_seconds": round(seconds, 2),
        "pairs_per_second": round(len(rows) * epochs_done / seconds, 4) if seconds else None,
        "steady_pairs_per_second": _steady_rate(history, settings.batch_size * settings.grad_accum),
        "peak_gpu_memory_gib": round(peak_gib, 3) if peak_gib is not None else None,
        "finite": all(math.isfinite(h.get("loss", 0.0)) for h in history),
    }
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "model": handle.spec,
        "base_path": handle.path,
        "device": handle.device,
        "quantization": handle.quantization,
        "init_adapter": str(init_adapter) if init_adapter else None,
        "adapter": str(out_dir),
        "data": data,
        "settings": dataclasses.asdict(settings),
        "metrics": metrics,
        "versions": _versions(transformers.__version__),
        "merged": None,
    }
    merged_dir = None
    if merge:
        merged_dir = merge_adapter(handle, out_dir, policy, progress=progress)
        record["merged"] = str(merged_dir)
    write_record(out_dir, record)
    return DPOResult(out_dir, record, merged_dir)


def _steady_rate(history: list[dict[str, float]], pairs_per_step: int) -> float | None:
    """Pairs per second after the first logged step (which carries warm-up: allocation, kernel choice)."""
    if len(history) < 3:
        return None
    first, last = history[0], history[-1]
    seconds = last["seconds"] - first["seconds"]
    return round(pairs_per_step * (last["step"] - first["step"]) / seconds, 4) if seconds > 0 else None


def merge_adapter(
    handle: ModelHandle, adapter_dir: Path, policy: Any, progress: Progress | None = None
) -> Path:
    """Fold the adapter into the base weights and save a plain model folder (``adapter_dir/merged``).

    A 4-bit base cannot take the update exactly, so the base is reloaded in bf16 first.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dest = adapter_dir / MERGED_DIR
    if progress:
        progress(f"merging the adapter into {handle.spec} -> {dest}")
    if handle.quantization:
        del policy
        torch.cuda.empty_cache()
        base = AutoModelForCausalLM.from_pretrained(handle.path, dtype=torch.bfloat16)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    else:
        merged = policy.merge_and_unload()
    merged.save_pretrained(str(dest))
    handle.tokenizer.save_pretrained(str(dest))
    return dest


def _versions(transformers_version: str) -> dict[str, str]:
    import importlib.metadata

    out = {"transformers": transformers_version}
    for name in ("trl", "peft", "torch", "datasets", "bitsandbytes", "patchloop"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def write_record(out_dir: Path, record: dict[str, Any]) -> Path:
    path = out_dir / RECORD_NAME
    return write_atomic(path, json.dumps(record, indent=2, default=str) + "\n")


def read_record(adapter_dir: str | Path) -> dict[str, Any] | None:
    path = Path(adapter_dir).expanduser() / RECORD_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# -- log-probabilities, for checks and reports --------------------------------------------------


@dataclass
class PreferenceScore:
    chosen: float  # summed log-probability of the chosen answer's tokens
    rejected: float

    @property
    def margin(self) -> float:
        return self.chosen - self.rejected


def answer_logprob(model: Any, tokenizer: Any, prompt: Sequence[Message], answer: Sequence[Message]) -> float:
    """log p(answer | prompt) under the chat template, summed over the answer's tokens."""
    import torch

    prompt_text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(list(prompt) + list(answer), tokenize=False)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    device = next(model.parameters()).device
    ids = torch.tensor([full_ids], device=device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    logps = torch.log_softmax(logits[0, :-1], dim=-1)
    targets = ids[0, 1:]
    token_logps = logps.gather(1, targets[:, None])[:, 0]
    return float(token_logps[max(start - 1, 0) :].sum())


def preference_scores(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]]) -> list[PreferenceScore]:
    was_training = model.training
    model.eval()
    try:
        return [
            PreferenceScore(
                answer_logprob(model, tokenizer, r["prompt"], r["chosen"]),
                answer_logprob(model, tokenizer, r["prompt"], r["rejected"]),
            )
            for r in rows
        ]
    finally:
        model.train(was_training)
