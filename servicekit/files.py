"""Whole files replaced atomically, through temp files named so that they can be found.

Every file a service writes whole goes through ``atomic_writer``: a hidden temp file in the same
directory (``.<name>.<random>.tmp``), fsynced, then moved over the final path with
``os.replace``, so a reader sees the old file or the new one, never a part.

A run killed while writing leaves its temp file behind. The writer holds an exclusive ``flock``
on its temp file until it is in place, and the kernel drops that lock when the writer dies: so
any temp file whose lock can be taken is a dead writer's, and every write removes those of its
target first. No run lock is needed for that (ipam has none), and a run still writing, in this
process or another, is never robbed of its file.
"""

from __future__ import annotations

import fcntl
import os
import stat
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
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    return file_kind(mode)


def file_kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, in words, when it is not a regular file; None for a
    regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((words for is_kind, words in kinds if is_kind(mode)), "not a regular file")


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Write a file in a temp file beside ``path``, fsync it and move it into place in one step.

    If the block raises, the temp file is removed and ``path`` is untouched. Temp files that
    killed writers left for ``path`` are removed first.
    """
    remove_stale_temp_files(path)
    fd, temp = _locked_temp_file(path)
    lock = os.dup(fd)  # the same open file: its lock outlives the stream, until after the rename
    try:
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
    finally:
        os.close(lock)
    # Makes the rename durable. Some file systems refuse to fsync a directory: the new file is in
    # place all the same, so that costs durability across a power cut, not the run.
    with suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _locked_temp_file(path: Path) -> tuple[int, str]:
    """A new temp file beside ``path`` whose lock this process holds.

    Between mkstemp and flock another writer may find the file unlocked and remove it as stale;
    the flock then waits for that writer, and the file has no name left: take a new one.
    """
    while True:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_name_prefix(path), suffix=".tmp")
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return fd, temp
        os.close(fd)


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temp files of ``path`` whose writer is gone (their lock is free); the list."""
    removed = []
    for candidate in path.parent.glob(f"{temp_name_prefix(path)}*.tmp"):
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # gone already, a symbolic link, or not ours to read
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a live writer's
            if not os.path.samestat(os.fstat(fd), candidate.lstat()):
                continue  # replaced since it was opened: a new writer's file
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed
