"""In-process model backend on Hugging Face transformers.

Specs: ``embedded`` / ``embedded-1.5b`` (the shipped GGUF, see embedded.py), a local model
folder, a ``.gguf`` file, or a Hugging Face model id; hf_models.py loads them (4-bit NF4 on
CUDA unless ``load_in_4bit=False``, fp32 on CPU, an optional LoRA adapter).

``generate`` streams from a background thread through TextIteratorStreamer; a stopping
criterion watches a stop flag so cancellation, an abandoned stream or Ctrl-C end the worker
after the current token. ``generate_batch`` pads on the left and decodes many prompts per
forward pass: on CPU that is several times the aggregate throughput of one stream.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from ..types import Cancelled, GenParams, GenStats, Message
from .base import Backend, ModelError, begin_answer, per_item_params
from .hf_models import Progress, load_pretrained

# How long a finished stream waits for its worker to notice the stop flag. The worker checks
# it after every token, so this is only reached when a long prompt is still being read in.
_WORKER_JOIN_SECONDS = 10.0
_POLL_SECONDS = 0.05


# ----------------------------------------------------------------------------- generation helpers


def _stop_criteria(*events: threading.Event | None) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    watched = [event for event in events if event is not None]

    class StopOnEvent(StoppingCriteria):
        """Ends generation (every row) once any watched event is set; checked after each token."""

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            stop = any(event.is_set() for event in watched)
            flags = torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
            # transformers annotates the legacy torch.BoolTensor, which no tensor operation is typed to return.
            return cast("torch.BoolTensor", flags)

    return StoppingCriteriaList([StopOnEvent()])


def _row_temperatures(temperatures: Sequence[float]) -> Any:
    from transformers import LogitsProcessor, LogitsProcessorList

    class RowTemperature(LogitsProcessor):
        """Divides each row's logits by that row's temperature."""

        def __init__(self):
            self.scale: Any = None

        def __call__(self, input_ids, scores):
            import torch

            if self.scale is None or self.scale.device != scores.device:
                self.scale = torch.tensor(temperatures, dtype=scores.dtype, device=scores.device).unsqueeze(1)
            return scores / self.scale

    return LogitsProcessorList([RowTemperature()])


def _make_streamer(tokenizer: Any, stats: GenStats, started: float) -> Any:
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        """TextIteratorStreamer that also counts generated tokens and times the first one."""

        def put(self, value):
            if not self.next_tokens_are_prompt:
                if stats.first_token_seconds is None:
                    stats.first_token_seconds = time.perf_counter() - started
                stats.completion_tokens += int(value.numel())
            super().put(value)

    return CountingStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _first_token_clock(started: float) -> Any:
    from transformers.generation.streamers import BaseStreamer

    class FirstTokenClock(BaseStreamer):
        """Notes when a batch's first new tokens arrive (the first put() is the prompt)."""

        def __init__(self):
            self.calls = 0
            self.seconds: float | None = None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:
                self.seconds = time.perf_counter() - started

        def end(self):
            pass

    return FirstTokenClock()


# ----------------------------------------------------------------------------- the backend


class TransformersBackend(Backend):
    """A transformers causal LM answering chat messages in this process."""

    def __init__(
        self,
        spec: str,
        *,
        device: str = "auto",
        load_in_4bit: bool | None = None,
        adapter: str | None = None,
        progress: Progress | None = None,
        batch_size: int | None = None,
        cache_dir: Path | None = None,
        **ignored: Any,
    ):
        loaded = load_pretrained(
            spec,
            device=device,
            load_in_4bit=load_in_4bit,
            adapter=adapter,
            progress=progress,
            cache_dir=cache_dir,
        )
        self.spec = spec
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.info = loaded.info
        self.batch_size = batch_size or (16 if self.info.device == "cuda" else 8)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelError(
                f"Model '{spec}' has no chat template; patchloop needs an instruct (chat) model."
            )
        self._eos_ids = self._collect_eos_ids()

    # -- prompts

    def _collect_eos_ids(self) -> list[int]:
        ids: list[int] = []
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        for value in [configured, self.tokenizer.eos_token_id]:
            for token in value if isinstance(value, list) else [value]:
                if token is not None and token not in ids:
                    ids.append(int(token))
        return ids

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text the model reads: the model's own chat template, ready for its answer."""
        try:
            return self.tokenizer.apply_chat_template(
                [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # a template can reject a conversation in many ways
            raise ModelError(f"The model's chat template rejected the conversation: {exc}") from exc

    def _encode(self, conversations: Sequence[Sequence[Message]]) -> Any:
        texts = [self.render_prompt(messages) for messages in conversations]
        # The template already holds every special token; left padding keeps each prompt's end
        # next to its first generated token.
        encoded = self.tokenizer(
            texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
        )
        return encoded.to(self.model.device)

    def _generation_kwargs(self, params: GenParams) -> dict[str, Any]:
        # Everything explicit: the model's generation_config (e.g. a hub repetition_penalty or
        # top_k) would otherwise fill in whatever we leave unset.
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "eos_token_id": self._eos_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": 1.0,
        }
        if params.temperature > 0:
            kwargs.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k
            )
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _seed(self, params: GenParams) -> None:
        if params.temperature > 0 and params.seed is not None:
            from transformers import set_seed

            set_seed(params.seed)

    # -- streaming

    def generate(self, messages, params, cancel=None, stats=None) -> Iterator[str]:
        # The arguments' types are the protocol's (Backend.generate).
        stats = begin_answer(cancel, stats)
        started = time.perf_counter()
        inputs = self._encode([messages])
        stats.prompt_tokens = int(inputs["input_ids"].shape[1])
        stats.completion_tokens, stats.first_token_seconds = 0, None
        streamer = _make_streamer(self.tokenizer, stats, started)
        stop = threading.Event()  # set by us when the consumer goes away
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._seed(params)
                self.model.generate(
                    **inputs,
                    **self._generation_kwargs(params),
                    streamer=streamer,
                    stopping_criteria=_stop_criteria(cancel, stop),
                )
            except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
                failure.append(exc)
            finally:
                streamer.text_queue.put(streamer.stop_signal)  # a second end marker is harmless

        worker = threading.Thread(target=work, name="patchloop-generate", daemon=True)
        worker.start()
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                try:
                    piece = streamer.text_queue.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if not worker.is_alive() and streamer.text_queue.empty():
                        break
                    continue
                if piece is streamer.stop_signal:
                    break
                if piece:
                    yield piece
            worker.join()
            if failure:
                exc = failure[0]
                raise ModelError(f"Generation failed: {type(exc).__name__}: {exc}") from exc
            if cancel is not None and cancel.is_set():
                raise Cancelled()
        finally:
            # Cancelled, closed early by the consumer, Ctrl-C, or done: the worker must stop too.
            stop.set()
            worker.join(timeout=_WORKER_JOIN_SECONDS)

    # -- batches

    def generate_batch(
        self, conversations, params, cancel=None, *, batch_size: int | None = None, errors="raise"
    ) -> list[tuple[str, GenStats]]:
        """Answer many conversations, ``batch_size`` per forward pass, in input order.

        ``errors`` is accepted for the protocol's sake: in one process a failure (out of memory,
        say) breaks the whole batch, so it is always raised as one ``ModelError``.

        Prompts are grouped by length so that little of each batch is padding, greedy ones apart
        from sampled ones. Cancellation is checked between batches and after every token inside one.
        """
        # The protocol's arguments have its types (Backend.generate_batch).
        size = max(1, batch_size or self.batch_size)
        item_params = per_item_params(params, len(conversations))
        prompts = [self.render_prompt(messages) for messages in conversations]
        lengths = [len(self.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (item_params[i].temperature > 0, lengths[i]))
        results: list[tuple[str, GenStats] | None] = [None] * len(prompts)
        for start in range(0, len(order), size):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            chunk = order[start : start + size]
            sampled = [i for i in chunk if item_params[i].temperature > 0]
            for group in ([i for i in chunk if i not in sampled], sampled):
                if not group:
                    continue
                answers = self._generate_chunk(
                    [conversations[i] for i in group], [item_params[i] for i in group], cancel
                )
                for index, answer in zip(group, answers, strict=True):
                    results[index] = answer
            if cancel is not None and cancel.is_set():
                raise Cancelled()
        return [r for r in results if r is not None]

    def _generate_chunk(
        self,
        conversations: Sequence[Sequence[Message]],
        params: Sequence[GenParams],
        cancel: threading.Event | None,
    ) -> list[tuple[str, GenStats]]:
        """One forward-pass batch; ``params`` are all greedy or all sampled."""
        started = time.perf_counter()
        inputs = self._encode(conversations)
        clock = _first_token_clock(started)
        self._seed(params[0])  # one generator per batch: the first item's seed seeds the batch
        kwargs = self._generation_kwargs(params[0])
        temperatures = [p.temperature for p in params]
        if len(set(temperatures)) > 1:
            # Candidates sample at different temperatures in one batch: scale each row's logits by
            # its own (the shared warper is left at 1.0).
            kwargs.update(temperature=1.0, logits_processor=_row_temperatures(temperatures))
        try:
            output = self.model.generate(
                **inputs, **kwargs, streamer=clock, stopping_criteria=_stop_criteria(cancel)
            )
        except Exception as exc:  # surfaced as the model's error
            raise ModelError(f"Batched generation failed: {type(exc).__name__}: {exc}") from exc
        width = inputs["input_ids"].shape[1]
        answers = []
        for row, mask in zip(output[:, width:].tolist(), inputs["attention_mask"].tolist()):
            stop_at = next((i + 1 for i, token in enumerate(row) if token in self._eos_ids), len(row))
            tokens = row[:stop_at]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            stats = GenStats(
                prompt_tokens=sum(mask), completion_tokens=len(tokens), first_token_seconds=clock.seconds
            )
            answers.append((text, stats))
        return answers
