"""In-process backend on llama.cpp for GGUF models on the CPU.

Specs: ``embedded`` / ``embedded-1.5b`` (the shipped GGUF, assembled and verified by embedded.py)
or a local ``.gguf`` file. llama.cpp reads the quantized file as it is (memory-mapped), so there is
no dequantized cache on this path and no torch or transformers import: a warm start reaches its
first token in about a second. A LoRA adapter folder from `patchloop train dpo` is converted once
to llama.cpp's GGUF LoRA format (lora_gguf.py) and cached.

Prompts are the model's own chat template (the GGUF carries it), rendered the way transformers
renders it. Greedy unless a temperature is given; sampling follows the seed (item i of a batch
uses seed + i, so candidates differ and every run of them is the same).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..types import BackendInfo, Cancelled, GenParams, GenStats, Message
from . import chat_template, embedded
from .base import Backend, ModelError, ResultFn, begin_answer, split_answer_start
from .llamacpp_batch import Job
from .llamacpp_engine import LlamaEngine

Progress = Callable[[str], None]

STAGE_LOADING = "loading model (llama.cpp)"
STAGE_ADAPTER = "converting adapter for llama.cpp (once)"

DEFAULT_SEQUENCES = 8  # parallel sequences per context: eval and candidate batches are about this size
DEFAULT_CONTEXT = 16384  # KV cells shared by all sequences (0.5B: 12 KB each, f16)


def resolve_gguf(
    spec: str, cache_dir: Path | None = None, progress: Progress | None = None
) -> tuple[Path, str]:
    """(GGUF file, the name BackendInfo shows) for a GGUF model spec."""
    if embedded.is_embedded(spec):
        return embedded.ensure_gguf(spec, cache_dir, progress), embedded.EMBEDDED_MODELS[spec].title
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelError(f"Model file '{spec}' does not exist.")
    if not path.is_file() or path.suffix.lower() != ".gguf":
        raise ModelError(
            f"'{spec}' is not a .gguf file; the llama.cpp engine runs GGUF models only "
            "(use --engine transformers for a model folder or a Hugging Face id)."
        )
    return path, str(path)


def _quantization(description: str) -> str:
    """ "qwen2 1B Q4_K - Medium" -> "gguf Q4_K - Medium" (the file's own weight type)."""
    parts = description.split(" ", 2)
    return f"gguf {parts[2]}" if len(parts) == 3 else "gguf"


class LlamaCppBackend(Backend):
    """A GGUF model answering chat messages through llama.cpp in this process."""

    # A conversation ending in an assistant message is continued from that text (base.split_answer_start):
    # the given start is read as prompt (one batched pass) instead of being decoded token by token.
    continues_answers = True

    def __init__(
        self,
        spec: str,
        *,
        adapter: str | None = None,
        progress: Progress | None = None,
        batch_size: int | None = None,
        cache_dir: Path | None = None,
        n_ctx: int | None = None,
        threads: int | None = None,
        **ignored: Any,
    ):
        path, title = resolve_gguf(spec, cache_dir, progress)
        if progress is not None:
            progress(STAGE_LOADING)
        self.spec = spec
        self.batch_size = max(1, batch_size or DEFAULT_SEQUENCES)
        self.engine = LlamaEngine(
            path, n_ctx=n_ctx or DEFAULT_CONTEXT, n_seq_max=self.batch_size, n_threads=threads
        )
        try:
            if adapter:
                self._load_adapter(adapter, path, cache_dir, progress)
            template = self.engine.chat_template()
            if not template:
                raise ModelError(
                    f"Model '{spec}' has no chat template; patchloop needs an instruct (chat) model."
                )
        except BaseException:
            self.engine.close()
            raise
        self._template = template
        self._bos, self._eos = self.engine.special_text("bos"), self.engine.special_text("eos")
        self.info = BackendInfo(
            backend="llama.cpp",
            model=title,
            device="cpu",
            quantization=_quantization(self.engine.description()),
            adapter=str(adapter) if adapter else "",
        )

    def _load_adapter(
        self, adapter: str, base: Path, cache_dir: Path | None, progress: Progress | None
    ) -> None:
        from . import lora_gguf

        folder = Path(adapter).expanduser()
        architecture = self.engine.meta("general.architecture") or ""
        layers = int(self.engine.meta(f"{architecture}.block_count") or 0)
        lora = lora_gguf.ensure_converted(
            folder,
            architecture=architecture,
            n_layers=layers,
            cache_dir=cache_dir,
            progress=progress,
            stage=STAGE_ADAPTER,
        )
        self.engine.apply_lora(lora)

    def close(self) -> None:
        self.engine.close()

    # -- prompts

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text the model reads: the model's own chat template, ready for its answer."""
        return chat_template.render(self._template, messages, bos_token=self._bos, eos_token=self._eos)

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        head, start = split_answer_start(messages)
        return self.engine.tokenize(self.render_prompt(head) + start)

    @staticmethod
    def _sampling(params: GenParams, offset: int) -> GenParams:
        return params if params.seed is None else replace(params, seed=params.seed + offset)

    # -- streaming

    def generate(self, messages, params, cancel=None, stats=None) -> Iterator[str]:
        # The arguments' types are the protocol's (Backend.generate).
        stats = begin_answer(cancel, stats)
        started = time.perf_counter()
        job = Job(self._prompt_tokens(messages), params.max_new_tokens, self._sampling(params, 0))
        stats.prompt_tokens, stats.completion_tokens, stats.first_token_seconds = len(job.prompt), 0, None
        start = split_answer_start(messages)[1]
        if start:
            yield start
        try:
            for _, piece in self.engine.run([job], cancel, started=started):
                stats.completion_tokens, stats.first_token_seconds = (
                    job.completion_tokens,
                    job.first_token_seconds,
                )
                yield piece
        finally:
            stats.completion_tokens, stats.first_token_seconds = (
                job.completion_tokens,
                job.first_token_seconds,
            )

    # -- batches

    def generate_batch(
        self,
        conversations,
        params,
        cancel=None,
        *,
        batch_size: int | None = None,
        errors="raise",
        on_result: ResultFn | None = None,
    ) -> list[tuple[str, GenStats]]:
        """Answer many conversations as parallel sequences of one context, in input order.

        ``params`` is one setting for all (item i then samples with seed + i, so candidates differ)
        or one per conversation (each with its own sampler: greedy and sampled items, different
        temperatures and seeds mix freely in one batch). ``on_result(i, (text, stats))`` is called
        as each answer ends, so the caller can check it while the others are still decoding.

        ``errors`` is accepted for the protocol's sake: one context fails as a whole, so a failure
        is raised as one ``ModelError``. Prompts are sorted by their tokens so that those sharing a
        prefix (the candidates of one task, the system prompt of an eval) decode side by side and
        compute it once; ``batch_size`` caps the sequences decoding at once (at most the context's).
        """
        # The protocol's arguments have its types (Backend.generate_batch).
        started = time.perf_counter()
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if isinstance(params, GenParams):
            settings = [(params, i) for i in range(len(conversations))]
        else:
            settings = [(p, 0) for p in params]
            if len(settings) != len(conversations):
                raise ModelError(
                    f"{len(settings)} generation settings for {len(conversations)} conversations."
                )
        jobs = [
            Job(self._prompt_tokens(m), p.max_new_tokens, self._sampling(p, offset))
            for m, (p, offset) in zip(conversations, settings)
        ]
        starts = [split_answer_start(m)[1] for m in conversations]
        order = sorted(range(len(jobs)), key=lambda i: jobs[i].prompt)

        def finished(position: int) -> None:
            if on_result is not None:
                i = order[position]
                on_result(i, _result(jobs[i], starts[i]))

        for _ in self.engine.run(
            [jobs[i] for i in order],
            cancel,
            started=started,
            on_finish=finished,
            max_live=batch_size or self.batch_size,
        ):
            pass
        return [_result(job, start) for job, start in zip(jobs, starts)]


def _result(job: Job, start: str = "") -> tuple[str, GenStats]:
    """The answer (after the start it was given, if any) and its token counts."""
    return start + job.text, GenStats(
        prompt_tokens=len(job.prompt),
        completion_tokens=job.completion_tokens,
        first_token_seconds=job.first_token_seconds,
    )
