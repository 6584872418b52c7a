"""The daemon: schedule settings, clean stop on SIGTERM/SIGINT, and a failing run survived."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

import ipam.daemon as daemon_module
from ipam.daemon import MISFIRE_GRACE_SECONDS, build_scheduler, run_daemon

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_database(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE prefixes (id INTEGER PRIMARY KEY, prefix TEXT)")
        connection.executemany(
            "INSERT INTO prefixes VALUES (?, ?)", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")]
        )
    connection.close()
    return path


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_schedule_runs_at_once_then_every_interval_utc_one_at_a_time(tmp_path):
    scheduler = build_scheduler(tmp_path / "p.db", tmp_path / "p.json", 300)
    [job] = scheduler.get_jobs()
    assert job.trigger.interval == timedelta(seconds=300)
    assert str(job.trigger.timezone) == "UTC"
    assert str(scheduler.timezone) == "UTC"
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 60
    assert job.next_run_time is not None  # first run due now, not after one interval


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_daemon_cleanly_after_runs(tmp_path, caplog, signal_number):
    caplog.set_level(logging.INFO, logger="ipam")
    database = make_database(tmp_path / "prefixes.db")
    output = tmp_path / "prefixes.json"
    previous = signal.getsignal(signal.SIGTERM)

    def stop_when_written() -> None:
        wait_for(lambda: output.exists() and "output unchanged" in caplog.text)
        os.kill(os.getpid(), signal_number)

    threading.Thread(target=stop_when_written, daemon=True).start()
    assert run_daemon(database, output, 0.2) == 0
    assert json.loads(output.read_text())[1]["parent_prefix"] == "10.0.0.0/8"
    assert "output written" in caplog.text
    assert "stopped" in caplog.text
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers restored


def test_a_failing_run_is_logged_and_the_daemon_keeps_going(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="ipam")
    database = tmp_path / "later.db"  # missing at first
    output = tmp_path / "prefixes.json"
    calls = []
    real_run_once = daemon_module.run_once

    def flaky_run_once(db: Path, out: Path):
        calls.append(db)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        if len(calls) == 3:
            make_database(database)
        return real_run_once(db, out)

    monkeypatch.setattr(daemon_module, "run_once", flaky_run_once)

    def stop_when_written() -> None:
        wait_for(output.exists)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_written, daemon=True).start()
    assert run_daemon(database, output, 0.2) == 0
    assert f"run failed: database not found: {database}" in caplog.text
    assert "run failed: RuntimeError: disk on fire" in caplog.text
    assert output.exists()


def test_the_real_daemon_process_writes_then_exits_0_on_sigterm(tmp_path):
    database = make_database(tmp_path / "prefixes.db")
    output = tmp_path / "prefixes.json"
    environment = {
        **os.environ,
        "IPAM_DB": str(database),
        "IPAM_OUTPUT": str(output),
        "IPAM_INTERVAL_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ipam"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(output.exists), "no output from the daemon"
        time.sleep(1.5)  # let the schedule fire again
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert json.loads(output.read_text())[0]["prefix"] == "10.0.0.0/8"
    runs = [line for line in stderr.splitlines() if " run: " in line]
    assert len(runs) >= 2, stderr
    assert "2 rows, 2 valid, 0 invalid, 1 with a parent" in runs[0]
    assert "received SIGTERM, stopping" in stderr
    assert "Traceback" not in stderr
