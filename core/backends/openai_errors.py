"""What an OpenAI-compatible server's failures mean: the retry signal, ``Retry-After``, and the
server's own words from an error body (OpenAI's, FastAPI's, vLLM's, Ollama's shapes)."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = [
    "Retryable",
    "Stopped",
    "error_message",
    "message_from_error",
    "retry_after_seconds",
    "says_unknown_model",
]


class Retryable(Exception):
    """A failure worth another try (only raised before the first token).

    ``reason`` is what the retry log line says; ``final_message`` is the error once tries run out.
    """

    def __init__(self, reason: str, final_message: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final_message = final_message
        self.retry_after = retry_after


class Stopped(Exception):
    """The caller stopped listening; the worker leaves quietly."""


def retry_after_seconds(value: str | None) -> float | None:
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


def message_from_error(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or json.dumps(error))
    return str(error)


def error_message(response: httpx.Response) -> str:
    """The server's own words from an error body: OpenAI's {"error": {"message"}}, FastAPI's
    {"detail"}, ..."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if body.get(key):
                return message_from_error(body[key])[:500]
    return text[:500]


_UNKNOWN_MODEL_PHRASES = (
    "not found",
    "does not exist",
    "unknown model",
    "no such model",
    "not loaded",
    "pinned to",
)


def says_unknown_model(message: str, model: str) -> bool:
    """Whether an error body says the requested model is not there.

    vLLM: "The model `X` does not exist."; Ollama: 'model "X" not found, try pulling it first';
    transformers serve: "Server is pinned to 'Y'; requested 'X'."
    """
    lowered = message.lower()
    names_it = "model" in lowered or (bool(model) and model in message)
    return names_it and any(phrase in lowered for phrase in _UNKNOWN_MODEL_PHRASES)
