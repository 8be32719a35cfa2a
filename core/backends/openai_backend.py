"""Chat completions from any OpenAI-compatible server: vLLM, SGLang, Ollama, llama.cpp's llama-server.

Every request streams over server-sent events (``stream: true``). The HTTP work of one request runs
on a small worker thread that feeds a queue; the caller's generator reads the queue and checks its
cancel event between reads, so cancelling takes effect at once in every phase of a request (waiting
for the first token, between tokens, during a retry back-off), and the worker's socket is shut down
so the server sees the disconnect and stops generating.

Retries (exponential back-off with jitter, honouring ``Retry-After``) cover connection errors and
HTTP 429/502/503/504, but only until the first token has been handed to the caller: a retry after
that would repeat text the caller already has.

The API key lives in one private attribute and the ``Authorization`` header; every error message
this module raises passes through ``_redact`` in case a server echoes the key back.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, Self

import httpx

from ..types import BackendInfo, Cancelled, GenParams, GenStats, Message
from .base import ModelError, ResultFn, per_item_params

__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend"]

log = logging.getLogger(__name__)

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


class _Retryable(Exception):
    """A failure worth another try (only raised before the first token).

    ``reason`` is what the retry log line says; ``final_message`` is the error once tries run out.
    """

    def __init__(self, reason: str, final_message: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final_message = final_message
        self.retry_after = retry_after


class _Stopped(Exception):
    """The caller stopped listening; the worker leaves quietly."""


class OpenAIBackend:
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
        worker = _StreamWorker(self, body)
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
        self,
        conversations: Sequence[Sequence[Message]],
        params: GenParams | Sequence[GenParams],
        cancel: threading.Event | None = None,
        *,
        errors: Literal["raise", "return"] = "raise",
        on_result: ResultFn | None = None,
    ) -> list[Any]:
        """Answer many conversations with up to ``concurrency`` requests in flight; results in input order.
        ``on_result(i, answer)`` is called as each request ends.

        ``errors="raise"`` (the Backend protocol's behaviour): the first failed request stops the
        others and raises a ModelError naming it ("request 3 of 10 failed: ..."). ``errors="return"``:
        a failed request's ModelError instance takes the place of its ``(text, stats)`` tuple and the
        rest carry on, so an evaluation can record per-task failures and resume them later.
        Cancellation always raises ``Cancelled``.
        """
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
                f"{_error_message(response)}"
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
        """Turn a non-200 answer into a _Retryable or a ModelError that says what to do."""
        status = response.status_code
        message = _error_message(response)
        detail = f": {message}" if message else ""
        where = f"the server at {self.base_url}"
        if status in RETRY_STATUSES:
            what = "is rate limiting (HTTP 429)" if status == 429 else f"answered HTTP {status}"
            return _Retryable(
                f"{where} {what}",
                f"{where} {what} on every try ({self.max_retries + 1} tries){detail}",
                retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            if self._api_key:
                hint = f"check the key in ${self.api_key_env} (or the api_key_env setting)"
            else:
                hint = f"no key was sent: put it in ${self.api_key_env} (or name another variable with api_key_env)"
            return self._error(f"{where} refused the request (HTTP {status}){detail} — {hint}")
        says_unknown = _says_unknown_model(message, self.model)
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


class _StreamWorker:
    """One streaming request (with its retries), run on a thread, reported through ``events``.

    Events: ("text", str), ("usage", dict), ("error", ModelError), ("done", None).
    """

    def __init__(self, backend: OpenAIBackend, body: dict[str, Any]) -> None:
        self.backend = backend
        self.body = body
        self.url = f"{backend.base_url}/chat/completions"
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.tokens = 0  # text pieces handed over so far: once > 0, never retry
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="patchloop-openai-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the request now: the worker notices, and its socket is shut down so a blocked read
        returns at once (closing the socket from this thread would not wake that read)."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            _shutdown_socket(response)

    def _run(self) -> None:
        try:
            self._with_retries()
        except _Stopped:
            return
        except ModelError as exc:
            self.events.put(("error", exc))
        except Exception as exc:  # a bug or an httpx surprise: still a clear ModelError for the caller
            log.exception("unexpected failure streaming from %s", self.backend.base_url)
            self.events.put(
                ("error", self.backend._error(f"talking to {self.backend.base_url} failed: {exc!r}"))
            )
        else:
            self.events.put(("done", None))

    def _with_retries(self) -> None:
        backend = self.backend
        attempt = 0
        while True:
            try:
                self._attempt()
                return
            except _Retryable as exc:
                if attempt >= backend.max_retries:
                    raise backend._error(exc.final_message) from exc
                delay = backend._retry_delay(attempt, exc.retry_after)
                log.warning(
                    "%s; retrying in %.1f s (try %d of %d)",
                    backend._redact(exc.reason),
                    delay,
                    attempt + 2,
                    backend.max_retries + 1,
                )
                if self._stop.wait(delay):
                    raise _Stopped() from exc
                attempt += 1

    def _attempt(self) -> None:
        backend = self.backend
        if self._stop.is_set():
            raise _Stopped()
        try:
            request = backend._client.build_request("POST", self.url, json=self.body)
            response = backend._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if self._stop.is_set():
                raise _Stopped() from exc
            raise _Retryable(
                f"cannot reach the server at {backend.base_url}: {exc}",
                f"cannot reach the server at {backend.base_url}: {exc} — is it running? "
                f"({backend.max_retries + 1} tries)",
            ) from exc
        except httpx.TransportError as exc:
            if self._stop.is_set():
                raise _Stopped() from exc
            raise self._dropped(exc) from exc
        with self._lock:
            self._response = response
        try:
            if self._stop.is_set():
                raise _Stopped()
            if response.status_code != 200:
                response.read()
                failure = backend._status_failure(response)
                raise failure
            self._read_stream(response)
        finally:
            with self._lock:
                self._response = None
            response.close()

    def _dropped(self, cause: BaseException | str) -> Exception:
        """A connection that ended early: retry while nothing was handed over, else say how far it got."""
        where = self.backend.base_url
        if isinstance(cause, httpx.ReadTimeout):
            return self.backend._error(
                f"the server at {where} sent nothing for {self.backend.timeout:g} s "
                f"(after {self.tokens} tokens) — raise the timeout for slow models"
            )
        if self.tokens == 0:
            message = f"the connection to {where} dropped before the first token: {cause}"
            return _Retryable(message, f"{message} ({self.backend.max_retries + 1} tries)")
        return self.backend._error(f"the connection to {where} dropped after {self.tokens} tokens: {cause}")

    def _read_stream(self, response: httpx.Response) -> None:
        finished = False  # a choice carried a finish_reason: the answer is whole
        done = False  # "[DONE]" arrived
        data_lines: list[str] = []
        try:
            for line in response.iter_lines():
                if self._stop.is_set():
                    raise _Stopped()
                if line.startswith("data:"):
                    data_lines.append(line[5:].removeprefix(" "))
                    continue
                if line.strip() or not data_lines:
                    continue  # comments (": ping"), "event:"/"id:" fields, stray blank lines
                # A blank line ends one event.
                outcome = self._handle_event("\n".join(data_lines))
                data_lines = []
                finished = finished or outcome == "finished"
                if outcome == "done":
                    done = True
                    break
            else:
                if data_lines:  # a last event without its closing blank line
                    outcome = self._handle_event("\n".join(data_lines))
                    finished = finished or outcome == "finished"
                    done = outcome == "done"
        except httpx.TransportError as exc:
            if self._stop.is_set():
                raise _Stopped() from exc
            raise self._dropped(exc) from exc
        if self._stop.is_set():
            raise _Stopped()
        if finished:
            return  # with or without "[DONE]": transformers serve, for one, never sends it
        if done:
            raise self._cut_short()
        raise self._dropped("the stream ended before the answer was complete")

    def _cut_short(self) -> Exception:
        """ "[DONE]" without any finish_reason: the server gave up on this answer without saying why.

        llama-cpp-python's server does this to a running request as soon as another one arrives
        (its interrupt_requests setting, on by default); passing the truncated text on as a whole
        answer would be silent data loss.
        """
        if self.tokens == 0:
            message = f"the server at {self.backend.base_url} ended the stream before the first token"
            return _Retryable(message, f"{message} ({self.backend.max_retries + 1} tries)")
        return self.backend._error(
            f"the server at {self.backend.base_url} ended the answer after {self.tokens} tokens without a "
            f"finish reason (llama-cpp-python's server does this when another request arrives: start it "
            f"with --interrupt_requests False, or use --concurrency 1)"
        )

    def _handle_event(self, data: str) -> str:
        """Act on one SSE data payload; returns "done", "finished" (a finish_reason arrived) or ""."""
        if data.strip() == "[DONE]":
            return "done"
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise self.backend._error(
                f"the server at {self.backend.base_url} sent a stream event that is not JSON: {data[:200]!r}"
            ) from exc
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            raise self.backend._error(
                f"the server at {self.backend.base_url} reported an error after {self.tokens} tokens: "
                f"{_message_from_error(chunk['error'])}"
            )
        outcome = ""
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.tokens += 1
                self.events.put(("text", content))
            if choice.get("finish_reason"):
                outcome = "finished"
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.events.put(("usage", usage))
        return outcome


def _shutdown_socket(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message_from_error(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or json.dumps(error))
    return str(error)


def _error_message(response: httpx.Response) -> str:
    """The server's own words from an error body: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, ..."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if body.get(key):
                return _message_from_error(body[key])[:500]
    return text[:500]


_UNKNOWN_MODEL_PHRASES = (
    "not found",
    "does not exist",
    "unknown model",
    "no such model",
    "not loaded",
    "pinned to",
)


def _says_unknown_model(message: str, model: str) -> bool:
    """Whether an error body says the requested model is not there.

    vLLM: "The model `X` does not exist."; Ollama: 'model "X" not found, try pulling it first';
    transformers serve: "Server is pinned to 'Y'; requested 'X'."
    """
    lowered = message.lower()
    names_it = "model" in lowered or (bool(model) and model in message)
    return names_it and any(phrase in lowered for phrase in _UNKNOWN_MODEL_PHRASES)
