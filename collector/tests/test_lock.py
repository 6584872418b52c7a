"""One run at a time: a second run that finds the lock taken writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.export import LOCK_FILE, run_once
from collector.lock import run_lock
from collector.tests.helpers import AWKWARD_ROWS, make_database
from servicekit.runs import RunBusyError


def test_lock_contention_the_second_run_writes_nothing(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with run_lock(out / LOCK_FILE), pytest.raises(RunBusyError, match="another collector run"):
        run_once(db, out)
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert run_once(db, out).appended == 5  # the lock is free again
