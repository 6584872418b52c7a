"""The long-running service: an APScheduler 3 BlockingScheduler running one export per interval.

First run at start, then every ``interval_seconds`` (UTC). ``coalesce`` and ``max_instances=1``:
a late or slow run never piles up runs behind it. SIGTERM and SIGINT let the run in progress
finish, then the process exits 0 (``docker stop`` sends SIGTERM through tini).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from datetime import datetime, timezone
from types import FrameType

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collector.runs import Settings, perform_run

JOB_ID = "export"
MISFIRE_GRACE_SECONDS = 60

log = logging.getLogger("collector")


def build_scheduler(settings: Settings) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=timezone.utc)

    def next_run() -> datetime | None:
        job = scheduler.get_job(JOB_ID)
        return job.next_run_time if job else None

    scheduler.add_job(
        perform_run,
        IntervalTrigger(seconds=settings.interval_seconds, timezone=timezone.utc),
        args=(settings, next_run),
        id=JOB_ID,
        name="export customers",
        next_run_time=datetime.now(timezone.utc),  # the first run right away
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(MISFIRE_GRACE_SECONDS, settings.interval_seconds),
    )
    return scheduler


def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; returns the exit status (0)."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is ours
    scheduler = build_scheduler(settings)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "%s received: finishing the run in progress, then exiting", signal.Signals(signum).name
        )
        with contextlib.suppress(SchedulerNotRunningError):  # a second signal while stopping
            scheduler.shutdown(wait=True)  # waits for the running export

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "collector started: %s -> %s every %ds, heartbeat %s",
        settings.database,
        settings.output_directory,
        settings.interval_seconds,
        settings.heartbeat,
    )
    scheduler.start()
    log.info("collector stopped")
    return 0
