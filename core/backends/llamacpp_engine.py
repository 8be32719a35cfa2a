"""llama.cpp through llama-cpp-python's C bindings: one model, one context, many sequences.

llama-cpp-python's high-level ``Llama`` class decodes one sequence at a time, so the engine drives
the C API itself (``llama_decode`` on multi-sequence batches) to get what patchloop needs:

- parallel sequences: every live sequence contributes one token to each ``llama_decode``, so a
  batch of N answers costs little more per step than one (the weights are read once per step);
- continuous batching: a call may hold more jobs than slots; when an answer ends, its slot takes
  the next job at once, its prompt packed into the same decode as the others' next tokens;
- prompt lookup: beside its next token each answer feeds a guess of the tokens after it, copied
  from where its latest tokens occurred before (code restates the task's signature and docstring);
  the guesses the model's own draws agree with are kept, so answers are what one-token steps give
  (up to float rounding, which in llama.cpp depends a little on how many tokens share a decode);
- prefix reuse: the KV cache is unified (all sequences share one pool of cells), the tokens held
  for every sequence slot are remembered, and a new call keeps the longest common token prefix
  (the system prompt and task of a run's iterations and candidates) instead of recomputing it.
  Sequences of one batch share their common prefix through ``llama_memory_seq_cp``, which in a
  unified cache only tags the same cells with another sequence id: computed once, stored once.

Everything here runs under one lock: a llama.cpp context is not safe for concurrent use.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..types import Cancelled, GenParams
from .base import ModelError
from .cpu_share import CpuShare
from .llamacpp_batch import Batch, Job

_log = logging.getLogger("patchloop.llama.cpp")

_GGML_LOG_WARN, _GGML_LOG_ERROR = 3, 4  # ggml_log_level (DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5)
_recent_errors: collections.deque[str] = collections.deque(maxlen=6)
_log_callback: Any = None  # kept referenced: C holds a pointer to it


def _lib() -> Any:
    """llama-cpp-python's ctypes module, with llama.cpp's log routed to Python logging (its default
    prints every load message on stderr, behind the app's back)."""
    global _log_callback
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(
            "The llama.cpp engine needs llama-cpp-python, which is not installed: "
            "install it with `make setup` (scripts/build-llama-wheel.sh)."
        ) from exc
    except OSError as exc:  # the shared library exists but does not load (wrong CPU, missing libgomp)
        raise ModelError(f"llama-cpp-python is installed but its library does not load: {exc}") from exc
    if _log_callback is None:

        @llama_cpp.llama_log_callback
        def _on_log(level: int, text: bytes, user_data: Any) -> None:
            # Debug level only: Python's last-resort handler would print warnings on the terminal
            # (the app's screen). Errors reach the user inside the ModelError that follows them.
            message = text.decode("utf-8", "replace").strip()
            if level == _GGML_LOG_ERROR and message:
                _recent_errors.append(message)
            if level >= _GGML_LOG_WARN and message:
                _log.debug(message)

        _log_callback = _on_log
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
    return llama_cpp


def _why() -> str:
    return f" (llama.cpp: {_recent_errors[-1]})" if _recent_errors else ""


def default_threads() -> int:
    """The CPUs this process may run on (llama-cpp-python's own default is half of them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LlamaEngine:
    """A GGUF loaded into llama.cpp, with a context of ``n_seq_max`` parallel sequences."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 16384,
        n_seq_max: int = 8,
        n_threads: int | None = None,
        n_batch: int = 512,
        lora_path: Path | None = None,
        lookup: int = 16,
    ):
        llama = self._llama = _lib()
        self.lookup = lookup  # most draft tokens of prompt lookup per sequence and step (0: off)
        self.path = Path(path)
        share = None if n_threads else CpuShare(default_threads())  # its first window spans the load
        model_params = llama.llama_model_default_params()
        model_params.n_gpu_layers = 0
        self._model = llama.llama_model_load_from_file(str(self.path).encode(), model_params)
        if not self._model:
            raise ModelError(f"llama.cpp could not load the model file {self.path}{_why()}.")
        self._ctx = None
        self._batch = None
        self._adapter = None
        try:
            self.vocab = llama.llama_model_get_vocab(self._model)
            self._init_context(n_ctx, n_seq_max, n_threads or default_threads(), n_batch)
            # No thread count asked for: follow the CPU other processes leave us (cpu_share.py).
            self._share = share
            self._adapt_threads()
            if lora_path is not None:
                self.apply_lora(Path(lora_path))
        except BaseException:
            self.close()
            raise

    def _init_context(self, n_ctx: int, n_seq_max: int, n_threads: int, n_batch: int) -> None:
        llama = self._llama
        params = llama.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq_max
        params.n_threads = params.n_threads_batch = n_threads
        # One pool of cells for all sequences: a shared prefix is stored once, and any sequence may
        # grow to the whole context (a split cache gives each only n_ctx / n_seq_max).
        params.kv_unified = True
        params.no_perf = True
        self._ctx = llama.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise ModelError(f"llama.cpp could not create a context of {n_ctx} tokens{_why()}.")
        self._memory = llama.llama_get_memory(self._ctx)
        self.n_ctx = int(llama.llama_n_ctx(self._ctx))
        self.n_batch = int(llama.llama_n_batch(self._ctx))
        self.n_seq_max = n_seq_max
        self.n_threads = n_threads
        self._batch = llama.llama_batch_init(self.n_batch, 0, n_seq_max)
        self._pieces: dict[int, bytes] = {}
        self._slots: list[list[int]] = [[] for _ in range(n_seq_max)]  # tokens in the KV cache per sequence
        self._lock = threading.Lock()

    def apply_lora(self, path: Path) -> None:
        """Run every later decode with this GGUF LoRA adapter (scale 1) on top of the weights."""
        llama = self._llama
        if self._adapter:
            raise ModelError("This llama.cpp model already has an adapter; load the model again for another.")
        self._adapter = llama.llama_adapter_lora_init(self._model, str(path).encode())
        if not self._adapter:
            raise ModelError(f"llama.cpp could not load the LoRA adapter {path}{_why()}.")
        adapters = (llama.llama_adapter_lora_p_ctypes * 1)(self._adapter)
        scales = (ctypes.c_float * 1)(1.0)
        if llama.llama_set_adapters_lora(self._ctx, adapters, 1, scales) != 0:
            raise ModelError(f"llama.cpp could not apply the LoRA adapter {path}{_why()}.")
        self._reset_cache()  # what the cache holds was computed without the adapter

    def close(self) -> None:
        llama = getattr(self, "_llama", None)
        if llama is None:
            return
        if self._batch is not None:
            llama.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            llama.llama_free(self._ctx)
            self._ctx = None
        if self._adapter:
            llama.llama_adapter_lora_free(self._adapter)
            self._adapter = None
        if self._model:
            llama.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        # At interpreter shutdown the bindings may already be torn down; the process frees it all then.
        with contextlib.suppress(Exception):
            self.close()

    # -- model facts

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(4096)
        n = self._llama.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            self._llama.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def description(self) -> str:
        buf = ctypes.create_string_buffer(256)
        self._llama.llama_model_desc(self._model, buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def chat_template(self) -> str | None:
        raw = self._llama.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8") if raw else None

    def special_text(self, which: str) -> str:
        token = getattr(self._llama, f"llama_vocab_{which}")(self.vocab)
        return self._piece(token, special=True).decode("utf-8", "replace") if token >= 0 else ""

    # -- tokens

    def tokenize(self, text: str) -> list[int]:
        """Token ids of prompt text in which the chat template already wrote every special token."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        tokens = (self._llama.llama_token * capacity)()
        n = self._llama.llama_tokenize(self.vocab, data, len(data), tokens, capacity, False, True)
        if n < 0:
            capacity = -n
            tokens = (self._llama.llama_token * capacity)()
            n = self._llama.llama_tokenize(self.vocab, data, len(data), tokens, capacity, False, True)
        if n < 0:
            raise ModelError("llama.cpp could not tokenize the prompt.")
        return list(tokens[:n])

    def _piece(self, token: int, special: bool = False) -> bytes:
        if not special and token in self._pieces:
            return self._pieces[token]
        buf = ctypes.create_string_buffer(64)
        n = self._llama.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._llama.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        piece = buf.raw[: max(n, 0)]
        if not special:
            self._pieces[token] = piece
        return piece

    def is_end(self, token: int) -> bool:
        return bool(self._llama.llama_vocab_is_eog(self.vocab, token))

    # -- the KV cache

    def _forget(self, seq: int, keep: int = 0) -> None:
        self._llama.llama_memory_seq_rm(self._memory, seq, keep, -1)
        del self._slots[seq][keep:]

    def _reset_cache(self) -> None:
        self._llama.llama_memory_clear(self._memory, True)
        self._slots = [[] for _ in range(self.n_seq_max)]

    def _decode(self, entries: Sequence[tuple[int, int, int, bool]], cancel: threading.Event | None) -> None:
        """One llama_decode of (token, position, sequence, wants logits) entries."""
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        batch = self._batch
        assert batch is not None, "the batch is made with the context, in __init__"
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        code = self._llama.llama_decode(self._ctx, batch)
        if code != 0:
            self._reset_cache()  # what a failed decode left in the cache is not worth trusting
            if code == 1:
                raise ModelError(
                    f"The llama.cpp context ({self.n_ctx} tokens) is full; "
                    "use fewer parallel sequences or a larger n_ctx."
                )
            raise ModelError(f"llama.cpp failed to evaluate the prompt (code {code}){_why()}.")
        for token, pos, seq, _ in entries:
            slot = self._slots[seq]
            if pos != len(slot):  # cannot happen unless the bookkeeping is wrong; never guess
                self._reset_cache()
                raise ModelError("llama.cpp cache bookkeeping went out of step; the cache was cleared.")
            slot.append(token)

    def _adapt_threads(self) -> None:
        if self._share is None:
            return
        threads = self._share.threads(self.n_threads)
        if threads != self.n_threads:
            self._llama.llama_set_n_threads(self._ctx, threads, threads)
            self.n_threads = threads

    def _sampler(self, sampling: GenParams) -> Any:
        llama = self._llama
        params = llama.llama_sampler_chain_default_params()
        params.no_perf = True
        chain = llama.llama_sampler_chain_init(params)
        if sampling.temperature <= 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
            return chain
        # transformers' order: temperature, then top-k, then top-p, then draw.
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(sampling.temperature))
        if sampling.top_k > 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(sampling.top_k))
        if sampling.top_p < 1.0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(sampling.top_p, 1))
        seed = llama.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed & 0xFFFFFFFF
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed))
        return chain

    # -- generation

    def run(
        self,
        jobs: Sequence[Job],
        cancel: threading.Event | None = None,
        started: float | None = None,
        on_finish: Callable[[int], None] | None = None,
        max_live: int | None = None,
    ) -> Iterator[tuple[int, str]]:
        """Answer every job, yielding (index, text piece) as tokens arrive.

        Up to ``n_seq_max`` (or ``max_live``) jobs decode together; the moment one ends (an end-of-generation token or
        its token limit) its slot takes the next waiting job, whose prompt is packed into the same
        ``llama_decode`` as the others' next tokens (continuous batching: a batch never waits for its
        longest answer). ``on_finish(index)`` is called as each job ends, in the order they end.
        Raises Cancelled once ``cancel`` is set (checked before every llama_decode).
        """
        if not jobs:
            return
        for job in jobs:
            if len(job.prompt) + 1 > self.n_ctx:
                raise ModelError(
                    f"The prompt is {len(job.prompt)} tokens, more than the llama.cpp context "
                    f"({self.n_ctx} tokens) holds."
                )
            job.max_new_tokens = max(0, min(job.max_new_tokens, self.n_ctx - len(job.prompt)))
        with self._lock:
            batch = Batch(
                self,
                jobs,
                cancel,
                time.perf_counter() if started is None else started,
                on_finish,
                max(1, min(max_live or self.n_seq_max, self.n_seq_max)),
            )
            try:
                yield from batch.steps()
            finally:
                batch.free()
