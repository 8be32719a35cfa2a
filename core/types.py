"""The data that flows through patchloop: findings, analyses, iterations, runs.

Everything here is a plain typed dataclass so it can be logged, serialised to
JSON and shown in the app without any of those layers knowing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from . import times

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def _known_fields(
    cls: type[DataclassInstance], data: dict[str, Any], **lists: Callable[[Any], Any]
) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that ``data`` (a to_dict) holds, other keys left out (older or
    newer logs), each list field named in ``lists`` rebuilt item by item (absent: empty)."""
    fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
    fields.update({name: [make(item) for item in data.get(name, [])] for name, make in lists.items()})
    return fields


Severity = Literal["note", "warning", "error"]  # least severe first: the order of SEVERITY_RANK
SEVERITIES: tuple[str, ...] = get_args(Severity)
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

StopReason = Literal["clean", "t_max", "repeated", "no_code", "model_error", "analyzer_error", "cancelled"]
STOP_REASONS: tuple[str, ...] = get_args(StopReason)

# Where an iteration's code came from: the model's answer to the request, patchloop's deterministic
# rewrites of the previous code, or the best of N sampled candidate repairs.
ORIGINS: tuple[str, ...] = ("model", "autofix", "candidate")

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is as severe as ``threshold`` or more."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[threshold]


WRONG_LANGUAGE = "wrong-language"  # the rule of patchloop's finding for a script in another language


def in_another_language(findings: list[Finding]) -> bool:
    """The code is not in the language asked for (a ``wrong-language`` finding): like an answer
    without code, it ranks below every answer in the right language, whatever its count."""
    return any(f.rule_id == WRONG_LANGUAGE for f in findings)


@dataclass(frozen=True)
class Finding:
    """One analyzer warning about one place in the code."""

    tool: str
    rule_id: str
    severity: str  # error | warning | note
    message: str
    line: int
    column: int = 0
    confidence: str = ""  # high | medium | low | "" when the tool does not say
    cwe: str = ""  # "CWE-78", "" when unknown
    # Other tool:rule ids that reported the same problem and were merged into this one.
    also: tuple[str, ...] = ()
    # Where the flagged code ends, 1-based, the column one past its last character (SARIF's
    # endLine/endColumn); 0 when the tool does not say.
    end_line: int = 0
    end_column: int = 0

    @property
    def key(self) -> str:
        return f"{self.tool}:{self.rule_id}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["also"] = list(self.also)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        fields = _known_fields(cls, data)
        fields["also"] = tuple(fields.get("also") or ())
        return cls(**fields)


@dataclass
class AnalyzerResult:
    """What one analyzer said about one piece of code.

    ``error`` is set when the analyzer crashed, timed out or is missing; such a
    result is never "clean", whatever ``findings`` holds.
    """

    analyzer: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class SkippedFinding:
    """A finding the skip list dropped, and the skip entry that dropped it: not part of the verdict,
    but SARIF output lists it as suppressed so a code-scanning service knows it was seen."""

    finding: Finding
    entry: str


@dataclass
class Analysis:
    """A suite's merged verdict on one piece of code."""

    findings: list[Finding] = field(default_factory=list)  # merged, skip-list applied, all severities
    results: list[AnalyzerResult] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[SkippedFinding] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f"{r.analyzer}: {r.error}" for r in self.results if r.error]

    def flagged(self, threshold: str = "note") -> list[Finding]:
        return [f for f in self.findings if severity_at_least(f.severity, threshold)]

    def is_clean(self, threshold: str = "note") -> bool:
        return not self.errors and not self.flagged(threshold)


@dataclass
class GenParams:
    """Decoding settings. temperature 0 means greedy, as in the paper."""

    max_new_tokens: int = 768
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    # Strings that end an answer where one first appears (it is left out): the evaluation's benchmarks
    # whose answers are one function stop where the model starts demonstrating it (prompts.answer_stops).
    # ``generate_each`` cuts every backend's answers there; the llama.cpp engine also stops decoding.
    stop: tuple[str, ...] = ()


@dataclass
class GenStats:
    """Filled in by a backend while it streams; one per generate() call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_seconds: float | None = None


@dataclass
class BackendInfo:
    """What the status bar and the log say about where tokens come from."""

    backend: str  # "transformers" | "openai" | ...
    model: str  # model id, path or served name
    device: str = "cpu"  # "cpu" | "cuda" | "server"
    quantization: str = ""  # "nf4", "gguf->fp32", ""
    adapter: str = ""
    server: str = ""  # base URL for served models


@dataclass
class Candidate:
    """One of the answers drawn for a repair step; the best becomes the iteration, all are logged."""

    k: int  # 0: the greedy answer; 1..n: sampled
    n: int  # sampled candidates drawn
    temperature: float
    seed: int | None
    response: str
    code: str | None
    findings: list[Finding] = field(default_factory=list)
    analyzer_errors: list[str] = field(default_factory=list)
    tests_passed: bool | None = None
    closeness: float = 0.0  # difflib ratio to the code it repairs (1.0: identical)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    chosen: bool = False
    request: str = "repair"  # repair: shown the code and findings | rewrite: the task and problems only

    def flagged(self, threshold: str) -> list[Finding]:
        return [f for f in self.findings if severity_at_least(f.severity, threshold)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [f.to_dict() for f in self.findings]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(**_known_fields(cls, data, findings=Finding.from_dict))


@dataclass
class Iteration:
    """One generate -> analyze step of the loop (v0 is the first attempt).

    ``origin`` says where the code came from (``ORIGINS``): "autofix" iterations were not
    generated (no tokens), ``fixes`` lists the rewrites applied; "candidate" iterations are the
    best of ``candidates`` (candidate ``candidate`` of ``len(candidates) - 1`` sampled ones).
    """

    index: int
    prompt: list[Message]
    response: str = ""
    code: str | None = None
    findings: list[Finding] = field(default_factory=list)
    analyzer_errors: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    gen_seconds: float = 0.0
    analysis_seconds: float = 0.0
    tests_passed: bool | None = None  # None: no tests known for this prompt
    error: str | None = None  # model error for this iteration
    id: int | None = None  # row id once logged
    origin: str = "model"  # model | autofix | candidate
    candidate: int | None = None  # which candidate became this iteration (0: the greedy answer)
    fixes: list[dict[str, Any]] = field(default_factory=list)  # autofix: [{rule, line, description}]
    candidates: list[Candidate] = field(default_factory=list)  # every answer drawn for this step

    @property
    def origin_label(self) -> str:
        """ "model", "autofix", "candidate 2/4" (what the log and the app show)."""
        if self.origin == "candidate" and self.candidates:
            n = max(c.n for c in self.candidates)
            chosen = [c for c in self.candidates if c.k == self.candidate]
            request = " rewrite" if chosen and chosen[0].request == "rewrite" else ""
            return f"candidate {self.candidate}/{n}{request}"
        return self.origin

    def flagged(self, threshold: str) -> list[Finding]:
        return [f for f in self.findings if severity_at_least(f.severity, threshold)]

    def is_clean(self, threshold: str) -> bool:
        return self.code is not None and not self.analyzer_errors and not self.flagged(threshold)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [f.to_dict() for f in self.findings]
        data["candidates"] = [c.to_dict() for c in self.candidates]
        data["origin_label"] = self.origin_label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Iteration:
        return cls(**_known_fields(cls, data, findings=Finding.from_dict, candidates=Candidate.from_dict))


@dataclass
class Run:
    """A whole loop over one prompt."""

    prompt: str
    model: str
    analyzers: str
    t_max: int
    threshold: str
    language: str = "python"
    backend: str = ""
    server: str = ""
    iterations: list[Iteration] = field(default_factory=list)
    stop_reason: StopReason | None = None
    error: str | None = None
    # ISO 8601 UTC, the log's one time format (core/times.py).
    started_at: str = field(default_factory=times.now)
    finished_at: str | None = None
    source: str = "cli"  # cli | tui | eval:<name> | rounds
    id: int | None = None

    @property
    def best_index(self) -> int | None:
        """Fewest findings at or above the threshold; tests passing first where known; last on ties.

        Iterations without code, with analyzer errors or in another language rank below every
        analyzed one, so a patch that breaks the code is never reported as the answer.
        """
        best: tuple | None = None
        best_index = None
        for it in self.iterations:
            if it.code is None:
                continue
            score = (
                0 if it.analyzer_errors or in_another_language(it.findings) else 1,
                0 if it.tests_passed is False else 1,
                -len(it.flagged(self.threshold)),
            )
            if best is None or score >= best:
                best, best_index = score, it.index
        return best_index

    @property
    def best(self) -> Iteration | None:
        index = self.best_index
        return None if index is None else self.iterations[index]

    @property
    def last(self) -> Iteration | None:
        return self.iterations[-1] if self.iterations else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["iterations"] = [it.to_dict() for it in self.iterations]
        data["best_index"] = self.best_index
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(**_known_fields(cls, data, iterations=Iteration.from_dict))


class Cancelled(Exception):
    """Raised inside a backend stream when the caller's cancel event is set."""
