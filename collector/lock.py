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

from servicekit.runs import RunBusyError, on_os_error, warn


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the lock for the block, or raise RunBusyError at once if another run holds it.

    Closing the lock's descriptor comes after the run has published its output (or failed), so
    an error there fails nothing: it is a warning naming the file (the lock is dropped all the
    same: the descriptor is gone).
    """
    with on_os_error(f"cannot open the run lock {path}"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with on_os_error(f"cannot take the run lock {path}"):  # ENOLCK: NFS without lockd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusyError(
                    f"another collector run holds {path}; this run writes nothing"
                ) from None
        yield
    finally:
        try:
            os.close(fd)  # releases the lock
        except OSError as error:
            warn(f"cannot close the run lock {path}: {error.strerror or error}")
