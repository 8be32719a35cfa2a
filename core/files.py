"""Writing a file the user named, all at once: readers never see half of it.

The text goes to a hidden temporary file beside the target, which then replaces it. A target that
exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is written in place
instead: replacing it would swap a device for a plain file, and as root that breaks the machine.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path


def write_atomic(path: str | Path, text: str, *, keep_mode: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path``; ``keep_mode``: the new file gets the old one's permissions
    (a private config stays private). Raises OSError as the file system reports it."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "is a folder", str(path))
        with open(path, "w", encoding="utf-8") as out:  # a device or a pipe: write through it
            out.write(text)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its file is private (0600) whatever the umask, and the result would be too.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        with open(tmp, "x", encoding="utf-8") as out:
            out.write(text)
        if keep_mode and mode is not None:
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
