"""Getting work out of the app: the shown code to the clipboard or a file, the run to JSON or Markdown.

A mixin of ``PatchloopApp`` (it runs as the app: ``self`` is the App). Files are created, never
overwritten; the user picks the name in the file dialog.
"""

from __future__ import annotations

from pathlib import Path

from .export import run_json, run_markdown
from .host import AppMixin
from .screens.main import shown_code
from .screens.path import PathScreen
from .session import Session


class RunOutputs(AppMixin):
    session: Session  # set by the app

    def _code_for(self, index: int | None) -> tuple[int, str] | None:
        run = self.session.run
        if run is None or index is None or index >= len(run.iterations):
            self.notify("No code to copy or save yet.", severity="warning")
            return None
        it = run.iterations[index]
        streaming = self.session.live and index not in self.session.finished
        code = shown_code(it, self.session.stream if streaming else None)
        if not code:
            self.notify(f"v{index} has no code.", severity="warning")
            return None
        return it.index, code

    def copy_code(self, index: int | None) -> None:
        found = self._code_for(index)
        if found is None:
            return
        index, code = found
        self.copy_to_clipboard(code)
        self.notify(f"v{index} copied to the clipboard ({len(code.splitlines())} lines).", timeout=3)

    def save_code(self, index: int | None) -> None:
        found = self._code_for(index)
        if found is None:
            return
        index, code = found
        run_id = self.session.run.id if self.session.run else None
        default = f"patchloop-run{run_id}-v{index}.py" if run_id is not None else f"patchloop-v{index}.py"

        def write(path: Path | None) -> None:
            if path is not None:
                self._write_file(path, code, f"v{index}")

        self.push_screen(PathScreen(f"Save the code of v{index} to", default), write)

    def export_run(self, fmt: str | None = None) -> None:
        run = self.session.run
        if run is None:
            self.notify("No run to export yet.", severity="warning")
            return
        if self.session.live:
            self.notify("Wait for the run to finish (or cancel it) before exporting.", severity="warning")
            return
        stem = f"patchloop-run{run.id}" if run.id is not None else "patchloop-run"
        default = f"{stem}.{'md' if fmt == 'markdown' else 'json'}"
        labels = dict(self.session.labels)

        def write(path: Path | None) -> None:
            if path is None:
                return
            markdown = fmt == "markdown" or (fmt is None and path.suffix.lower() in (".md", ".markdown"))
            text = run_markdown(run, labels) if markdown else run_json(run, labels)
            self._write_file(path, text, f"run {run.id}")

        self.push_screen(PathScreen("Export the run (.json, or .md for Markdown) to", default), write)

    def _write_file(self, path: Path, text: str, what: str) -> None:
        try:
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite a file
                handle.write(text)
        except FileExistsError:
            self.notify(f"{path} already exists; nothing was written. Pick another name.", severity="error")
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
        else:
            self.notify(f"{what} saved to {path}", timeout=4)
