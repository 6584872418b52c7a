"""One run at a time: a second run that finds the lock taken writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import LockBusyError
from collector.export import LOCK_FILE, run_export
from collector.lock import run_lock
from collector.tests.helpers import AWKWARD_ROWS, make_database


def test_lock_contention_the_second_run_writes_nothing(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with run_lock(out / LOCK_FILE), pytest.raises(LockBusyError, match="another collector run"):
        run_export(db, out)
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert run_export(db, out).appended == 5  # the lock is free again
