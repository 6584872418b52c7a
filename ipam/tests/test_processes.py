"""The real daemon process: ``python -m ipam`` runs, retries a failure, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ipam.reporting import parse_heartbeat

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_database(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE prefixes (id INTEGER PRIMARY KEY, prefix TEXT)")
        connection.executemany(
            "INSERT INTO prefixes VALUES (?, ?)", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")]
        )
    connection.close()
    return path


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def status(heartbeat: Path) -> str:
    return parse_heartbeat(heartbeat.read_text())["status"] if heartbeat.exists() else ""


def start_daemon(tmp_path: Path, database: Path, interval: int) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "IPAM_DB": str(database),
        "IPAM_OUTPUT": str(tmp_path / "prefixes.json"),
        "IPAM_HEARTBEAT": str(tmp_path / "hb"),
        "IPAM_INTERVAL_SECONDS": str(interval),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ipam"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    try:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr


def test_the_daemon_runs_at_once_then_every_interval_and_exits_0_on_sigterm(tmp_path):
    database = make_database(tmp_path / "prefixes.db")
    heartbeat = tmp_path / "hb"
    process = start_daemon(tmp_path, database, interval=1)
    try:
        assert wait_for(lambda: status(heartbeat) == "ok"), "no run"
        first = parse_heartbeat(heartbeat.read_text())["last_attempt_epoch"]
        assert wait_for(
            lambda: parse_heartbeat(heartbeat.read_text())["last_attempt_epoch"] != first
        )
    finally:
        stderr = stop(process)
    output = json.loads((tmp_path / "prefixes.json").read_text())
    assert output[1]["parent_prefix"] == "10.0.0.0/8"
    runs = [line for line in stderr.splitlines() if " run ok: " in line]
    assert len(runs) >= 2, stderr
    assert "INFO ipam: run ok: rows=2 valid=2 invalid=0 with_parent=1 written=yes" in runs[0]
    assert "written=no" in runs[1]
    assert "SIGTERM received: finishing the run in progress, then exiting" in stderr
    assert stderr.splitlines()[-1].endswith("INFO ipam: stopped")


def test_a_failed_run_is_retried_within_seconds_not_an_interval(tmp_path):
    database = tmp_path / "later.db"
    heartbeat = tmp_path / "hb"
    process = start_daemon(tmp_path, database, interval=3600)
    try:
        assert wait_for(lambda: status(heartbeat) == "failed")
        make_database(database)  # the database shows up: the retry, 5 s on, succeeds
        assert wait_for(lambda: status(heartbeat) == "ok", 15)
    finally:
        stderr = stop(process)
    (failed,) = [line for line in stderr.splitlines() if "run failed:" in line]
    assert f"ERROR ipam: run failed: database not found: {database}; retry at " in failed
    assert failed.endswith("(in 5s)")
