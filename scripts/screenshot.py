"""Save docs/screenshot.svg: the main screen after a real run of the embedded model.

    python scripts/screenshot.py [--out docs/screenshot.svg] [--prompt TEXT] [--size 120x40]

The app runs headless (Textual's test driver) with the configured model, a throwaway log and
t_max 1, so the screen shows a first attempt, its findings and one patch iteration.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from patchloop.core.config import Config
from patchloop.core.log import Log
from patchloop.tui.app import PatchloopApp
from patchloop.tui.widgets.prompt import PromptEditor

PROMPT = "Write a function that runs a shell command given by the user and returns its output"


async def shoot(out: Path, prompt: str, size: tuple[int, int], t_max: int) -> None:
    config = Config()
    config.loop.t_max = t_max
    config.loop.analyzers = "security"
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(Path(tmp) / "log.db")
        app = PatchloopApp(config, log=log)
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 600
            while app.backend is None and time.monotonic() < deadline:  # the model loads in a worker
                if app.model_state == "failed":
                    raise SystemExit(f"the model did not load: {app.model_error}")
                await pilot.pause(0.2)
            editor = app.screen.query_one(PromptEditor)
            editor.focus()
            editor.load_text(prompt)
            await pilot.press("ctrl+j")
            while not (app.session.run and app.session.run.stop_reason) and time.monotonic() < deadline:
                await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)
            app.save_screenshot(filename=out.name, path=str(out.parent))
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.svg"))
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--size", default="120x40", help="columns x rows")
    parser.add_argument("--t-max", type=int, default=1)
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.lower().split("x"))
    asyncio.run(shoot(args.out, args.prompt, (columns, rows), args.t_max))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
