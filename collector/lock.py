"""One run at a time: an exclusive ``flock`` on a dedicated lock file.

The lock file is never replaced or deleted (a lock on a file that gets replaced protects nothing),
and the kernel drops the lock when the process dies, so a killed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servicekit.runs import RunBusyError, on_os_error


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the lock for the block, or raise RunBusyError at once if another run holds it."""
    with on_os_error(f"cannot open the run lock {path}"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusyError(
                f"another collector run holds {path}; this run writes nothing"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock
