"""Write a file atomically, and not at all when its content would not change."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ipam.errors import IpamError

__all__ = ["write_if_changed"]

FILE_MODE = 0o644


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` with ``content`` atomically; False (and no write) when already equal.

    Readers see the old file or the new one, never half of one: the bytes go to a hidden temp
    file in the same directory (same file system, so ``os.replace`` is atomic), are fsynced,
    then renamed over the target. Skipping an unchanged file keeps its mtime, so watchers and
    ``make``-style tools see no change when there is none.
    """
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise IpamError(f"cannot read existing output {path}: {error.strerror}") from error
    try:
        descriptor, temp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise IpamError(f"cannot write output {path}: {error.strerror}") from error
    try:
        with os.fdopen(descriptor, "wb") as temp_file:
            temp_file.write(content)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_name, FILE_MODE)  # mkstemp creates 0600; readers of the output need 0644
        os.replace(temp_name, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise IpamError(f"cannot write output {path}: {error.strerror}") from error
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some file systems refuse, which costs only durability."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
