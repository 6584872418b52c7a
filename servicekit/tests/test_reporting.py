"""How a run is reported: the one log line, named after the service, and the heartbeat file
healthcheck.sh reads."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.reporting import (
    configure_logging,
    format_heartbeat,
    iso_utc,
    one_line,
    parse_heartbeat,
    previous_success,
    report,
    write_heartbeat,
)
from servicekit.runs import STATUS_BUSY, STATUS_FAILED, STATUS_OK, RunOutcome
from servicekit.tests.helpers import REPO_ROOT, fail_close_of

SERVICE = "svc"

OK = RunOutcome(STATUS_OK, {"rows": "5", "duration": "0.01s"})
FAILED = RunOutcome(STATUS_FAILED, error="database not found: x.db")
BUSY = RunOutcome(STATUS_BUSY, error="another run holds the lock")


def read(heartbeat: Path) -> dict[str, str]:
    return parse_heartbeat(heartbeat.read_text(encoding="ascii"))


def test_the_heartbeat_is_key_value_lines_that_sh_can_read() -> None:
    outcome = RunOutcome(STATUS_FAILED, {"rows": "3"}, error="bad\nthing = here")
    text = format_heartbeat(outcome, 1700000000, None, 300, None)
    assert text.endswith("\n")
    assert all("=" in line for line in text.splitlines())
    pairs = parse_heartbeat(text)
    assert pairs["status"] == "failed"
    assert pairs["last_attempt_epoch"] == "1700000000"
    assert pairs["last_attempt"] == "2023-11-14T22:13:20Z"
    assert pairs["last_success_epoch"] == ""
    assert pairs["interval_seconds"] == "300"
    assert pairs["error"] == "bad\\nthing = here"  # one line, whatever the message
    assert pairs["rows"] == "3"


def test_a_success_logs_its_figures_and_the_next_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SERVICE)
    next_run = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    report(SERVICE, OK, tmp_path / "hb", 300, next_run)
    assert caplog.messages == ["run ok: rows=5 duration=0.01s next_run=2030-01-02T03:04:05Z"]
    assert caplog.records[0].name == SERVICE
    beat = read(tmp_path / "hb")
    assert (beat["status"], beat["rows"], beat["next_attempt"]) == (
        "ok",
        "5",
        "2030-01-02T03:04:05Z",
    )
    assert beat["last_success_epoch"] == beat["last_attempt_epoch"]


def test_a_failure_says_when_the_retry_is_and_keeps_the_last_success(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heartbeat = tmp_path / "hb"
    report(SERVICE, OK, heartbeat, 300)
    success = read(heartbeat)["last_success_epoch"]
    retry = datetime.now(timezone.utc) + timedelta(seconds=10)
    caplog.clear()
    report(SERVICE, FAILED, heartbeat, 300, retry)
    (line,) = caplog.records
    assert (line.name, line.levelno) == (SERVICE, logging.ERROR)
    assert line.getMessage().startswith("run failed: database not found: x.db; retry at ")
    assert line.getMessage().endswith(("(in 10s)", "(in 9s)"))
    assert "Traceback" not in caplog.text
    beat = read(heartbeat)
    assert (beat["status"], beat["error"]) == ("failed", "database not found: x.db")
    assert beat["last_success_epoch"] == success
    assert "rows" not in beat


def test_a_manual_run_logs_only_its_outcome(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report(SERVICE, FAILED, None, 300)
    assert caplog.messages == ["run failed: database not found: x.db"]
    assert caplog.records[0].name == SERVICE
    assert list(tmp_path.iterdir()) == []


def test_a_busy_run_says_so_and_leaves_the_heartbeat_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heartbeat = tmp_path / "hb"
    report(SERVICE, OK, heartbeat, 300)
    before = heartbeat.read_bytes()
    caplog.clear()
    report(SERVICE, BUSY, heartbeat, 300)
    assert caplog.messages == ["run skipped: another run holds the lock"]
    assert (caplog.records[0].name, caplog.records[0].levelno) == (SERVICE, logging.WARNING)
    assert heartbeat.read_bytes() == before


def test_a_heartbeat_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report(SERVICE, OK, tmp_path / "no such directory" / "hb", 300)
    assert "could not write the heartbeat" in caplog.messages[-1]
    assert caplog.records[-1].name == SERVICE


def test_a_heartbeat_that_cannot_be_read_has_no_last_success(tmp_path: Path) -> None:
    heartbeat = tmp_path / "hb"
    heartbeat.write_bytes(b"last_success_epoch=\xff\n")
    report(SERVICE, FAILED, heartbeat, 300)
    assert read(heartbeat)["last_success_epoch"] == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hb"]  # no temp file left


def test_a_heartbeat_that_cannot_be_replaced_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_heartbeat(tmp_path / "hb", OK, 300)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back as they were."""
    saved = {}
    for name in (SERVICE, "apscheduler"):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level)
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.mark.usefixtures("restore_loggers")
def test_log_lines_are_utc_time_level_service_and_message_once_however_often_configured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Etc/GMT-5")  # local time 5 hours off UTC: the lines must not care
    time.tzset()
    try:
        root_handlers = list(logging.getLogger().handlers)
        configure_logging(SERVICE)
        configure_logging(SERVICE)  # configured again (a second main() in tests): one line still
        report(SERVICE, OK, None, 300)
        logging.getLogger("apscheduler.scheduler").info("Scheduler started")  # below WARNING
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    finally:
        monkeypatch.undo()
        time.tzset()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    time_, rest = lines[0].split(" ", 1)
    assert rest == "INFO svc: run ok: rows=5 duration=0.01s"
    stamp = datetime.strptime(time_, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60  # UTC, not local
    assert lines[1].endswith("Z WARNING apscheduler.scheduler: Run time of job was missed")
    assert logging.getLogger().handlers == root_handlers  # the root logger is left alone


@contextmanager
def readers_released(fifo: Path) -> Iterator[list[str]]:
    """Opens ``fifo`` for writing whenever a reader waits on it, and says so in the list: a
    regression then fails the test instead of hanging it."""
    waited: list[str] = []
    done = threading.Event()

    def release() -> None:
        while not done.wait(0.05):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader is waiting
                continue
            waited.append("a reader waited on the FIFO")
            os.close(fd)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield waited
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize("outcome", [FAILED, OK])
def test_a_heartbeat_that_is_a_fifo_is_neither_read_nor_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, outcome: RunOutcome
) -> None:
    """A failed run reads the last success from the heartbeat: from a FIFO that waited for a
    writer forever. A directory, a socket or a device is not the heartbeat's to replace either."""
    fifo = tmp_path / "hb"
    os.mkfifo(fifo)
    with readers_released(fifo) as waited:
        report(SERVICE, outcome, fifo, 300)
    assert waited == []
    assert caplog.messages[-1] == (
        f"could not write the heartbeat {fifo}: it is a FIFO (named pipe), not a regular file"
    )
    assert fifo.is_fifo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hb"]


def test_a_heartbeat_that_is_a_directory_is_named_as_such(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "hb").mkdir()
    report(SERVICE, FAILED, tmp_path / "hb", 300)
    assert caplog.messages[-1].endswith(": it is a directory, not a regular file")
    assert list((tmp_path / "hb").iterdir()) == []


FORGED = "x\n2026-12-03T10:00:00Z INFO collector: run ok: rows=1 written=yes"


@given(st.text())
def test_one_line_leaves_no_line_break_or_control_and_keeps_printable_text(text: str) -> None:
    line = one_line(text)
    assert line.isprintable()  # no line break of any kind (str.splitlines's), no control
    assert len(line.splitlines()) <= 1
    if text.isprintable():
        assert line == text
    else:  # each character that is not kept becomes its escape, at least two characters
        assert len(line) > len(text)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (FORGED, "x\\n2026-12-03T10:00:00Z INFO collector: run ok: rows=1 written=yes"),
        (
            "a\rb\x00c\x1b[31md\x85e\u2028f\u2029g\tZoë",
            "a\\rb\\x00c\\x1b[31md\\x85e\\u2028f\\u2029g\\tZoë",
        ),
    ],
)
def test_one_line_escapes_what_would_break_or_colour_a_line(text: str, line: str) -> None:
    assert one_line(text) == line


@pytest.mark.usefixtures("restore_loggers")
def test_a_message_holding_line_breaks_is_one_log_line_and_one_heartbeat_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(SERVICE)
    outcome = RunOutcome(STATUS_FAILED, {"invalid_ids": "1,a\nb"}, error=f"no 'job' in {FORGED}")
    report(SERVICE, outcome, tmp_path / "hb", 300)
    logging.getLogger(SERVICE).warning("%d rows, keys %s", 2, "3,\u2028x")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"ERROR svc: run failed: no 'job' in {one_line(FORGED)}")
    assert lines[1].endswith("WARNING svc: 2 rows, keys 3,\\u2028x")
    text = (tmp_path / "hb").read_text(encoding="ascii")
    assert len(text.splitlines()) == len(parse_heartbeat(text))  # every line a key=value
    beat = parse_heartbeat(text)
    assert beat["error"] == f"no 'job' in {one_line(FORGED)}"
    assert beat["invalid_ids"] == "1,a\\nb"


def test_an_ipam_text_id_holding_a_newline_stays_in_its_run_line(tmp_path: Path) -> None:
    """ipam's run line lists the ids of invalid rows: a TEXT id with a newline split it in two, and
    could forge a line of its own."""
    db = tmp_path / "p.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE prefixes (id TEXT PRIMARY KEY, prefix TEXT)")
        connection.execute("INSERT INTO prefixes VALUES (?, 'not a prefix')", (f"a\n{FORGED}",))
    connection.close()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipam",
            "--once",
            "--db",
            str(db),
            "--output",
            str(tmp_path / "p.json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, lines
    assert f" invalid_ids=a\\n{one_line(FORGED)} duration=" in lines[0]


def test_the_last_success_is_not_read_from_a_fifo_put_there_after_the_check(
    tmp_path: Path,
) -> None:
    """previous_success opens without blocking and reads only a regular file: a FIFO that
    replaced the heartbeat between the check and the read has no last success."""
    fifo = tmp_path / "hb"
    os.mkfifo(fifo)
    with readers_released(fifo) as waited:
        assert previous_success(fifo) is None
    assert waited == []


# Behaviour no other test pinned down: each test fails when a mutation of the code survives.


@pytest.fixture
def zone_five_hours_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone 5 hours off UTC, as on a machine not set to UTC."""
    monkeypatch.setenv("TZ", "Etc/GMT-5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_error_with_non_ascii_text_keeps_the_heartbeat_ascii_and_the_last_success(
    tmp_path: Path,
) -> None:
    """sh reads the heartbeat as ASCII: an error naming /données/café.db gets '?' for the rest,
    and the next failed run still reads the last success back from it."""
    heartbeat = tmp_path / "hb"
    report(SERVICE, OK, heartbeat, 300)
    success = read(heartbeat)["last_success_epoch"]
    failed = RunOutcome(STATUS_FAILED, error="database not found: /données/café.db")
    report(SERVICE, failed, heartbeat, 300)
    assert read(heartbeat)["error"] == "database not found: /donn?es/caf?.db"
    report(SERVICE, failed, heartbeat, 300)
    beat = read(heartbeat)
    assert (beat["status"], beat["last_success_epoch"]) == ("failed", success)


def test_a_failure_over_a_heartbeat_without_a_last_success_records_none(tmp_path: Path) -> None:
    heartbeat = tmp_path / "hb"
    heartbeat.write_text("status=failed\nerror=before\n", encoding="ascii")
    report(SERVICE, FAILED, heartbeat, 300)
    beat = read(heartbeat)
    assert (beat["last_success_epoch"], beat["last_success"]) == ("", "")
    assert beat["error"] == "database not found: x.db"


@pytest.mark.usefixtures("zone_five_hours_east")
def test_heartbeat_times_are_utc_for_people_beside_the_epochs(tmp_path: Path) -> None:
    heartbeat = tmp_path / "hb"
    report(SERVICE, OK, heartbeat, 300)
    report(SERVICE, FAILED, heartbeat, 300)
    beat = read(heartbeat)
    for name in ("last_attempt", "last_success"):
        epoch = int(beat[f"{name}_epoch"])
        expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        assert beat[name] == expected
    assert beat["next_attempt"] == ""  # no next attempt named: empty, not "None"
    text = format_heartbeat(OK, 1700000000, 1600000000, 300, None)
    assert parse_heartbeat(text)["last_success"] == "2020-09-13T12:26:40Z"


@pytest.mark.usefixtures("zone_five_hours_east")
def test_times_are_written_in_utc_whatever_zone_they_come_in() -> None:
    assert iso_utc(None) == ""
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    tokyo = timezone(timedelta(hours=9))
    assert iso_utc(datetime(2030, 1, 1, 9, 30, 15, tzinfo=tokyo)) == "2030-01-01T00:30:15Z"
    assert iso_utc(datetime.fromtimestamp(0, tz=timezone.utc)) == "1970-01-01T00:00:00Z"


def test_a_retry_already_due_is_in_0s_never_a_negative_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    due = datetime.now(timezone.utc) - timedelta(seconds=30)
    report(SERVICE, FAILED, None, 300, due)
    assert caplog.messages == [
        f"run failed: database not found: x.db; retry at {iso_utc(due)} (in 0s)"
    ]


def test_a_heartbeat_that_cannot_be_written_is_named_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heartbeat = tmp_path / "no such directory" / "hb"
    report(SERVICE, OK, heartbeat, 300)
    assert (
        caplog.messages[-1]
        == f"could not write the heartbeat {heartbeat}: No such file or directory"
    )


@pytest.mark.parametrize("outcome", [OK, FAILED, BUSY], ids=["ok", "failed", "busy"])
def test_a_runs_warnings_are_logged_in_the_services_name_before_its_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, outcome: RunOutcome
) -> None:
    warned = replace(outcome, warnings=("cannot close out/x.json after it was written: EIO",))
    caplog.set_level(logging.INFO, logger=SERVICE)
    report(SERVICE, warned, tmp_path / "hb", 300)
    first, line = caplog.records
    assert (first.name, first.levelno) == (SERVICE, logging.WARNING)
    assert first.getMessage() == "cannot close out/x.json after it was written: EIO"
    assert line.getMessage().startswith("run ")


def test_a_heartbeat_close_failing_after_its_rename_is_a_warning_and_the_beat_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    heartbeat = tmp_path / "hb"
    fail_close_of(monkeypatch, heartbeat)
    caplog.set_level(logging.INFO, logger=SERVICE)
    report(SERVICE, OK, heartbeat, 300)
    assert caplog.messages == [
        "run ok: rows=5 duration=0.01s",
        f"cannot close {heartbeat} after it was written and put in place: Input/output error",
    ]
    assert caplog.records[1].name == SERVICE
    assert read(heartbeat)["status"] == "ok"
