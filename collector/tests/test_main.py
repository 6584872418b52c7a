"""The command line and the real processes: `--once`, the daemon, and a run killed halfway."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.export import CUSTOMERS_CSV, LOCK_FILE, SNAPSHOT_CSV, STATE_FILE, TORN_FILE
from collector.lock import run_lock
from collector.tests.helpers import (
    AWKWARD_ROWS,
    HEADER,
    REPO_ROOT,
    csv_text,
    generated_rows,
    make_database,
    read_records,
    run_collector,
)
from servicekit.reporting import parse_heartbeat


def once(db: Path, out: Path, heartbeat: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_collector(
        "--once", "--db", str(db), "--output-dir", str(out), "--heartbeat", str(heartbeat), *extra
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_once_succeeds_with_one_log_line_and_a_heartbeat(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    completed = once(db, out, tmp_path / "hb")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1
    assert "run ok: rows=5 appended=5 changed=0 deleted=0 written=yes duration=" in lines[0]
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(AWKWARD_ROWS)]
    beat = parse_heartbeat((tmp_path / "hb").read_text())
    assert beat["status"] == "ok"
    assert beat["rows"] == "5"
    assert int(beat["last_success_epoch"]) >= int(beat["last_attempt_epoch"])


def test_once_takes_its_defaults_from_the_environment(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    completed = run_collector(
        "--once",
        env={
            "COLLECTOR_DB": str(db),
            "COLLECTOR_OUTPUT_DIR": str(out),
            "COLLECTOR_HEARTBEAT": str(tmp_path / "hb"),
        },
    )
    assert completed.returncode == 0, completed.stderr
    assert (out / CUSTOMERS_CSV).exists()
    assert (tmp_path / "hb").exists()


def test_help_documents_every_option_and_variable() -> None:
    completed = run_collector("--help")
    assert completed.returncode == 0
    for word in (
        "--once",
        "--db",
        "--output-dir",
        "--heartbeat",
        "--interval-seconds",
        "COLLECTOR_DB",
        "COLLECTOR_OUTPUT_DIR",
        "COLLECTOR_HEARTBEAT",
        "COLLECTOR_INTERVAL_SECONDS",
    ):
        assert word in completed.stdout


def test_a_fatal_error_exits_1_with_one_line_and_touches_nothing(tmp_path: Path, out: Path) -> None:
    foreign = b"id;name\r\n"
    (out / CUSTOMERS_CSV).write_bytes(foreign)
    missing = tmp_path / "typo.db"
    completed = once(missing, out, tmp_path / "hb")
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1
    assert f"run failed: database not found: {missing}" in completed.stderr
    assert not missing.exists()
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    completed = once(db, out, tmp_path / "hb")
    assert completed.returncode == 1
    assert "does not start with the expected header" in completed.stderr
    assert (out / CUSTOMERS_CSV).read_bytes() == foreign
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, CUSTOMERS_CSV]
    assert parse_heartbeat((tmp_path / "hb").read_text())["status"] == "failed"


def test_a_run_that_finds_the_lock_taken_says_so_and_writes_nothing(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    heartbeat = tmp_path / "hb"
    heartbeat.write_text("the heartbeat of the run that holds the lock\n")
    with run_lock(out / LOCK_FILE):
        completed = once(db, out, heartbeat)
    assert completed.returncode == 75
    assert completed.stderr.count("\n") == 1
    assert "another collector run holds" in completed.stderr
    assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert heartbeat.read_text() == "the heartbeat of the run that holds the lock\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".hb")] == []


def test_a_bad_interval_is_refused(tmp_path: Path) -> None:
    completed = run_collector("--once", "--interval-seconds", "0")
    assert completed.returncode == 2
    assert "whole number of seconds" in completed.stderr


def start_daemon(db: Path, out: Path, heartbeat: Path, interval: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "COLLECTOR_DB": str(db),
            "COLLECTOR_OUTPUT_DIR": str(out),
            "COLLECTOR_HEARTBEAT": str(heartbeat),
            "COLLECTOR_INTERVAL_SECONDS": str(interval),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr


def test_the_daemon_runs_at_once_then_every_interval_and_exits_0_on_sigterm(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    heartbeat = tmp_path / "hb"
    process = start_daemon(db, out, heartbeat)
    try:
        assert wait_for(heartbeat.exists), "no heartbeat after the first run"
        first = parse_heartbeat(heartbeat.read_text())
        assert first["status"] == "ok"
        assert first["appended"] == "5"
        assert first["interval_seconds"] == "1"
        assert wait_for(
            lambda: (
                parse_heartbeat(heartbeat.read_text())["last_attempt_epoch"]
                != first["last_attempt_epoch"]
            )
        ), "no second run"
        assert process.poll() is None
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    runs = [line for line in stderr.splitlines() if "run ok:" in line]
    assert len(runs) >= 2
    assert "rows=5 appended=5 changed=0 deleted=0 written=yes duration=" in runs[0]
    assert "next_run=20" in runs[0]
    assert "SIGTERM received" in stderr
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(AWKWARD_ROWS)]


def test_a_failed_run_is_retried_within_seconds_not_an_interval(tmp_path: Path, out: Path) -> None:
    db = tmp_path / "later.db"
    heartbeat = tmp_path / "hb"
    process = start_daemon(db, out, heartbeat, interval=3600)
    try:
        assert wait_for(heartbeat.exists)
        assert parse_heartbeat(heartbeat.read_text())["status"] == "failed"
        make_database(db, AWKWARD_ROWS)  # the database shows up: the retry, 5 s on, succeeds
        assert wait_for(lambda: parse_heartbeat(heartbeat.read_text())["status"] == "ok", 15)
    finally:
        code, stderr = stop(process)
    assert code == 0
    failed = [line for line in stderr.splitlines() if "run failed:" in line]
    assert len(failed) == 1, stderr
    assert f"run failed: database not found: {db}; retry at " in failed[0]
    assert failed[0].endswith("(in 5s)")
    assert "Traceback" not in stderr


def test_sigterm_during_a_run_lets_it_finish(tmp_path: Path, out: Path) -> None:
    rows = generated_rows(1, 150_001)
    db = make_database(tmp_path / "c.db", rows)
    heartbeat = tmp_path / "hb"
    process = start_daemon(db, out, heartbeat, interval=3600)
    try:
        in_progress = wait_for(lambda: any(p.name.endswith(".tmp") for p in out.iterdir()))
        assert in_progress, "the first run never started writing"
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    assert "run ok: rows=150000 appended=150000" in stderr
    assert stderr.index("SIGTERM received") < stderr.index("run ok:"), "signal after the run"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert len(read_records(out / CUSTOMERS_CSV)) == 150_001
    assert parse_heartbeat(heartbeat.read_text())["status"] == "ok"


def test_a_run_killed_during_a_large_append_loses_and_duplicates_nothing(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 1001))
    assert once(db, out, tmp_path / "hb").returncode == 0
    path = out / CUSTOMERS_CSV
    size = path.stat().st_size
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", generated_rows(1001, 200_001)
        )
    connection.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "--once", "--db", str(db), "--output-dir", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "COLLECTOR_HEARTBEAT": str(tmp_path / "hb")},
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: path.stat().st_size > size), "the append never started"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    cut = path.stat().st_size
    assert size < cut
    completed = once(db, out, tmp_path / "hb")
    assert completed.returncode == 0, completed.stderr
    records = read_records(path)
    assert records == [HEADER, *csv_text(generated_rows(1, 200_001))]
    assert read_records(out / SNAPSHOT_CSV) == records
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_readers_only_ever_see_a_complete_snapshot(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 101))
    assert once(db, out, tmp_path / "hb").returncode == 0
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", generated_rows(101, 60_001)
        )
    connection.close()
    snapshot = out / SNAPSHOT_CSV
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "--once", "--db", str(db), "--output-dir", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "COLLECTOR_HEARTBEAT": str(tmp_path / "hb")},
        stderr=subprocess.DEVNULL,
    )
    sizes = set()
    while process.poll() is None:
        sizes.add(len(read_records(snapshot)))
    sizes.add(len(read_records(snapshot)))
    assert process.returncode == 0
    # The old file while the run was writing the new one (Python alone takes longer to start than
    # a first read), then the new one: never anything in between.
    assert sizes == {101, 60_001}


def test_a_daemon_started_while_another_run_holds_the_lock_is_healthy_soon_after(
    tmp_path: Path, out: Path
) -> None:
    """Its first run is skipped; the retry comes in seconds, not after a whole interval."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    heartbeat = tmp_path / "hb"
    with run_lock(out / LOCK_FILE):
        process = start_daemon(db, out, heartbeat, interval=3600)
        time.sleep(4)  # the daemon starts and its first run finds the lock held
        assert not heartbeat.exists()
    try:
        assert wait_for(heartbeat.exists, 15), "no retry within seconds"
        assert parse_heartbeat(heartbeat.read_text())["status"] == "ok"
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert "run skipped: another collector run holds" in stderr


def test_a_fifo_as_the_heartbeat_is_refused_in_one_line_not_waited_on(
    tmp_path: Path, out: Path
) -> None:
    """Reading the last success from a FIFO waited for a writer forever. The
    timeout turns a regression into a failure instead of a hung test run."""
    fifo = tmp_path / "hb"
    os.mkfifo(fifo)
    missing = tmp_path / "missing.db"  # a failed run reads the last success from the heartbeat
    completed = run_collector(
        "--once", "--db", str(missing), "--output-dir", str(out), "--heartbeat", str(fifo),
        timeout=20,
    )  # fmt: skip
    assert completed.returncode == 1
    lines = completed.stderr.splitlines()
    assert len(lines) == 2, lines
    assert "run failed: database not found" in lines[0]
    assert lines[1].endswith(
        f"ERROR collector: could not write the heartbeat {fifo}: it is a FIFO (named pipe), "
        "not a regular file"
    )
    assert fifo.is_fifo()
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    completed = once(db, out, fifo)
    assert completed.returncode == 0  # the run's outcome; the heartbeat's failure is logged
    assert "could not write the heartbeat" in completed.stderr
    assert fifo.is_fifo()


FORGED_RUN = "2026-12-03T10:00:00Z INFO collector: run ok: rows=1 appended=0 written=yes"


def test_a_column_name_cannot_forge_a_log_line_or_a_heartbeat_line(
    tmp_path: Path, out: Path
) -> None:
    """A failed run's message lists the columns; one named with a newline and
    a fake "run ok" line printed that line. One run, one log line, whatever the table holds."""
    db = make_database(
        tmp_path / "c.db",
        [(1, "a")],
        f'CREATE TABLE customers (id INTEGER PRIMARY KEY, "x\n{FORGED_RUN}" TEXT)',
    )
    heartbeat = tmp_path / "hb"
    completed = once(db, out, heartbeat)
    assert completed.returncode == 1
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, lines
    columns = f"(it has: id, x\\n{FORGED_RUN})"
    assert lines[0].endswith(
        f"ERROR collector: run failed: the 'customers' table has no 'job' column {columns}"
    )
    text = heartbeat.read_text(encoding="ascii")
    assert len(text.splitlines()) == len(parse_heartbeat(text))
    assert parse_heartbeat(text)["status"] == "failed"


@pytest.mark.parametrize("name", [CUSTOMERS_CSV, SNAPSHOT_CSV, STATE_FILE, TORN_FILE])
def test_a_fifo_among_the_outputs_is_refused_in_one_line_not_waited_on(
    tmp_path: Path, out: Path, name: str
) -> None:
    """Opening a FIFO to read customers.csv or the state, or to append to customers.csv or its
    .torn, waits for the other end: forever, the lock held. The timeout turns a regression into a
    failure instead of a hung test run."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    assert once(db, out, tmp_path / "hb").returncode == 0
    (out / CUSTOMERS_CSV).write_bytes((out / CUSTOMERS_CSV).read_bytes() + b"9,torn")
    (out / name).unlink(missing_ok=True)
    os.mkfifo(out / name)
    completed = run_collector(
        "--once", "--db", str(db), "--output-dir", str(out), timeout=20
    )  # fmt: skip
    assert completed.returncode == 1
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"run failed: {out / name} is a FIFO (named pipe), not a regular file; it is left alone"
    )
    assert (out / name).is_fifo()
