"""One streaming chat-completions request, with its retries, run on a worker thread.

The worker reads the server-sent events and reports them through a queue, so the caller's
generator (OpenAIBackend.generate) can check its cancel event between reads; ``stop`` shuts the
socket down so a blocked read returns at once and the server sees the disconnect.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from typing import Any, Protocol

import httpx

from .base import ModelError
from .openai_errors import Retryable, Stopped, message_from_error

__all__ = ["StreamHost", "StreamWorker"]

log = logging.getLogger(__name__)


class StreamHost(Protocol):
    """What a worker uses of its backend (OpenAIBackend), named here so this module needs no import of it."""

    base_url: str
    timeout: float
    max_retries: int
    _client: httpx.Client

    def _error(self, message: str) -> ModelError: ...

    def _redact(self, text: str) -> str: ...

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float: ...

    def _status_failure(self, response: httpx.Response) -> Exception: ...


class StreamWorker:
    """One streaming request (with its retries), run on a thread, reported through ``events``.

    Events: ("text", str), ("usage", dict), ("error", ModelError), ("done", None).
    """

    def __init__(self, backend: StreamHost, body: dict[str, Any]) -> None:
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
            shutdown_socket(response)

    def _run(self) -> None:
        try:
            self._with_retries()
        except Stopped:
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
            except Retryable as exc:
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
                    raise Stopped() from exc
                attempt += 1

    def _attempt(self) -> None:
        backend = self.backend
        if self._stop.is_set():
            raise Stopped()
        try:
            request = backend._client.build_request("POST", self.url, json=self.body)
            response = backend._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if self._stop.is_set():
                raise Stopped() from exc
            raise Retryable(
                f"cannot reach the server at {backend.base_url}: {exc}",
                f"cannot reach the server at {backend.base_url}: {exc} — is it running? "
                f"({backend.max_retries + 1} tries)",
            ) from exc
        except httpx.TransportError as exc:
            if self._stop.is_set():
                raise Stopped() from exc
            raise self._dropped(exc) from exc
        with self._lock:
            self._response = response
        try:
            if self._stop.is_set():
                raise Stopped()
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
            return Retryable(message, f"{message} ({self.backend.max_retries + 1} tries)")
        return self.backend._error(f"the connection to {where} dropped after {self.tokens} tokens: {cause}")

    def _read_stream(self, response: httpx.Response) -> None:
        finished = False  # a choice carried a finish_reason: the answer is whole
        done = False  # "[DONE]" arrived
        data_lines: list[str] = []
        try:
            for line in response.iter_lines():
                if self._stop.is_set():
                    raise Stopped()
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
                raise Stopped() from exc
            raise self._dropped(exc) from exc
        if self._stop.is_set():
            raise Stopped()
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
            return Retryable(message, f"{message} ({self.backend.max_retries + 1} tries)")
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
                f"{message_from_error(chunk['error'])}"
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


def shutdown_socket(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed
