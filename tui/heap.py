"""Keeping the garbage collector from stalling the UI mid-stream."""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    """Move everything alive now (imported modules, the loaded model, the widgets) out of the garbage
    collector's reach. With torch, transformers and pandas imported, a full collection walks millions
    of long-lived objects and holds the GIL for a hundred milliseconds or more: the UI would stutter
    mid-stream. Called at start-up, after the model loads and when a run starts (one short pause
    when the user presses send, instead of pauses while tokens stream in)."""
    gc.collect()
    gc.freeze()
