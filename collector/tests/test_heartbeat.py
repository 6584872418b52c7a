"""The heartbeat file and the bookkeeping of one run (status, counts, last success kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

import collector.__main__ as collector_main
from collector.export import LOCK_FILE
from collector.heartbeat import Heartbeat, format_heartbeat, parse_heartbeat
from collector.lock import run_lock
from collector.runs import Settings, perform_run
from collector.tests.helpers import AWKWARD_ROWS, make_database


def test_the_format_is_key_value_lines_sh_can_read() -> None:
    beat = Heartbeat("failed", 1700000000, None, 300, error="bad\nthing = here")
    text = format_heartbeat(beat)
    assert text.endswith("\n")
    assert all(line.count("=") >= 1 for line in text.splitlines())
    pairs = parse_heartbeat(text)
    assert pairs["status"] == "failed"
    assert pairs["last_attempt_epoch"] == "1700000000"
    assert pairs["last_attempt"] == "2023-11-14T22:13:20Z"
    assert pairs["last_success_epoch"] == ""
    assert pairs["error"] == "bad thing = here"  # one line, whatever the message


def test_a_failed_run_keeps_the_last_success_and_a_later_run_updates_it(
    tmp_path: Path, out: Path
) -> None:
    heartbeat = tmp_path / "hb"
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    settings = Settings(db, out, heartbeat, 300)
    assert perform_run(settings, next_run=lambda: None) == "ok"
    first = parse_heartbeat(heartbeat.read_text())
    assert (first["rows"], first["appended"], first["changed"], first["deleted"]) == (
        "5",
        "5",
        "0",
        "0",
    )
    broken = Settings(tmp_path / "missing.db", out, heartbeat, 300)
    assert perform_run(broken, next_run=lambda: None) == "failed"
    failed = parse_heartbeat(heartbeat.read_text())
    assert failed["status"] == "failed"
    assert failed["last_success_epoch"] == first["last_success_epoch"]
    assert "database not found" in failed["error"]
    assert failed["rows"] == ""


def test_a_heartbeat_that_cannot_be_written_does_not_fail_the_run(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    settings = Settings(db, out, tmp_path / "no such dir" / "hb", 300)
    assert perform_run(settings, next_run=lambda: None) == "ok"
    assert (out / "customers.csv").exists()


def test_a_run_that_finds_the_lock_taken_leaves_the_heartbeat_alone(
    tmp_path: Path, out: Path
) -> None:
    heartbeat = tmp_path / "hb"
    settings = Settings(make_database(tmp_path / "c.db", AWKWARD_ROWS), out, heartbeat, 300)
    assert perform_run(settings, next_run=lambda: None) == "ok"
    before = heartbeat.read_bytes()
    with run_lock(out / LOCK_FILE):
        assert perform_run(settings, next_run=lambda: None) == "busy"
    assert heartbeat.read_bytes() == before


def test_a_manual_once_run_leaves_the_daemons_heartbeat_alone(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker compose exec collector python -m collector --once --db typo` must not make the
    running daemon unhealthy: --once writes a heartbeat only when one is named."""
    daemons_heartbeat = tmp_path / "daemon.heartbeat"
    monkeypatch.setattr(collector_main, "DEFAULT_HEARTBEAT", str(daemons_heartbeat))
    monkeypatch.delenv("COLLECTOR_HEARTBEAT", raising=False)
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    assert (
        collector_main.main(["--once", "--db", str(tmp_path / "typo.db"), "--output-dir", str(out)])
        == 1
    )
    assert collector_main.main(["--once", "--db", str(db), "--output-dir", str(out)]) == 0
    assert not daemons_heartbeat.exists()

    monkeypatch.setenv("COLLECTOR_HEARTBEAT", str(tmp_path / "named.heartbeat"))
    assert collector_main.main(["--once", "--db", str(db), "--output-dir", str(out)]) == 0
    assert parse_heartbeat((tmp_path / "named.heartbeat").read_text())["status"] == "ok"
    assert not daemons_heartbeat.exists()
