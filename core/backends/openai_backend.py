"""Chat completions from any OpenAI-compatible server: vLLM, SGLang, Ollama, llama.cpp's llama-server.

Every request streams over server-sent events (``stream: true``). The HTTP work of one request runs
on a small worker thread that feeds a queue (openai_stream.py); the caller's generator reads the
queue and checks its cancel event between reads, so cancelling takes effect at once in every phase
of a request (waiting for the first token, between tokens, during a retry back-off), and the
worker's socket is shut down so the server sees the disconnect and stops generating.

Retries (exponential back-off with jitter, honouring ``Retry-After``) cover connection errors and
HTTP 429/502/503/504, but only until the first token has been handed to the caller: a retry after
that would repeat text the caller already has.

The API key lives in one private attribute and the ``Authorization`` header; every error message
this module raises passes through ``_redact`` in case a server echoes the key back.
"""

from __future__ import annotations

import math
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, Self

import httpx

from ..types import BackendInfo, Cancelled, GenParams, GenStats, Message
from .base import Backend, ModelError, ResultFn, per_item_params
from .openai_errors import Retryable, error_message, retry_after_seconds, says_unknown_model
from .openai_stream import StreamWorker

__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_DELAY_SECONDS = 60.0
# How often a waiting caller looks at its cancel event; small enough to feel instant.
_POLL_SECONDS = 0.05
# Most servers send one token per chunk; without a usage report, prompt size is guessed at
# four characters per token (the usual rule of thumb for English and code).
_CHARS_PER_TOKEN = 4


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class _AnySet:
    """Set once any of several events is set: a caller's cancel event or a batch's own stop."""

    def __init__(self, *events: _Flag | None) -> None:
        self._events = [event for event in events if event is not None]

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


class OpenAIBackend(Backend):
    """Streams chat completions from an OpenAI-compatible server.

    ``model`` is the name the server knows the model by (``vllm serve NAME``, ``ollama pull NAME``).
    ``base_url`` defaults to ``$OPENAI_BASE_URL``, else ``http://127.0.0.1:8000/v1``. The API key is
    ``api_key`` or, when that is None, the environment variable named by ``api_key_env``; local
    servers usually need none. ``timeout`` bounds each wait for data from the server (not the whole
    answer); ``concurrency`` is how many requests ``generate_batch`` keeps in flight.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        concurrency: int = 4,
        retry_base_delay: float = 0.5,
        **ignored: Any,
    ) -> None:
        if not model:
            raise ModelError("an OpenAI-compatible model needs a name: use --model openai:NAME")
        if ignored.get("adapter"):
            raise ModelError(
                "a LoRA adapter for a served model is loaded by the server, not by patchloop: e.g. "
                "vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER_DIR, then --model openai:NAME"
            )
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key_env = api_key_env
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = max(0, int(max_retries))
        self.concurrency = max(1, int(concurrency))
        self.retry_base_delay = max(0.0, float(retry_base_delay))
        self.info = BackendInfo(backend="openai", model=model, device="server", server=self.base_url)
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
            # No cap on connections: a cap below the number of concurrent callers would make
            # requests queue inside httpx and fail with a pool timeout instead of waiting on the server.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=self.concurrency),
            headers=headers,
        )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the Backend protocol -----

    def generate(
        self,
        messages: Sequence[Message],
        params: GenParams,
        cancel: threading.Event | _Flag | None = None,
        stats: GenStats | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces as the server streams them; fill ``stats`` at the end."""
        stats = stats if stats is not None else GenStats()
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        body = self._request_body(messages, params)
        # Replaced by the server's own count when it sends a usage report (see the module docstring).
        stats.prompt_tokens = math.ceil(sum(len(m.get("content") or "") for m in messages) / _CHARS_PER_TOKEN)
        stats.completion_tokens = 0
        started = time.monotonic()
        worker = StreamWorker(self, body)
        worker.start()
        usage: dict[str, Any] | None = None
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                try:
                    kind, value = worker.events.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if kind == "text":
                    if stats.first_token_seconds is None:
                        stats.first_token_seconds = time.monotonic() - started
                    stats.completion_tokens += 1
                    yield value
                elif kind == "usage":
                    usage = value
                elif kind == "error":
                    raise value
                else:  # "done"
                    break
        finally:
            worker.stop()
        if usage is not None:
            stats.prompt_tokens = int(usage.get("prompt_tokens") or stats.prompt_tokens)
            stats.completion_tokens = int(usage.get("completion_tokens") or stats.completion_tokens)

    def generate_batch(
        self, conversations, params, cancel=None, *, errors="raise", on_result: ResultFn | None = None
    ) -> list[Any]:
        """Answer many conversations with up to ``concurrency`` requests in flight; results in input order.
        ``on_result(i, answer)`` is called as each request ends.

        ``errors="raise"`` (the Backend protocol's behaviour): the first failed request stops the
        others and raises a ModelError naming it ("request 3 of 10 failed: ..."). ``errors="return"``:
        a failed request's ModelError instance takes the place of its ``(text, stats)`` tuple and the
        rest carry on, so an evaluation can record per-task failures and resume them later.
        Cancellation always raises ``Cancelled``.
        """
        # The protocol's arguments have its types (Backend.generate_batch).
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
        total = len(conversations)
        item_params = per_item_params(params, total)
        results: list[Any] = [None] * total
        if total == 0:
            return results
        stop = threading.Event()
        flag = _AnySet(cancel, stop)

        def answer(index: int) -> tuple[str, GenStats]:
            stats = GenStats()
            text = "".join(self.generate(conversations[index], item_params[index], flag, stats))
            return text, stats

        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, total), thread_name_prefix="patchloop-openai-batch"
        )
        try:
            pending: dict[Future[tuple[str, GenStats]], int] = {
                pool.submit(answer, index): index for index in range(total)
            }
            while pending:
                done, _ = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                for future in done:
                    index = pending.pop(future)
                    try:
                        results[index] = future.result()
                    except ModelError as exc:
                        if errors == "return":
                            results[index] = exc
                        else:
                            raise ModelError(f"request {index + 1} of {total} failed: {exc}") from exc
                    if on_result is not None:
                        on_result(index, results[index])
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    # ----- helpers the CLI may use -----

    def served_models(self) -> list[str]:
        """The model names the server lists at GET /models; ModelError when it cannot say."""
        url = f"{self.base_url}/models"
        try:
            response = self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise self._error(f"cannot reach the server at {self.base_url}: {exc} — is it running?") from exc
        if response.status_code != 200:
            raise self._error(
                f"the server at {self.base_url} did not list its models (HTTP {response.status_code}): "
                f"{error_message(response)}"
            )
        try:
            data = response.json().get("data") or []
            return [str(entry["id"]) for entry in data if isinstance(entry, dict) and "id" in entry]
        except (ValueError, AttributeError) as exc:
            raise self._error(f"the server at {self.base_url} sent an unreadable model list") from exc

    # ----- internals -----

    def _request_body(self, messages: Sequence[Message], params: GenParams) -> dict[str, Any]:
        sampling = params.temperature > 0
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(message) for message in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_new_tokens,
            "temperature": float(params.temperature) if sampling else 0.0,  # 0 is greedy on every server
        }
        if params.top_p < 1.0:
            body["top_p"] = params.top_p
        if sampling and params.top_k > 0:
            # Not in OpenAI's schema; vLLM, SGLang, llama.cpp and Ollama accept it. Only sent when asked for.
            body["top_k"] = params.top_k
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    def _error(self, message: str) -> ModelError:
        return ModelError(self._redact(message))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_DELAY_SECONDS)
        delay = self.retry_base_delay * (2**attempt)
        # Jitter spreads out many clients (a batch) that failed at the same moment.
        return min(delay + random.uniform(0, delay / 2), MAX_RETRY_DELAY_SECONDS)

    def _status_failure(self, response: httpx.Response) -> Exception:
        """Turn a non-200 answer into a Retryable or a ModelError that says what to do."""
        status = response.status_code
        message = error_message(response)
        detail = f": {message}" if message else ""
        where = f"the server at {self.base_url}"
        if status in RETRY_STATUSES:
            what = "is rate limiting (HTTP 429)" if status == 429 else f"answered HTTP {status}"
            return Retryable(
                f"{where} {what}",
                f"{where} {what} on every try ({self.max_retries + 1} tries){detail}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            if self._api_key:
                hint = f"check the key in ${self.api_key_env} (or the api_key_env setting)"
            else:
                hint = f"no key was sent: put it in ${self.api_key_env} (or name another variable with api_key_env)"
            return self._error(f"{where} refused the request (HTTP {status}){detail} — {hint}")
        says_unknown = says_unknown_model(message, self.model)
        if status == 404 or says_unknown:
            try:
                names: list[str] | None = self.served_models()
            except ModelError:
                names = None
            if says_unknown or (names is not None and self.model not in names):
                served = "it serves: " + ", ".join(names) if names else "it did not list the models it serves"
                return self._error(
                    f"{where} does not serve a model named {self.model!r}{detail} ({served}; "
                    f"pick one with --model openai:NAME)"
                )
            hint = "does base_url end with /v1?"
            if names is None:
                hint += f" Does the server serve a model named {self.model!r}?"
            return self._error(f"{where} answered HTTP 404 for {response.request.url}{detail} — {hint}")
        return self._error(f"{where} answered HTTP {status}{detail}")
