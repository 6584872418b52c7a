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
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class FileIdentity:
    """Which file this is and when it last changed: device, inode, size, mtime in nanoseconds.

    Every write through the file system moves the mtime (and every append the size); replacing the
    file changes the inode. Only an edit that keeps the size and sets the mtime back on purpose, or
    lands within the same tick of the kernel's file clock (a few milliseconds), goes unseen.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of_status(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            return cls.of_status(path.stat())
        except FileNotFoundError:
            return None


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
