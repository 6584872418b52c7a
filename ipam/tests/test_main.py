"""The command line and the real processes: ``python -m ipam --once``, its flags and
environment, exit codes and log lines, and the daemon that runs, retries and stops on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

import ipam
import ipam.service
from ipam.__main__ import DEFAULT_HEARTBEAT, main
from ipam.service import RunResult
from ipam.tests.helpers import REPO_ROOT, failure, make_database
from servicekit.cli import MAX_INTERVAL_SECONDS
from servicekit.reporting import parse_heartbeat
from servicekit.settings import Settings

TWO_ROWS = [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")]


def run(database: Path, output: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--once", "--db", str(database), "--output", str(output)])
    return code, capsys.readouterr().err


# -- --once: exit codes and the one log line


def test_once_exits_0_and_logs_one_line_with_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = make_database(tmp_path / "prefixes.db", [*TWO_ROWS, (3, "bad")])
    code, err = run(database, tmp_path / "prefixes.json", capsys)
    assert code == 0
    (line,) = err.splitlines()
    assert " INFO ipam: run ok: rows=3 valid=2 invalid=1 with_parent=1 written=yes" in line
    assert " invalid_ids=3 duration=" in line  # the duration last
    assert re.search(r" duration=\d+\.\d\ds$", line)
    assert not (tmp_path / "hb").exists()


def test_once_writes_a_heartbeat_only_when_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = make_database(tmp_path / "prefixes.db", TWO_ROWS)
    heartbeat = tmp_path / "hb"
    arguments = ["--once", "--db", str(database), "--output", str(tmp_path / "p.json")]
    assert main([*arguments, "--heartbeat", str(heartbeat)]) == 0
    assert parse_heartbeat(heartbeat.read_text())["status"] == "ok"
    capsys.readouterr()


def test_the_log_line_names_the_first_five_invalid_ids_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ipam")
    rows = [(1, "10.0.0.0/8"), (2, "300.1.1.0/24"), (3, None), (4, "10.1.0.0/16"), (5, "")]
    rows += [(row_id, "not-a-prefix") for row_id in range(6, 14)]
    assert run(make_database(tmp_path / "p.db", rows), tmp_path / "p.json", capsys)[0] == 0
    assert "run ok: rows=13 valid=2 invalid=11 with_parent=1 written=yes" in caplog.text
    assert " invalid_ids=2,3,5,6,7,+6more duration=" in caplog.text


def test_a_missing_database_exits_1_with_one_line_and_the_output_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "no-such.db"
    output = tmp_path / "prefixes.json"
    output.write_text("previous")
    code, err = run(database, output, capsys)
    assert code == 1
    assert failure(err) == f"database not found: {database}"
    assert output.read_text() == "previous"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("id INTEGER PRIMARY KEY, cidr TEXT", "has no 'prefix' column"),
        ("id INTEGER PRIMARY KEY, prefix TEXT, parent_prefix TEXT", "column named 'parent_prefix'"),
    ],
)
def test_an_unusable_table_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: str, message: str
) -> None:
    database = make_database(tmp_path / "prefixes.db", [], schema=schema)
    code, err = run(database, tmp_path / "prefixes.json", capsys)
    assert code == 1
    assert message in failure(err)


def test_an_unwritable_output_exits_1_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = make_database(tmp_path / "prefixes.db", TWO_ROWS)
    output = tmp_path / "missing" / "prefixes.json"
    code, err = run(database, output, capsys)
    assert code == 1
    assert failure(err).startswith(f"cannot write {output}")


# -- Flags and environment


def test_environment_variables_are_the_defaults(tmp_path: Path) -> None:
    database = make_database(tmp_path / "env.db", [(1, "10.0.0.0/8"), (2, "10.2.0.0/16")])
    output = tmp_path / "env.json"
    environment = {**os.environ, "IPAM_DB": str(database), "IPAM_OUTPUT": str(output)}
    completed = subprocess.run(
        [sys.executable, "-m", "ipam", "--once"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(output.read_text())[1]["parent_prefix"] == "10.0.0.0/8"
    assert "run ok: rows=2 valid=2 invalid=0 with_parent=1 written=yes" in completed.stderr


def test_defaults_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "database").mkdir()
    (tmp_path / "output").mkdir()
    make_database(tmp_path / "database" / "prefixes.db", [(1, "10.0.0.0/8")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IPAM_DB", raising=False)
    monkeypatch.delenv("IPAM_OUTPUT", raising=False)
    assert main(["--once"]) == 0
    assert json.loads((tmp_path / "output" / "prefixes.json").read_text())[0]["id"] == 1


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--db", "--output", "--heartbeat", "--interval-seconds", "--once"):
        assert option in text
    for variable in ("IPAM_DB", "IPAM_OUTPUT", "IPAM_HEARTBEAT", "IPAM_INTERVAL_SECONDS"):
        assert variable in text


@pytest.mark.parametrize(
    "interval", ["0", "-5", "soon", "nan", "inf", "7.5", str(MAX_INTERVAL_SECONDS + 1)]
)
def test_a_bad_interval_is_refused(interval: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--interval-seconds", interval])
    assert exit_info.value.code == 2
    assert "must be a whole number of seconds from 1 to 31622400 (a year)" in (
        capsys.readouterr().err
    )


def test_without_once_the_daemon_gets_the_flags_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = []

    def fake_run_daemon(service: str, run: partial[RunResult], settings: Settings) -> int:
        calls.append((service, run, settings))
        return 0

    monkeypatch.setattr("servicekit.daemon.run_daemon", fake_run_daemon)
    monkeypatch.setenv("IPAM_INTERVAL_SECONDS", "7")
    monkeypatch.setenv("IPAM_OUTPUT", str(tmp_path / "env.json"))
    monkeypatch.delenv("IPAM_HEARTBEAT", raising=False)
    assert main(["--db", str(tmp_path / "flag.db")]) == 0
    ((service, run, settings),) = calls
    assert service == "ipam"
    assert settings == Settings(
        tmp_path / "flag.db", tmp_path / "env.json", Path(DEFAULT_HEARTBEAT), 7
    )
    assert run.func is ipam.service.run_once
    assert run.args == (tmp_path / "flag.db", tmp_path / "env.json")


def run_module(cwd: Path, *arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """``python -m ipam`` in ``cwd``, with this checkout on the path and the given variables."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IPAM_")}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-m", "ipam", *arguments],
        cwd=cwd,
        env={**environment, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_empty_environment_variables_mean_the_defaults(tmp_path: Path) -> None:
    """``IPAM_DB=`` in a .env file means database/prefixes.db, not the path "."."""
    (tmp_path / "database").mkdir()
    (tmp_path / "output").mkdir()
    make_database(tmp_path / "database" / "prefixes.db", [(1, "10.0.0.0/8")])
    empty = dict.fromkeys(("IPAM_DB", "IPAM_OUTPUT", "IPAM_HEARTBEAT"), "")
    completed = run_module(tmp_path, "--once", IPAM_INTERVAL_SECONDS="", **empty)
    assert completed.returncode == 0, completed.stderr
    assert json.loads((tmp_path / "output" / "prefixes.json").read_text())[0]["id"] == 1
    assert "INFO ipam: run ok: rows=1 " in completed.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["database", "output"]


@pytest.mark.parametrize("interval", ["0", "-1", "x", "300000000000"])
def test_a_bad_interval_from_the_environment_is_a_usage_error_without_a_traceback(
    tmp_path: Path, interval: str
) -> None:
    completed = run_module(tmp_path, "--once", IPAM_INTERVAL_SECONDS=interval)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert lines[0].startswith("usage: python -m ipam ")
    assert lines[-1] == (
        "python -m ipam: error: environment variable IPAM_INTERVAL_SECONDS: must be a whole "
        f"number of seconds from 1 to {MAX_INTERVAL_SECONDS} (a year), in decimal digits, "
        f"not {interval!r}"
    )
    assert "Traceback" not in completed.stderr


def test_the_tree_subcommand_is_handed_its_own_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the dispatch: ``python -m ipam tree ...`` is ipam/tree.py's, tested with it."""
    calls = []

    def tree_main(arguments: list[str]) -> int:
        calls.append(arguments)
        return 4

    tree = types.ModuleType("ipam.tree")
    tree.main = tree_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipam.tree", tree)
    monkeypatch.setattr(ipam, "tree", tree, raising=False)
    assert main(["tree", "--once", "x"]) == 4
    assert calls == [["--once", "x"]]


# -- The real daemon process


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


def test_the_daemon_runs_at_once_then_every_interval_and_exits_0_on_sigterm(
    tmp_path: Path,
) -> None:
    database = make_database(tmp_path / "prefixes.db", TWO_ROWS)
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


def test_a_failed_run_is_retried_within_seconds_not_an_interval(tmp_path: Path) -> None:
    database = tmp_path / "later.db"
    heartbeat = tmp_path / "hb"
    process = start_daemon(tmp_path, database, interval=3600)
    try:
        assert wait_for(lambda: status(heartbeat) == "failed")
        make_database(database, TWO_ROWS)  # the database shows up: the retry, 5 s on, succeeds
        assert wait_for(lambda: status(heartbeat) == "ok", 15)
    finally:
        stderr = stop(process)
    (failed,) = [line for line in stderr.splitlines() if "run failed:" in line]
    assert f"ERROR ipam: run failed: database not found: {database}; retry at " in failed
    assert failed.endswith("(in 5s)")
