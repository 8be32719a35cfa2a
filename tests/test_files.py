"""write_atomic: whole files or nothing, and never a device swapped for a plain file."""

import os
import stat
import threading

import pytest
from patchloop.core.files import write_atomic


def test_a_file_is_replaced_whole_with_its_mode_kept_when_asked(tmp_path):
    target = tmp_path / "sub" / "config.toml"
    write_atomic(target, "a = 1\n")
    assert target.read_text() == "a = 1\n"
    target.chmod(0o600)
    write_atomic(target, "a = 2\n", keep_mode=True)
    assert target.read_text() == "a = 2\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
    write_atomic(target, "a = 3\n")
    assert stat.S_IMODE(target.stat().st_mode) != 0o600  # a new file follows the umask
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.toml"]  # no partial left


def test_a_pipe_is_written_through_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_atomic(fifo, "pairs\n")
    reader.join(5)
    assert got == ["pairs\n"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_folder_is_an_error_and_is_left_alone(tmp_path):
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []
