"""Writing the config file without rewriting it.

tomlkit edits the parsed document in place, so the user's comments, key order and layout survive
``patchloop config set``/``unset`` and the app's settings screen; only the keys that change are
touched. Every edit is validated as a whole file before anything is written, and the write is
atomic (a crash never leaves half a file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import Table

from .config import (
    FILE,
    SETTINGS,
    Config,
    ConfigError,
    config_from_data,
    default_config_path,
    unknown_key_message,
)
from .files import write_atomic

_MISSING = object()


def read_document(path: Path) -> tomlkit.TOMLDocument:
    """The file as an editable document; an empty one when there is no file yet."""
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (tomlkit.exceptions.ParseError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None


def write_document(path: Path, doc: tomlkit.TOMLDocument) -> None:
    """Replace the file atomically, keeping its permissions (it may be private)."""
    try:
        write_atomic(path, tomlkit.dumps(doc), keep_mode=True)
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}") from None


def _check_key(key: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    if not name or (section != "keys" and key not in SETTINGS):
        raise ConfigError(unknown_key_message(key))
    return section, name


def _table(doc: tomlkit.TOMLDocument, section: str, path: Path, create: bool) -> Any:
    table = doc.get(section)
    if table is None:
        if not create:
            return None
        table = tomlkit.table()
        doc[section] = table
        return doc[section]
    if not isinstance(table, dict):
        raise ConfigError(f"{section} in {path} must be a [{section}] table, not {table!r}")
    return table


def _put(table: Any, name: str, value: Any) -> None:
    """Set ``name`` in ``table``: in place when it is there (its comment kept), else right after the
    table's last key, so it does not land below the blank line and comment that head the next table."""
    container = table.value if isinstance(table, Table) else table
    if name in table or not isinstance(container, Container):
        table[name] = value  # (a table split over the file is a proxy: tomlkit places the key)
        return
    last = next((key for key, _ in reversed(container.body) if key is not None), None)
    try:
        if last is None:
            raise TypeError("no key to insert after")
        container._insert_after(last.key, name, value)  # private, so guarded: append otherwise
    except (AttributeError, TypeError):
        table[name] = value


def _stored(doc: tomlkit.TOMLDocument, section: str, name: str) -> Any:
    table = doc.get(section)
    if not isinstance(table, dict) or name not in table:
        return _MISSING
    value = table[name]
    return value.unwrap() if hasattr(value, "unwrap") else value


def set_value(path: Path, key: str, value: Any, check: Callable[[Config], None] | None = None) -> Config:
    """Set ``key`` in the file at ``path`` (created with its folder if missing); returns the file's
    config after the change. Nothing is written if the result would be invalid, or if ``check``
    (more rules, such as the app's keymap) raises ``ConfigError`` on it."""
    section, name = _check_key(key)
    doc = read_document(path)
    table = _table(doc, section, path, create=True)
    assert table is not None
    _put(table, name, value)
    config = config_from_data(doc.unwrap(), path)
    if check is not None:
        check(config)
    write_document(path, doc)
    return config


def unset_value(path: Path, key: str) -> tuple[bool, Config]:
    """Remove ``key`` from the file (its default applies again). Returns whether it was there and
    the file's config after the change; a missing file is left missing."""
    section, name = _check_key(key)
    doc = read_document(path)
    table = _table(doc, section, path, create=False)
    if table is None or name not in table:
        return False, config_from_data(doc.unwrap(), path)
    del table[name]
    config = config_from_data(doc.unwrap(), path)
    write_document(path, doc)
    return True, config


def save_config(config: Config, path: str | Path | None = None) -> Path:
    """Write the settings that differ from the file into it, in place.

    A value an environment variable or CLI flag set (``config.overridden``) is left out unless it
    was changed since: an override is for one process, not for the file. Unknown sections stay."""
    path = Path(path or config.path or default_config_path()).expanduser()
    doc = read_document(path)
    changes: dict[str, Any] = {}
    wanted = {key: config.get(key) for key in SETTINGS}
    wanted.update({f"keys.{binding}": keys for binding, keys in config.keys.items()})
    for key, value in wanted.items():
        if key in config.overridden and config.overridden[key] == value:
            continue
        section, _, name = key.partition(".")
        stored = _stored(doc, section, name)
        unchanged = (
            value == SETTINGS[key].default if stored is _MISSING and key in SETTINGS else stored == value
        )
        if not unchanged:
            changes[key] = value
    for section, data in config.extra.items():
        if section not in doc:  # saving to a new file: carry the unknown sections over
            doc[section] = data
    for key, value in changes.items():
        section, _, name = key.partition(".")
        table = _table(doc, section, path, create=True)
        assert table is not None
        _put(table, name, value)
    write_document(path, doc)
    config.path = path
    for key in changes:
        config.sources[key] = (FILE, str(path))
        config.overridden.pop(key, None)
    return path
