"""Run the service every N seconds with APScheduler 3.x, and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from ipam.errors import IpamError
from ipam.service import run_once

__all__ = ["build_scheduler", "run_daemon"]

log = logging.getLogger("ipam")

# APScheduler's default grace of 1 s can silently skip the start-up run on a busy host.
MISFIRE_GRACE_SECONDS = 60


class _Job:
    """The scheduled run: logs one line whatever happens, so the daemon never dies of a bad run."""

    def __init__(self, database: Path, output: Path) -> None:
        self.database = database
        self.output = output
        self.running = threading.Lock()  # held while a run is in progress

    def __call__(self) -> None:
        with self.running:
            try:
                log.info("run: %s", run_once(self.database, self.output).describe())
            except IpamError as error:
                log.error("run failed: %s", error)
            except Exception as error:  # a bug must not stop the schedule; say what it was
                log.error("run failed: %s: %s", type(error).__name__, error)


def build_scheduler(database: Path, output: Path, interval_seconds: float) -> BlockingScheduler:
    """A UTC scheduler whose job runs now, then every interval, never two at a time."""
    scheduler = BlockingScheduler(timezone=timezone.utc)
    scheduler.add_job(
        _Job(database, output),
        "interval",
        seconds=interval_seconds,
        next_run_time=datetime.now(timezone.utc),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        id="prefixes",
    )
    return scheduler


def run_daemon(database: Path, output: Path, interval_seconds: float) -> int:
    """Block until SIGTERM or SIGINT; a run in progress finishes first. Returns the exit code.

    APScheduler 3.x leaves signals to the application. The handler only asks the scheduler to
    stop (without waiting, as a signal handler must not block); the job's lock then waits for
    a run in progress to finish before the process exits.
    """
    scheduler = build_scheduler(database, output, interval_seconds)
    job: _Job = scheduler.get_job("prefixes").func

    stop_requested = threading.Event()

    def stop(signal_number: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signal_number).name)
        stop_requested.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    previous_handlers = {
        signal_number: signal.signal(signal_number, stop)
        for signal_number in (signal.SIGTERM, signal.SIGINT)
    }
    log.info("started: %s -> %s every %g s", database, output, interval_seconds)
    try:
        if not stop_requested.is_set():  # a signal may come before the scheduler runs
            scheduler.start()
    finally:
        for signal_number, handler in previous_handlers.items():
            signal.signal(signal_number, handler)
    with job.running:  # let a run in progress finish
        pass
    log.info("stopped")
    return 0
