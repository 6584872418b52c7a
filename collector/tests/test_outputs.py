"""The collector's outputs never replace what it reads or each other: ``--db`` naming a file of
``--output-dir``, or ``--heartbeat`` naming one, is refused at start in one line naming both,
exit 2, every file as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.__main__ import main
from collector.export import (
    CUSTOMERS_CSV,
    KEPT_FILE,
    LOCK_FILE,
    SNAPSHOT_CSV,
    STATE_FILE,
    TORN_FILE,
)
from collector.tests.helpers import AWKWARD_ROWS, make_database


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


@pytest.fixture
def first_run(tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database exported once into ``out``: every output file is there."""
    for name in ("COLLECTOR_HEARTBEAT", "COLLECTOR_DB", "COLLECTOR_OUTPUT_DIR"):
        monkeypatch.delenv(name, raising=False)
    database = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    assert main(["--once", "--db", str(database), "--output-dir", str(out)]) == 0
    (out / TORN_FILE).write_bytes(b"9,torn")
    return database


@pytest.mark.parametrize(
    "name", [CUSTOMERS_CSV, SNAPSHOT_CSV, STATE_FILE, LOCK_FILE, TORN_FILE, KEPT_FILE]
)
def test_the_database_naming_an_output_is_refused_with_every_file_kept(
    first_run: Path, out: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    before = files_of(out)
    capsys.readouterr()
    assert main(["--once", "--db", str(out / name), "--output-dir", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"python -m collector: error: {name} in --output-dir ({out / name}) and --db "
        f"({out / name}) name the same file: the service reads --db and replaces {name} in "
        "--output-dir; give them different paths"
    )
    assert files_of(out) == before


@pytest.mark.parametrize("name", [CUSTOMERS_CSV, SNAPSHOT_CSV, STATE_FILE, LOCK_FILE])
def test_the_heartbeat_naming_an_output_or_the_database_is_refused(
    first_run: Path, out: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    before = files_of(out)
    os.link(out / name, out.parent / "linked")  # another name for the same file
    capsys.readouterr()
    for heartbeat in (out / name, out.parent / "linked"):
        args = ["--once", "--db", str(first_run), "--output-dir", str(out)]
        assert main([*args, "--heartbeat", str(heartbeat)]) == 2
        assert main([*args, "--heartbeat", str(first_run)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4
    assert f"{name} in --output-dir ({out / name}) and --heartbeat" in lines[0]
    assert "and --db" in lines[1]
    assert files_of(out) == before


def test_the_daemon_refuses_at_start(
    first_run: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("servicekit.daemon.run_daemon", None)  # called: a TypeError
    monkeypatch.setenv("COLLECTOR_HEARTBEAT", str(out / CUSTOMERS_CSV))
    assert main(["--db", str(first_run), "--output-dir", str(out)]) == 2
