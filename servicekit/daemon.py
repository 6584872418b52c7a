"""The long-running service: an APScheduler 3 BlockingScheduler running one job.

- The first run starts at once, then one every interval, in UTC. ``coalesce`` and a single
  worker: a late or slow run never piles runs up behind it, and two runs never overlap. A run late
  by up to one interval (at least 60 s) still runs.
- A failed run is retried sooner than the interval: 5 s after it, then 10 s, then every 20 s,
  never later than the next regular run. A run that found another holding the lock keeps them
  going, and is retried the same way while no run has finished (so there is no heartbeat yet).
  A success goes back to the regular schedule, so a fixed cause (database back, permissions
  fixed) shows as healthy within about 25 s, with no restart.
- SIGTERM and SIGINT let the run in progress finish, then the process exits 0 (``docker stop``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from servicekit.reporting import report
from servicekit.runs import STATUS_BUSY, STATUS_FAILED, RunOutcome, RunResult, perform_run
from servicekit.settings import Settings

JOB_ID = "run"
RETRY_JOB_ID = "retry"
MISFIRE_GRACE_SECONDS = 60
FIRST_RETRY_SECONDS = 5
MAX_RETRY_SECONDS = 20


def retry_delay(failures: int) -> int:
    """Seconds from the n-th failure in a row to its retry: 5, 10, 20, 20, ..."""
    return min(FIRST_RETRY_SECONDS << (failures - 1), MAX_RETRY_SECONDS)


class Daemon:
    """The scheduler and the one job it runs: a run, its report, and a retry when it failed."""

    def __init__(
        self,
        service: str,
        perform_run: Callable[[], RunOutcome],
        interval_seconds: int,
        heartbeat: Path,
    ) -> None:
        self.service = service
        self.log = logging.getLogger(service)
        self.perform_run = perform_run
        self.interval_seconds = interval_seconds
        self.heartbeat = heartbeat
        self.failures = 0  # failed runs in a row
        self.reported = False  # whether any run has done its work (succeeded or failed)
        self.stop_requested = False
        self.finished = False
        self.executor = ThreadPoolExecutor(max_workers=1)  # one run at a time, retries included
        self.scheduler = BlockingScheduler(
            timezone=timezone.utc, executors={"default": self.executor}
        )
        self.trigger = IntervalTrigger(seconds=interval_seconds, timezone=timezone.utc)
        self.scheduler.add_job(
            self.run_and_report,
            self.trigger,
            id=JOB_ID,
            name="run",
            next_run_time=datetime.now(timezone.utc),  # the first run right away
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(MISFIRE_GRACE_SECONDS, interval_seconds),
        )

    def run_and_report(self) -> None:
        """One scheduled run; never raises (perform_run turns every error into an outcome)."""
        outcome = self.perform_run()
        if outcome.status != STATUS_BUSY:
            self.failures = self.failures + 1 if outcome.status == STATUS_FAILED else 0
            self.reported = True
        # A busy run (another run held the lock) learnt nothing: a failing service, or one with
        # no heartbeat yet, retries on.
        retrying = self.failures or not self.reported
        next_attempt = self._schedule_retry() if retrying else self.next_regular_run()
        report(self.service, outcome, self.heartbeat, self.interval_seconds, next_attempt)

    def next_regular_run(self) -> datetime:
        """Asked of the trigger: the job's next_run_time may not be advanced yet while it runs,
        and a scheduler shutting down no longer lists the job at all."""
        now = datetime.now(timezone.utc)
        return self.trigger.get_next_fire_time(None, now) or now

    def _schedule_retry(self) -> datetime:
        regular = self.next_regular_run()
        delay = retry_delay(max(self.failures, 1))
        retry = datetime.now(timezone.utc) + timedelta(seconds=delay)
        if retry >= regular:  # the regular run comes first: it is the retry
            return regular
        self.scheduler.add_job(
            self.run_and_report,
            DateTrigger(retry, timezone=timezone.utc),
            id=RETRY_JOB_ID,
            name="retry",
            replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
        return retry

    def run(self, description: str) -> int:
        """Run until SIGTERM or SIGINT; returns the exit status (0).

        The signals are taken by one thread with ``sigwait``, never by a signal handler. A handler
        interrupts the main thread wherever it is, and there APScheduler may hold the very lock
        that stopping needs (a deadlock) or catch and log the exception a handler raises (a lost
        stop); both happened in tests. Blocked here, the signals stay blocked in every thread
        started after, so only the waiting thread ever sees them.
        """
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        watcher = threading.Thread(target=self._stop_on_signal, name="signals", daemon=True)
        watcher.start()
        self.scheduler.add_listener(self._stop_if_requested, EVENT_SCHEDULER_STARTED)
        self.log.info(
            "started: %s every %ds, heartbeat %s",
            description,
            self.interval_seconds,
            self.heartbeat,
        )
        try:
            self.scheduler.start()  # returns once the watcher has shut it down
            self.executor.shutdown(wait=True)  # the run in progress, if any, finishes here
        finally:
            self.finished = True
            if watcher.is_alive():  # no signal came (the scheduler failed): release the watcher
                signal.pthread_kill(watcher.ident or 0, signal.SIGTERM)
            watcher.join()
            while set(signal.sigpending()) & set(STOP_SIGNALS):  # a second signal: dropped
                signal.sigtimedwait(STOP_SIGNALS, 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.log.info("stopped")
        return 0

    def _stop_on_signal(self) -> None:
        number = signal.sigwait(STOP_SIGNALS)
        if self.finished:
            return
        name = signal.Signals(number).name
        self.log.info("%s received: finishing the run in progress, then exiting", name)
        self.stop_requested = True
        self._shutdown()

    def _stop_if_requested(self, _event: SchedulerEvent) -> None:
        # A signal that came before the scheduler was running had nothing to shut down.
        if self.stop_requested:
            self._shutdown()

    def _shutdown(self) -> None:
        with suppress(SchedulerNotRunningError):  # not started yet, or already stopping
            self.scheduler.shutdown(wait=False)


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def run_daemon(service: str, run: Callable[[], RunResult], settings: Settings) -> int:
    """The daemon's entry point: runs until SIGTERM or SIGINT, returns the exit status (0)."""
    assert settings.heartbeat is not None, "the daemon always writes a heartbeat"
    daemon = Daemon(
        service, partial(perform_run, run), settings.interval_seconds, settings.heartbeat
    )
    return daemon.run(f"{settings.database} -> {settings.output}")
