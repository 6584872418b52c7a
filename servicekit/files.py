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

import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from servicekit.runs import warn

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

    If the block raises, or anything fails up to the rename, the temp file is removed and
    ``path`` is untouched. The rename is the commit point: ``path`` then holds the new bytes,
    fsynced, and nothing can take them back, so what fails after it (closing the lock's
    descriptor, which reports write-back errors on NFS, CIFS and FUSE mounts; syncing the
    directory) is a warning naming the file, never an error: a caller that took a failure for
    "nothing written" would undo its other files while this one stays published. Temp files
    that killed writers left for ``path`` are removed first.
    """
    remove_stale_temp_files(path)
    fd, temp = _locked_temp_file(path)
    try:  # the same open file: its lock outlives the stream, until after the rename
        lock = os.dup(fd)
    except BaseException:
        _abandon(fd, temp)
        raise
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(fd, FILE_MODE)
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        _abandon(lock, temp)  # the error that stopped the write is the one to report
        raise
    try:
        os.close(lock)
    except OSError as error:
        warn(f"cannot close {path} after it was written and put in place: {_reason(error)}")
    try:
        sync_directory(path.parent)
    except OSError as error:
        warn(
            f"cannot sync directory {path.parent} after {path.name} was put in place: "
            f"{_reason(error)}; a power cut may undo the rename"
        )


def _abandon(fd: int, temp: str) -> None:
    """Remove the temp file, then close ``fd`` (its lock guards the name until it is gone),
    saying nothing: a write that failed raises its own error. A temp file left behind is
    unlocked, so the next write removes it."""
    with suppress(OSError):
        Path(temp).unlink(missing_ok=True)
    with suppress(OSError):
        os.close(fd)


def _reason(error: OSError) -> str:
    return str(error.strerror or error)


# What fsync of a directory fails with on file systems that cannot do it at all: nothing to
# report, nothing to retry.
_NO_DIRECTORY_SYNC = frozenset({errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP})


def sync_directory(directory: Path) -> None:
    """fsync ``directory``, making the files created, renamed or removed in it durable. Nothing
    where that cannot be done (a file system without it, a directory this process may not
    open); an I/O error is raised."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in _NO_DIRECTORY_SYNC:
            raise
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
