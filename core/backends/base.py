"""The one small interface every model backend implements."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ..types import BackendInfo, GenParams, GenStats, Message


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
        params: GenParams,
        cancel: threading.Event | None = None,
        *,
        errors: str = "raise",
    ) -> list[tuple[str, GenStats] | ModelError]:
        """Answer many conversations at once (batched or concurrent where the backend can), in input order.

        ``errors="return"`` asks for a failed item's ``ModelError`` in its slot instead of raising,
        where the backend can tell items apart (a server can; one process's batch fails as a whole).
        """
        ...
