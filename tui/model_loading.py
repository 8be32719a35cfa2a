"""The model's life in the app: loaded off the UI thread at start-up and after a settings change,
its progress shown, a prompt sent meanwhile queued until it is ready.

A mixin of ``PatchloopApp`` (it runs as the app: ``self`` is the App).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from patchloop.core.config import Config
from textual import work

from .heap import freeze_heap
from .host import AppMixin
from .messages import ModelLoaded, ModelLoadFailed, ModelProgress


class ModelLoading(AppMixin):
    # Set by the app's __init__.
    config: Config
    backend: Any | None
    model_state: str  # loading | ready | failed
    model_stage: str  # the loader's latest stage, while loading
    model_error: str  # why it failed
    loading_spec: str  # the spec being loaded; messages about another one are stale
    queued_prompt: str | None  # sent while loading; runs once the model is ready

    @work(group="model", exclusive=True, exit_on_error=False)
    async def load_model(self, spec: str) -> None:
        """Load the backend on a daemon thread (quitting mid-load must not wait for it)."""
        from patchloop.core.backends import ModelError, backend_options, load_backend

        self.model_state, self.model_stage, self.loading_spec = "loading", "starting", spec
        self.refresh_status()
        self.refresh_placeholder()
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        model_settings = replace(self.config.model, name=spec)

        def deliver(setter: Callable[[Any], None], value: Any) -> None:
            if not done.done():
                setter(value)

        def target() -> None:
            try:
                backend = load_backend(
                    spec,
                    **backend_options(
                        model_settings,
                        progress=lambda stage: self.post_message(ModelProgress(str(stage), spec)),
                    ),
                )
            except BaseException as exc:  # noqa: BLE001 - reported in the app, never raised into it
                loop.call_soon_threadsafe(deliver, done.set_exception, exc)
            else:
                loop.call_soon_threadsafe(deliver, done.set_result, backend)

        threading.Thread(target=target, name="patchloop-model-load", daemon=True).start()
        try:
            backend = await done
        except ModelError as exc:
            self.post_message(ModelLoadFailed(str(exc), spec))
        except Exception as exc:  # noqa: BLE001
            self.post_message(ModelLoadFailed(f"{type(exc).__name__}: {exc}", spec))
        else:
            self.post_message(ModelLoaded(backend, spec))

    def on_model_progress(self, message: ModelProgress) -> None:
        if message.spec != self.loading_spec or self.model_state != "loading":
            return
        self.model_stage = message.stage
        self.refresh_status()
        self.refresh_placeholder()

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.spec != self.loading_spec:
            return
        self.backend = message.backend
        self.model_state, self.model_error = "ready", ""
        freeze_heap()
        self.refresh_status()
        self.refresh_placeholder()
        if self.queued_prompt is not None:
            prompt, self.queued_prompt = self.queued_prompt, None
            self.start_run(prompt)

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        if message.spec != self.loading_spec:
            return
        self.model_state, self.model_error = "failed", message.error
        self.queued_prompt = None
        self.refresh_status()
        self.refresh_placeholder()
        self.notify(
            f"{message.error}\nPick another model in the settings (ctrl+o).",
            title=f"Model {message.spec} failed to load",
            severity="error",
            timeout=20,
        )
