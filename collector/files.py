"""Durable file writes: whole files replaced atomically, temp files named so they can be found.

Everything the collector writes next to its outputs follows the container contract: the final
path, or a hidden temp file in the same directory (``.<name>.<random>.tmp``) that is fsynced and
moved over the final path with ``os.replace``, so a reader sees the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name_prefix(path: Path) -> str:
    """Temp files are hidden and named after their target: ``.<name>.<random>.tmp``."""
    return f".{path.name}."


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Write a file in a temp file beside ``path``, fsync it and move it into place in one step.

    Readers see the old file or the complete new one, never a part. If the block raises, the
    temp file is removed and ``path`` is untouched.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_name_prefix(path), suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed run left for ``path`` (call only while holding the run lock)."""
    stale = [
        candidate
        for candidate in path.parent.glob(f"{temp_name_prefix(path)}*.tmp")
        if candidate.is_file()
    ]
    for candidate in stale:
        candidate.unlink(missing_ok=True)
    return stale
