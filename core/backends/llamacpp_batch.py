"""The scheduler of one ``LlamaEngine.run``: jobs waiting, jobs live in sequence slots, one
``llama_decode`` per step (continuous batching, prefix reuse, prompt lookup).

It works on the engine's KV bookkeeping (``_slots``, ``_forget``, ``_decode``) directly: the two
are one component split in two files, the engine owning the model and context, this the steps.
"""

from __future__ import annotations

import codecs
import collections
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..types import GenParams
from .base import ModelError, held_back, stop_index

if TYPE_CHECKING:
    import threading


class LlamaEngine(Protocol):
    """What a ``Batch`` uses of its engine (llamacpp_engine.LlamaEngine, which imports this module):
    the C library and context, the per-slot token bookkeeping, and the engine's decode and sampling steps."""

    _llama: Any
    _ctx: Any
    _memory: Any
    _slots: list[list[int]]
    lookup: int
    n_batch: int
    n_ctx: int
    n_seq_max: int

    def _adapt_threads(self) -> None: ...
    def _decode(
        self, entries: Sequence[tuple[int, int, int, bool]], cancel: threading.Event | None
    ) -> None: ...
    def _forget(self, seq: int, keep: int = 0) -> None: ...
    def _piece(self, token: int, special: bool = False) -> bytes: ...
    def _sampler(self, sampling: GenParams) -> Any: ...
    def is_end(self, token: int) -> bool: ...


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class Job:
    """One prompt being answered, and what it produced (read after ``LlamaEngine.run``)."""

    prompt: list[int]
    max_new_tokens: int
    # How it picks its tokens (greedy at temperature 0); the job's own max_new_tokens is the one read.
    sampling: GenParams = field(default_factory=GenParams)
    tokens: list[int] = field(default_factory=list)  # generated, the end token included when sampled
    pieces: list[str] = field(default_factory=list)
    first_token_seconds: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)


@dataclass
class Live:
    """A job decoding in a sequence slot."""

    index: int
    seq: int
    sampler: Any
    decoder: codecs.IncrementalDecoder
    todo: list[int]  # prompt tokens not yet in the cache
    next_token: int | None = None  # drawn, to be fed at the next decode
    draft_len: int = 4  # tokens of prompt lookup to try next (grows while drafts are taken)
    shown: int = 0  # a job with stop strings: characters of its answer yielded so far


class Batch:
    """One ``LlamaEngine.run``: jobs waiting, jobs live in slots, one ``llama_decode`` per step.

    Prefix reuse: an admitted job starts from the slot whose cached tokens share the longest prefix
    with its prompt (a free slot is trimmed to it; a live one's prefix is shared through
    ``llama_memory_seq_cp``, which in a unified cache tags the same cells: computed once, stored
    once). A job whose prompt shares more with a prompt still being computed waits one step for it.
    """

    _WAIT_FOR_SHARED = 16  # tokens: below this, computing the shared part again beats waiting a step

    def __init__(
        self,
        engine: LlamaEngine,
        jobs: Sequence[Job],
        cancel: threading.Event | None,
        started: float,
        on_finish: Callable[[int], None] | None,
        max_live: int,
    ):
        self.engine, self.jobs, self.cancel, self.started = engine, jobs, cancel, started
        self.max_live, self.lookup = max_live, engine.lookup
        self.on_finish = on_finish or (lambda index: None)
        self.waiting = collections.deque(range(len(jobs)))
        self.live: dict[int, Live] = {}  # seq -> job

    def free(self) -> None:
        for live in self.live.values():
            self.engine._llama.llama_sampler_free(live.sampler)
        self.live.clear()

    # -- admission

    def _cells_in_use(self) -> int:
        """An upper bound on the KV cells taken now and by the live jobs' future tokens (a shared
        prefix is counted once per sequence that holds it)."""
        engine = self.engine
        stale = sum(len(engine._slots[s]) for s in range(engine.n_seq_max) if s not in self.live)
        reserved = sum(
            len(self.jobs[lv.index].prompt) + self.jobs[lv.index].max_new_tokens for lv in self.live.values()
        )
        return stale + reserved

    def _admit(self) -> None:
        engine = self.engine
        while self.waiting and len(self.live) < self.max_live:
            index = self.waiting[0]
            job = self.jobs[index]
            if job.max_new_tokens == 0:
                self.waiting.popleft()
                self.on_finish(index)
                continue
            prompt = job.prompt
            # Each job decodes at least its last prompt token: its logits pick the first answer token.
            best = max(range(engine.n_seq_max), key=lambda s: common_prefix(engine._slots[s], prompt))
            keep = min(common_prefix(engine._slots[best], prompt), len(prompt) - 1)
            pending = max(
                (common_prefix(self.jobs[lv.index].prompt, prompt) for lv in self.live.values() if lv.todo),
                default=0,
            )
            if min(pending, len(prompt) - 1) > keep + self._WAIT_FOR_SHARED:
                break  # its prefix is being computed for another job: share it next step
            free = [s for s in range(engine.n_seq_max) if s not in self.live]
            seq = best if best in free else max(free, key=lambda s: common_prefix(engine._slots[s], prompt))
            if not self._fits(job, seq, best):
                if self.live:
                    break  # wait for a live job to end and free its cells
                raise ModelError(
                    f"The llama.cpp context ({engine.n_ctx} tokens) is too small for a prompt "
                    f"of {len(prompt)} tokens and {job.max_new_tokens} new ones."
                )
            self.waiting.popleft()
            if seq == best:
                engine._forget(seq, keep)
            else:
                engine._forget(seq)
                if keep:
                    engine._llama.llama_memory_seq_cp(engine._memory, best, seq, 0, keep)
                    engine._slots[seq] = engine._slots[best][:keep]
            self.live[seq] = Live(
                index,
                seq,
                engine._sampler(job.sampling),
                codecs.getincrementaldecoder("utf-8")("replace"),
                list(prompt[keep:]),
            )

    def _fits(self, job: Job, seq: int, best: int) -> bool:
        """Whether the job's cells fit beside the others', after dropping stale caches if need be."""
        engine = self.engine
        wanted = len(job.prompt) + job.max_new_tokens
        if self._cells_in_use() - len(engine._slots[seq]) + wanted <= engine.n_ctx:
            return True
        for s in range(engine.n_seq_max):  # caches of ended jobs: worth less than a live job
            if s not in self.live and s not in (seq, best):
                engine._forget(s)
        return self._cells_in_use() - len(engine._slots[seq]) + wanted <= engine.n_ctx

    # -- decoding

    def steps(self) -> Iterator[tuple[int, str]]:
        engine = self.engine
        while self.waiting or self.live:
            engine._adapt_threads()
            self._admit()
            entries: list[tuple[int, int, int, bool]] = []
            wants: list[tuple[Live, int, list[int]]] = []  # (job, index of its first logits, its draft)
            for live in self.live.values():  # the next token of every answering job, and its draft
                if live.next_token is not None:
                    draft = self._draft(live)
                    start = len(engine._slots[live.seq])
                    wants.append((live, len(entries), draft))
                    entries.extend(
                        (token, start + i, live.seq, True)
                        for i, token in enumerate([live.next_token, *draft])
                    )
            for live in self.live.values():  # then prompts, packed into the rest of the batch
                room = engine.n_batch - len(entries)
                if not live.todo or room <= 0:
                    continue
                chunk, live.todo = live.todo[:room], live.todo[room:]
                start = len(engine._slots[live.seq])
                for i, token in enumerate(chunk):
                    last = not live.todo and i == len(chunk) - 1
                    if last:
                        wants.append((live, len(entries), []))
                    entries.append((token, start + i, live.seq, last))
            if not entries:
                continue  # only jobs without new tokens were admitted; they ended already
            engine._decode(entries, self.cancel)
            for live, first, draft in wants:
                yield from self._accept(live, first, draft, entries)

    def _draft(self, live: Live) -> list[int]:
        """Prompt lookup: the tokens that followed the last place the answer's latest 3 (or 2) tokens
        occur in the prompt or the answer so far. Code answers restate the task's signature and
        docstring, and repeat their own names, so these guesses often hold; each one the model agrees
        with costs no decode step of its own."""
        job = self.jobs[live.index]
        room = min(live.draft_len, self.lookup, job.max_new_tokens - len(job.tokens) - 1)
        if room <= 0:
            return []
        history = job.prompt + job.tokens
        for n in (3, 2):
            key = history[-n:]
            for i in range(len(history) - n - 1, -1, -1):
                if history[i : i + n] == key:
                    return history[i + n : i + n + room]
        return []

    def _accept(self, live: Live, first: int, draft: list[int], entries) -> Iterator[tuple[int, str]]:
        """Draw from the logits of the job's fed token, then of each draft token while the draw agrees
        with the draft (the same draws as one token per decode, so greedy and seeded answers do not
        change, float rounding aside); the cells of the draft tokens it did not take are dropped."""
        engine = self.engine
        j = 0  # the loop below runs at least once; this is for the type checker
        for j in range(len(draft) + 1):
            token = engine._llama.llama_sampler_sample(live.sampler, engine._ctx, first + j)
            yield from self._take(live, token)
            if live.next_token is None or j == len(draft) or token != draft[j]:
                break
            live.next_token = None  # the draft already put this token in the cache
        if draft:
            taken = j  # draft tokens whose cells hold the answer's tokens
            if taken < len(draft):
                engine._forget(live.seq, entries[first][1] + 1 + taken)
            live.draft_len = (
                min(self.lookup, 2 * live.draft_len) if taken == len(draft) else max(2, taken + 1)
            )

    def _take(self, live: Live, token: int) -> Iterator[tuple[int, str]]:
        """Record a drawn token; end the job at its end token or its limit."""
        engine, job = self.engine, self.jobs[live.index]
        if job.first_token_seconds is None:
            job.first_token_seconds = time.perf_counter() - self.started
        job.tokens.append(token)
        live.next_token = None
        # A job with stop strings shows its text through _show, which holds back what may begin one.
        direct = not job.sampling.stop
        ended = stopped = engine.is_end(token)
        if not ended:
            piece = live.decoder.decode(engine._piece(token))
            if piece:
                job.pieces.append(piece)
                stopped = self._reached_stop(job, len(piece))
                if direct:
                    yield live.index, piece
            ended = stopped or len(job.tokens) >= job.max_new_tokens
        if not ended:
            yield from self._show(live, job)
            live.next_token = token
            return
        tail = "" if stopped else live.decoder.decode(b"", final=True)
        if tail:
            job.pieces.append(tail)
            if direct:
                yield live.index, tail
        yield from self._show(live, job, final=True)
        engine._llama.llama_sampler_free(live.sampler)
        del self.live[live.seq]
        # Keep of its cells only what a later prompt can start from: the part some waiting prompt
        # shares, or (none waiting) its own prompt for the next call. llama.cpp attends over every
        # used cell of the unified cache, so an ended answer left in it slows every later decode.
        prompt = job.prompt
        keep = max((common_prefix(self.jobs[i].prompt, prompt) for i in self.waiting), default=len(prompt))
        engine._forget(live.seq, min(keep, len(engine._slots[live.seq])))
        self.on_finish(live.index)

    @staticmethod
    def _reached_stop(job: Job, added: int) -> bool:
        """Whether the piece just added (``added`` characters) completes one of the job's stop strings;
        if so the answer is cut where that string begins."""
        stops = job.sampling.stop
        if not stops:
            return False
        text = job.text
        longest = max(len(stop) for stop in stops)
        at = stop_index(text, stops, max(0, len(text) - added - longest))
        if at is None:
            return False
        job.pieces[:] = [text[:at]]
        return True

    @staticmethod
    def _show(live: Live, job: Job, final: bool = False) -> Iterator[tuple[int, str]]:
        """A job with stop strings: yield its text not yet yielded, less an end that may begin one."""
        if not job.sampling.stop:
            return
        text = job.text
        end = len(text) if final else len(text) - held_back(text, job.sampling.stop)
        if end > live.shown:
            yield live.index, text[live.shown : end]
            live.shown = end
