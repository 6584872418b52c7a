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


class StagedFile:
    """A whole file written in a temp file beside its target, moved into place by ``publish``.

    Written first and published last: a run that writes several files can publish each once
    nothing else can fail, so a failed run leaves every one of them as it found it.
    """

    def __init__(self, path: Path, temp: Path, stream: BinaryIO) -> None:
        self.path = path
        self.temp = temp
        self.stream = stream
        self.published = False

    def finish(self) -> os.stat_result:
        """Flush and fsync the content; the status is the published file's (a rename keeps its
        device, inode, size and mtime)."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        return os.fstat(self.stream.fileno())

    def publish(self) -> None:
        """Move the finished file over ``path`` in one step, and make the rename durable."""
        self.finish()
        self.stream.close()
        os.replace(self.temp, self.path)
        self.published = True
        # Some file systems refuse to fsync a directory: the new file is in place all the same,
        # so that costs durability across a power cut, not the run.
        with suppress(OSError):
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextmanager
def staged_writer(path: Path) -> Iterator[StagedFile]:
    """A ``StagedFile`` for ``path``; its temp file is removed unless it was published."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_name_prefix(path), suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        staged = StagedFile(path, Path(temp), os.fdopen(fd, "wb"))
    except BaseException:
        os.close(fd)
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        yield staged
    finally:
        with suppress(OSError):  # the disk that failed the writes may fail this flush
            staged.stream.close()
        if not staged.published:
            staged.temp.unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Write a file in a temp file beside ``path``, fsync it and move it into place in one step.

    If the block raises, the temp file is removed and ``path`` is untouched.
    """
    with staged_writer(path) as staged:
        yield staged.stream
        staged.publish()


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
