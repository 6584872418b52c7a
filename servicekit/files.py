"""Whole files replaced atomically, through temp files named so that they can be found.

Every file a service writes whole goes through ``atomic_writer``: a hidden temp file in the same
directory (``.<name>.<random>.tmp``), fsynced, then moved over the final path with
``os.replace``, so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o644  # mkstemp creates 0600; whoever reads the outputs needs to read them


def temp_name_prefix(path: Path) -> str:
    """Temp files are hidden and named after their target: ``.<name>.<random>.tmp``."""
    return f".{path.name}."


def not_a_regular_file(path: Path) -> str | None:
    """What stands at ``path`` ("a FIFO (named pipe)", "a directory", ...) when it is there but
    not a regular file; None for a regular file or nothing. Checked before a file is read or
    written: opening a FIFO waits for its other end (forever, for a service's own files), and a
    directory or a device is not a service's to replace."""
    if path.is_file() or not path.exists():
        return None
    kinds = (
        (path.is_dir, "a directory"),
        (path.is_fifo, "a FIFO (named pipe)"),
        (path.is_socket, "a socket"),
        (path.is_char_device, "a character device"),
        (path.is_block_device, "a block device"),
    )
    return next((words for is_kind, words in kinds if is_kind()), "not a regular file")


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Write a file in a temp file beside ``path``, fsync it and move it into place in one step.

    If the block raises, the temp file is removed and ``path`` is untouched.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_name_prefix(path), suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    # Makes the rename durable. Some file systems refuse to fsync a directory: the new file is in
    # place all the same, so that costs durability across a power cut, not the run.
    with suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed run left for ``path`` (only while no other run can write)."""
    stale = [
        candidate
        for candidate in path.parent.glob(f"{temp_name_prefix(path)}*.tmp")
        if candidate.is_file()
    ]
    for candidate in stale:
        candidate.unlink(missing_ok=True)
    return stale
