"""The texts that say where the app stands: the status bar's state (and its tone), model, elapsed time
and settings, and the empty code pane's welcome and model-loading text.

Plain functions of the session and the model's state; the app puts them on the widgets.
"""

from __future__ import annotations

from patchloop.core.config import LoopConfig
from patchloop.core.types import BackendInfo

from .format import elapsed_text
from .session import Session

# The tone of a finished run's state, by stop reason; any other reason is an error.
_STOP_TONES = {"clean": "ok", "t_max": "warn", "repeated": "warn", "cancelled": "warn"}


def run_state(
    session: Session, *, model_state: str, model_stage: str, prompt_queued: bool
) -> tuple[str, str]:
    """The status bar's state text and its tone (ok, busy, warn, error): the run first, else the model."""
    run = session.run
    state, tone = "ready", "ok"
    if model_state == "loading":
        state, tone = f"loading model: {model_stage or 'starting'}", "busy"
        if prompt_queued:
            state += " (prompt queued)"
    elif model_state == "failed":
        state, tone = "model failed to load", "error"
    if session.live and run is not None and session.streaming_index is not None:
        index = session.streaming_index
        if session.cancel is not None and session.cancel.is_set():
            state, tone = f"cancelling v{index}…", "warn"
        elif session.phase == "analyzing":
            state, tone = f"analyzing v{index}", "busy"
        elif session.phase.startswith("sampling"):
            state, tone = f"v{index}: {session.phase}", "busy"
        else:
            state, tone = f"generating v{index}", "busy"
    elif session.live:
        state, tone = "starting the run", "busy"
    elif session.error:
        state, tone = f"error: {session.error}", "error"
    elif run is not None and run.stop_reason:
        best = run.best_index
        prefix = f"run {run.id}: " if session.replay and run.id is not None else ""
        state = f"{prefix}stop: {run.stop_reason}" + (f" · best v{best}" if best is not None else "")
        tone = _STOP_TONES.get(run.stop_reason, "error")
    return state, tone


def model_shown(session: Session, info: BackendInfo | None, configured: str) -> str:
    """A replayed run's model; else the loaded backend's, else the configured spec."""
    if session.replay and session.run is not None:
        return session.run.model
    return info.model if info is not None else configured


def run_time(session: Session, now: float) -> str:
    """Time since the run started while it runs, its length once it ended, else nothing."""
    if session.live:
        return elapsed_text(now - session.run_started)
    if session.run_elapsed is not None:
        return elapsed_text(session.run_elapsed)
    return ""


def settings_text(loop: LoopConfig) -> str:
    return f"{loop.analyzers} · t_max {loop.t_max} · ≥{loop.threshold}"


def placeholder_text(
    session: Session, *, model_state: str, model_stage: str, model_error: str, model_name: str
) -> str:
    """The empty code pane doubles as the welcome screen and the model-loading progress."""
    if session.run is not None:
        return "Waiting for the model's answer…" if session.live else "(no code)"
    paragraphs = [
        (
            "Welcome to patchloop: a local model writes the code, static analyzers check it, and their "
            "findings go back to the model as a patch request until the code is clean."
        ),
        (
            "Type a prompt above and press ctrl+j (or alt+enter) to send. F1 lists every key; ctrl+r opens "
            "the history of past runs, ctrl+o the settings, ctrl+p the command palette."
        ),
    ]
    if model_state == "loading":
        paragraphs.append(
            f"Loading the model {model_name}: {model_stage or 'starting'}… The first start assembles and "
            "caches the model (a minute or two); you can type and send now: the prompt runs as soon as "
            "the model is ready."
        )
    elif model_state == "failed":
        paragraphs.append(
            f"The model {model_name} failed to load: {model_error} "
            "Open the settings (ctrl+o) to pick another model."
        )
    return "\n\n".join(paragraphs)
