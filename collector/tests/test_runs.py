"""One run as the operator sees it: the export's outcome, and a manual run beside the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

import collector.__main__ as collector_main
from collector.export import LOCK_FILE
from collector.lock import run_lock
from collector.reporting import parse_heartbeat
from collector.runs import Settings, perform_run
from collector.tests.helpers import AWKWARD_ROWS, make_database


def test_a_successful_run_reports_its_figures(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    outcome = perform_run(Settings(db, out, None, 300))
    assert outcome.status == "ok"
    assert outcome.summary().startswith(
        "rows=5 appended=5 changed=0 deleted=0 written=yes duration="
    )
    again = perform_run(Settings(db, out, None, 300))
    assert again.summary().startswith("rows=5 appended=0 changed=0 deleted=0 written=no duration=")


def test_a_failed_run_is_one_line_naming_the_cause(tmp_path: Path, out: Path) -> None:
    outcome = perform_run(Settings(tmp_path / "missing.db", out, None, 300))
    assert (outcome.status, outcome.error) == (
        "failed",
        f"database not found: {tmp_path / 'missing.db'}",
    )
    assert outcome.details == {}


def test_an_unexpected_error_is_named_by_its_type(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("collector.runs.run_export", explode)
    outcome = perform_run(Settings(tmp_path / "c.db", out, None, 300))
    assert (outcome.status, outcome.error) == ("failed", "RuntimeError: disk on fire")


def test_a_run_that_finds_the_lock_taken_is_busy(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with run_lock(out / LOCK_FILE):
        outcome = perform_run(Settings(db, out, None, 300))
    assert outcome.status == "busy"
    assert "another collector run holds" in outcome.error
    assert not (out / "customers.csv").exists()


def test_a_manual_once_run_leaves_the_daemons_heartbeat_alone(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker compose exec collector python -m collector --once --db typo` must not make the
    running daemon unhealthy: --once writes a heartbeat only when one is named."""
    daemons_heartbeat = tmp_path / "daemon.heartbeat"
    monkeypatch.setattr(collector_main, "DEFAULT_HEARTBEAT", str(daemons_heartbeat))
    monkeypatch.delenv("COLLECTOR_HEARTBEAT", raising=False)
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    typo = ["--once", "--db", str(tmp_path / "typo.db"), "--output-dir", str(out)]
    assert collector_main.main(typo) == 1
    assert collector_main.main(["--once", "--db", str(db), "--output-dir", str(out)]) == 0
    assert not daemons_heartbeat.exists()

    monkeypatch.setenv("COLLECTOR_HEARTBEAT", str(tmp_path / "named.heartbeat"))
    assert collector_main.main(["--once", "--db", str(db), "--output-dir", str(out)]) == 0
    assert parse_heartbeat((tmp_path / "named.heartbeat").read_text())["status"] == "ok"
    assert not daemons_heartbeat.exists()
