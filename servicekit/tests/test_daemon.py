"""The daemon both services run: its schedule, its retries after a failure, and its stop."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from servicekit.daemon import (
    JOB_ID,
    MISFIRE_GRACE_SECONDS,
    RETRY_JOB_ID,
    Daemon,
    retry_delay,
    run_daemon,
)
from servicekit.reporting import parse_heartbeat
from servicekit.runs import STATUS_BUSY, STATUS_FAILED, STATUS_OK, RunError, RunOutcome
from servicekit.settings import Settings

SERVICE = "svc"

OK = RunOutcome(STATUS_OK, {"rows": "1"})
FAILED = RunOutcome(STATUS_FAILED, error="database not found: x.db")
BUSY = RunOutcome(STATUS_BUSY, error="another run holds the lock")


class Runs:
    """A stand-in for perform_run: hands out the given outcomes, then the last one forever."""

    def __init__(self, *outcomes: RunOutcome, during: Callable[[], None] = lambda: None) -> None:
        self.outcomes = list(outcomes)
        self.during = during
        self.calls = 0

    def __call__(self) -> RunOutcome:
        self.calls += 1
        self.during()
        return self.outcomes[min(self.calls, len(self.outcomes)) - 1]


def seconds_from_now(moment: datetime) -> float:
    return (moment - datetime.now(timezone.utc)).total_seconds()


def retry_job_seconds(daemon: Daemon) -> float | None:
    job = daemon.scheduler.get_job(RETRY_JOB_ID)
    if job is None:
        return None
    assert isinstance(job.trigger, DateTrigger)
    return seconds_from_now(job.trigger.run_date)


def test_one_coalescing_job_every_interval_in_utc_starting_now(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)
    daemon = Daemon(SERVICE, Runs(OK), 300, tmp_path / "hb")
    (job,) = daemon.scheduler.get_jobs()
    assert job.id == JOB_ID
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=300)
    assert job.trigger.timezone == timezone.utc
    assert daemon.scheduler.timezone.utcoffset(datetime(2024, 7, 1)) == timedelta(0)
    assert before <= job.next_run_time <= datetime.now(timezone.utc)  # the first run at once
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time == 300  # a run late by less than an interval still runs
    short = Daemon(SERVICE, Runs(OK), 2, tmp_path / "hb")
    assert short.scheduler.get_job(JOB_ID).misfire_grace_time == MISFIRE_GRACE_SECONDS


def test_retries_come_5_then_10_then_every_20_seconds() -> None:
    assert [retry_delay(failures) for failures in range(1, 7)] == [5, 10, 20, 20, 20, 20]


def test_failures_are_retried_sooner_and_a_success_returns_to_the_schedule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SERVICE)
    heartbeat = tmp_path / "hb"
    daemon = Daemon(SERVICE, Runs(FAILED, FAILED, FAILED, OK), 300, heartbeat)
    for expected in (5, 10, 20):
        daemon.run_and_report()  # the first run, then each retry as the scheduler would call it
        delay = retry_job_seconds(daemon)
        assert delay is not None and expected - 2 < delay <= expected
        retry_at = parse_heartbeat(heartbeat.read_text())["next_attempt"]
        assert f"; retry at {retry_at} (in " in caplog.messages[-1]
        daemon.scheduler.remove_job(RETRY_JOB_ID)  # as the scheduler does once it runs it
    daemon.run_and_report()
    assert caplog.messages[-1].startswith("run ok: rows=1 next_run=")
    assert {record.name for record in caplog.records} == {SERVICE}  # every line names the service
    beat = parse_heartbeat(heartbeat.read_text())
    assert beat["status"] == "ok"
    assert seconds_from_now(datetime.fromisoformat(beat["next_attempt"][:-1] + "+00:00")) > 290
    assert daemon.failures == 0


def test_a_retry_never_comes_later_than_the_next_regular_run(tmp_path: Path) -> None:
    daemon = Daemon(SERVICE, Runs(FAILED), 3, tmp_path / "hb")
    daemon.run_and_report()
    assert retry_job_seconds(daemon) is None  # the regular run, 3 s away, is the retry
    beat = parse_heartbeat((tmp_path / "hb").read_text())
    assert beat["next_attempt"]


def test_a_busy_run_neither_counts_as_a_failure_nor_resets_the_count(tmp_path: Path) -> None:
    daemon = Daemon(SERVICE, Runs(FAILED, BUSY), 300, tmp_path / "hb")
    daemon.run_and_report()
    daemon.run_and_report()
    assert daemon.failures == 1


def test_a_busy_run_while_failing_keeps_the_quick_retries(tmp_path: Path) -> None:
    """A manual --once beside a failing daemon must not leave it unhealthy until the next run."""
    daemon = Daemon(SERVICE, Runs(FAILED, BUSY, OK), 300, tmp_path / "hb")
    daemon.run_and_report()
    daemon.scheduler.remove_job(RETRY_JOB_ID)
    daemon.run_and_report()  # busy
    assert retry_job_seconds(daemon) == pytest.approx(5, abs=1)
    daemon.scheduler.remove_job(RETRY_JOB_ID)
    daemon.run_and_report()  # ok
    assert retry_job_seconds(daemon) is None


def test_a_busy_first_run_is_retried_like_a_failed_one(tmp_path: Path) -> None:
    """A daemon that starts while a manual --once holds the lock has no heartbeat yet: waiting a
    whole interval would leave it unhealthy (and ipam unstarted) all that time."""
    daemon = Daemon(SERVICE, Runs(BUSY, BUSY, OK, BUSY), 300, tmp_path / "hb")
    daemon.run_and_report()
    assert retry_job_seconds(daemon) == pytest.approx(5, abs=1)
    assert not (tmp_path / "hb").exists()
    daemon.scheduler.remove_job(RETRY_JOB_ID)
    daemon.run_and_report()  # busy again: still no heartbeat, still retried
    assert retry_job_seconds(daemon) == pytest.approx(5, abs=1)
    daemon.scheduler.remove_job(RETRY_JOB_ID)
    daemon.run_and_report()  # ok: the heartbeat exists, back to the schedule
    daemon.run_and_report()  # busy after a success: the service is healthy, nothing to hurry
    assert retry_job_seconds(daemon) is None
    assert parse_heartbeat((tmp_path / "hb").read_text())["status"] == "ok"


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_run_lets_it_finish_then_the_daemon_exits_0(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, signal_number: int
) -> None:
    caplog.set_level(logging.INFO, logger=SERVICE)
    finished = threading.Event()

    def signal_mid_run() -> None:
        os.kill(os.getpid(), signal_number)
        time.sleep(0.2)  # the run goes on after the signal
        finished.set()

    previous = signal.getsignal(signal_number)
    daemon = Daemon(SERVICE, Runs(OK, during=signal_mid_run), 300, tmp_path / "hb")
    assert daemon.run("test") == 0
    assert finished.is_set()
    assert parse_heartbeat((tmp_path / "hb").read_text())["status"] == "ok"
    name = signal.Signals(signal_number).name
    assert f"{name} received: finishing the run in progress, then exiting" in caplog.messages
    assert caplog.messages[0] == "started: test every 300s, heartbeat " + str(tmp_path / "hb")
    assert caplog.messages[-1] == "stopped"
    assert {record.name for record in caplog.records} == {SERVICE}
    assert signal.getsignal(signal_number) == previous  # handlers restored


def test_a_signal_before_the_scheduler_runs_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = Runs(OK)
    daemon = Daemon(SERVICE, runs, 300, tmp_path / "hb")
    start = daemon.scheduler.start

    def signalled_first() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not daemon.stop_requested and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal is taken while the scheduler is not running yet
        start()

    monkeypatch.setattr(daemon.scheduler, "start", signalled_first)
    assert daemon.run("test") == 0
    assert runs.calls == 0


class Result:
    """What a service's run returns: the figures of its log line."""

    def __init__(self, during: Callable[[], None] = lambda: None) -> None:
        self.during = during

    def details(self) -> dict[str, str]:
        self.during()
        return {"rows": "2"}


def test_run_daemon_runs_the_service_through_perform_run_and_a_second_signal_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SERVICE)

    def signal_twice() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the first is taken; the second stays pending until the stop drops it
        os.kill(os.getpid(), signal.SIGTERM)

    settings = Settings(tmp_path / "in.db", tmp_path / "out.json", tmp_path / "hb", 300)
    assert run_daemon(SERVICE, lambda: Result(signal_twice), settings) == 0
    assert not set(signal.sigpending()) & {signal.SIGTERM}  # and this process is still alive
    started = f"started: {tmp_path / 'in.db'} -> {tmp_path / 'out.json'} every 300s, heartbeat "
    assert caplog.messages[0] == started + str(tmp_path / "hb")
    (line,) = [message for message in caplog.messages if message.startswith("run ok: ")]
    assert line.startswith("run ok: rows=2 duration=")  # perform_run timed it
    beat = parse_heartbeat((tmp_path / "hb").read_text())
    assert (beat["status"], beat["rows"]) == ("ok", "2")


def test_run_daemon_turns_a_raised_error_into_a_failed_run_and_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> Result:
        os.kill(os.getpid(), signal.SIGTERM)
        raise RunError("database not found: in.db")

    settings = Settings(tmp_path / "in.db", tmp_path / "out.json", tmp_path / "hb", 300)
    assert run_daemon(SERVICE, fail, settings) == 0
    beat = parse_heartbeat((tmp_path / "hb").read_text())
    assert (beat["status"], beat["error"]) == ("failed", "database not found: in.db")
    (record,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert record.name == SERVICE
    assert record.getMessage().startswith("run failed: database not found: in.db; retry at ")


def test_a_scheduler_that_fails_to_start_releases_the_signal_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(SERVICE, Runs(OK), 300, tmp_path / "hb")

    def broken_start() -> None:
        raise RuntimeError("no scheduler today")

    monkeypatch.setattr(daemon.scheduler, "start", broken_start)
    before = threading.active_count()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(RuntimeError, match="no scheduler today"):
        daemon.run("test")
    assert threading.active_count() == before  # the watcher has ended
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask  # the signals unblocked again
