"""The one small interface every model backend implements."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from ..types import BackendInfo, Cancelled, GenParams, GenStats, Message


class ModelError(RuntimeError):
    """The model could not be loaded or could not answer; the message says why and what to do."""


@runtime_checkable
class Backend(Protocol):
    """Streams a chat completion token by token.

    ``generate`` yields text pieces as they are produced. It must stop promptly
    (raising ``patchloop.core.types.Cancelled``) once ``cancel`` is set, and fill
    ``stats`` (prompt and completion token counts) before it returns.
    Errors are raised as ``ModelError``.
    """

    info: BackendInfo

    def generate(
        self,
        messages: Sequence[Message],
        params: GenParams,
        cancel: threading.Event | None = None,
        stats: GenStats | None = None,
    ) -> Iterator[str]: ...

    def generate_batch(
        self,
        conversations: Sequence[Sequence[Message]],
        params: GenParams | Sequence[GenParams],
        cancel: threading.Event | None = None,
        *,
        errors: Literal["raise", "return"] = "raise",
    ) -> Sequence[tuple[str, GenStats] | ModelError]:
        """Answer many conversations at once (batched or concurrent where the backend can), in input order.

        ``params`` is one setting for all, or one per conversation (the repair step's candidates
        sample at rising temperatures, each with its own seed): ``per_item_params`` spreads it.

        ``errors="return"`` asks for a failed item's ``ModelError`` in its slot instead of raising,
        where the backend can tell items apart (a server can; one process's batch fails as a whole).

        Backends that finish answers at different times may take ``on_result=fn`` too and call
        ``fn(i, answer)`` as answer i ends; callers go through ``generate_each``.
        """
        ...


ResultFn = Callable[[int, Any], None]  # (index, (text, stats) or ModelError)


def begin_answer(cancel: threading.Event | None, stats: GenStats | None) -> GenStats:
    """How every ``generate`` starts: ``Cancelled`` when ``cancel`` is already set, else the stats to
    fill (the caller's, or new ones nobody reads)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return stats if stats is not None else GenStats()


def stop_index(text: str, stops: Sequence[str], start: int = 0) -> int | None:
    """Where the first of ``stops`` to appear in ``text`` (at or after ``start``) begins; None if none does."""
    found = [at for at in (text.find(stop, start) for stop in stops if stop) if at >= 0]
    return min(found) if found else None


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many characters at the end of ``text`` may be the beginning of a stop string: a stream shows
    them only once the next pieces say they are not."""
    return max((k for stop in stops for k in range(1, len(stop)) if text.endswith(stop[:k])), default=0)


def _cut_at_stops(answer: Any, conversation: Sequence[Message], params: GenParams) -> Any:
    """An answer (text, stats) ended at the first of its stop strings after the answer start it was given."""
    if not params.stop or not isinstance(answer, tuple):
        return answer
    text, stats = answer
    start = split_answer_start(conversation)[1]
    at = stop_index(text, params.stop, len(start) if text.startswith(start) else 0)
    return answer if at is None else (text[:at], stats)


def generate_each(
    backend: Backend,
    conversations: Sequence[Sequence[Message]],
    params: GenParams | Sequence[GenParams],
    cancel: threading.Event | None,
    on_result: ResultFn,
    *,
    errors: Literal["raise", "return"] = "return",
) -> Sequence[Any]:
    """``generate_batch`` with ``on_result(i, answer)`` called as each answer ends (so the caller can
    analyze it while the rest decode), or right after the batch for a backend that cannot say. Each
    answer ends at its ``GenParams.stop`` strings, whichever backend made it."""

    def cut(index: int, answer: Any) -> Any:
        item = params if isinstance(params, GenParams) else params[index]
        return _cut_at_stops(answer, conversations[index], item)

    def arrived(index: int, answer: Any) -> None:
        on_result(index, cut(index, answer))

    if "on_result" in inspect.signature(backend.generate_batch).parameters:
        # The protocol leaves on_result out (not every backend takes it); the check above says this one does.
        answers = backend.generate_batch(
            conversations,
            params,
            cancel,
            errors=errors,
            on_result=arrived,  # pyright: ignore[reportCallIssue]
        )
        return [cut(index, answer) for index, answer in enumerate(answers)]
    answers = [
        cut(index, answer)
        for index, answer in enumerate(backend.generate_batch(conversations, params, cancel, errors=errors))
    ]
    for index, answer in enumerate(answers):
        on_result(index, answer)
    return answers


def per_item_params(params: GenParams | Sequence[GenParams], count: int) -> list[GenParams]:
    """One ``GenParams`` per conversation of a batch, from one for all or a list of ``count``."""
    if isinstance(params, GenParams):
        return [params] * count
    items = list(params)
    if len(items) != count:
        raise ValueError(f"{len(items)} generation settings for {count} conversations")
    return items


def split_answer_start(messages: Sequence[Message]) -> tuple[Sequence[Message], str]:
    """A conversation that ends in an assistant message asks for the continuation of that answer, whose
    start is given (HumanEval's signature and docstring, the task's own code): (the conversation before
    it, the start). Otherwise (the conversation, ""). Backends that can continue an answer say so with
    ``continues_answers = True``; their answer text then begins with the start."""
    if messages and messages[-1].get("role") == "assistant":
        return messages[:-1], str(messages[-1].get("content") or "")
    return messages, ""


def with_answer_start(messages: Sequence[Message], start: str) -> list[Message]:
    """``messages`` asking for an answer that begins with ``start`` (the form ``split_answer_start`` reads)."""
    return [*messages, {"role": "assistant", "content": start}]


def continues_answers(backend: Backend) -> bool:
    """Whether ``backend`` continues a given answer start (see ``split_answer_start``)."""
    return bool(getattr(backend, "continues_answers", False))
