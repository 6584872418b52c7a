"""The long-running service: an APScheduler 3 BlockingScheduler running one export per interval.

First run at start, then every ``interval_seconds`` (UTC). ``coalesce`` and ``max_instances=1``:
a late or slow run never piles up runs behind it. SIGTERM and SIGINT let the run in progress
finish, then the process exits 0 (``docker stop`` sends SIGTERM through tini).
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timezone
from types import FrameType

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collector.runs import Settings, perform_run

JOB_ID = "export"
MISFIRE_GRACE_SECONDS = 60

log = logging.getLogger("collector")


def build_scheduler(settings: Settings, executor: ThreadPoolExecutor) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=timezone.utc, executors={"default": executor})

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
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = build_scheduler(settings, executor)

    stop_requested = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Only ask the scheduler to stop here: waiting in a signal handler could deadlock with
        # the run, which may need a scheduler lock the interrupted main thread holds.
        nonlocal stop_requested
        log.info(
            "%s received: finishing the run in progress, then exiting", signal.Signals(signum).name
        )
        stop_requested = True
        if scheduler.running:  # not yet started, or a second signal while stopping: see below
            scheduler.shutdown(wait=False)

    def stop_if_requested_before_start(_event: SchedulerEvent) -> None:
        # A signal between installing the handlers and the scheduler running had nothing to stop;
        # without this the daemon would ignore it and run until killed.
        if stop_requested and scheduler.running:
            scheduler.shutdown(wait=False)

    scheduler.add_listener(stop_if_requested_before_start, EVENT_SCHEDULER_STARTED)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "collector started: %s -> %s every %ds, heartbeat %s",
        settings.database,
        settings.output_directory,
        settings.interval_seconds,
        settings.heartbeat,
    )
    scheduler.start()  # returns once stop() has run
    executor.shutdown(wait=True)  # the run in progress, if any, finishes here
    log.info("collector stopped")
    return 0
