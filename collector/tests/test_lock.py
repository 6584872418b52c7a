"""One run at a time: a second run that finds the lock taken writes nothing."""

from __future__ import annotations

import errno
import fcntl
import re
from functools import partial
from pathlib import Path

import pytest

from collector.export import LOCK_FILE, run_once
from collector.lock import run_lock
from collector.tests.helpers import AWKWARD_ROWS, make_database
from servicekit.runs import RunBusyError, RunError, perform_run
from servicekit.tests.helpers import fail_close_of, opened_path


def test_lock_contention_the_second_run_writes_nothing(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with run_lock(out / LOCK_FILE), pytest.raises(RunBusyError, match="another collector run"):
        run_once(db, out)
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert run_once(db, out).appended == 5  # the lock is free again


def test_a_lock_the_file_system_cannot_take_names_the_file(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NFS without a lock manager refuses flock with ENOLCK: the line once said only
    "OSError: [Errno 37] No locks available"."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if opened_path(fd) == str(out / LOCK_FILE):
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    message = f"^cannot take the run lock {re.escape(str(out / LOCK_FILE))}: No locks available$"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]


def test_a_lock_that_fails_to_close_after_the_run_is_a_warning_not_a_failure(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is closed once every output is published: an EIO there once reported a
    failure the run did not have."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    failed = fail_close_of(monkeypatch, out / LOCK_FILE)
    outcome = perform_run(partial(run_once, db, out))
    assert failed == [str(out / LOCK_FILE)]
    assert outcome.status == "ok", outcome.error
    assert (outcome.status, outcome.details["appended"]) == ("ok", "5")
    assert outcome.warnings == (f"cannot close the run lock {out / LOCK_FILE}: Input/output error",)
    monkeypatch.undo()
    assert run_once(db, out).written is False  # the lock was released all the same
