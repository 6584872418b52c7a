"""One run as the operator sees it: the export, one log line, and the heartbeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from collector.errors import CollectorError, LockBusyError
from collector.export import RunResult, run_export
from collector.heartbeat import (
    STATUS_FAILED,
    STATUS_OK,
    Heartbeat,
    previous_success,
    write_heartbeat,
)

STATUS_BUSY = "busy"  # another run held the lock: this one wrote nothing, not even the heartbeat

log = logging.getLogger("collector")


@dataclass(frozen=True)
class Settings:
    database: Path
    output_directory: Path
    heartbeat: Path | None  # None: a manual --once run that leaves the daemon's health alone
    interval_seconds: int


def _format_next_run(next_run: datetime | None) -> str:
    return next_run.strftime("%Y-%m-%dT%H:%M:%SZ") if next_run else "none"


def perform_run(settings: Settings, next_run: Callable[[], datetime | None]) -> str:
    """Run one export, log one line, write the heartbeat (if any); returns the status.

    Never raises: the daemon must keep going whatever one run hits.

    A run that finds the lock taken leaves the heartbeat alone: the run holding the lock writes
    it, and a "busy" there would make a healthy daemon unhealthy for a whole interval just
    because someone ran ``--once`` beside it.
    """
    attempt = int(time.time())
    last_success = previous_success(settings.heartbeat) if settings.heartbeat else None
    result: RunResult | None = None
    duration: float | None = None
    error = ""
    try:
        started = time.monotonic()
        result = run_export(settings.database, settings.output_directory)
        duration = time.monotonic() - started
    except LockBusyError as busy:
        log.warning("run skipped: %s", busy)
        return STATUS_BUSY
    except CollectorError as failure:
        status, error = STATUS_FAILED, str(failure)
        log.error("run failed: %s", failure)
    except Exception as failure:  # the daemon must keep going whatever one run hits
        status, error = STATUS_FAILED, f"{type(failure).__name__}: {failure}"
        log.error("run failed: %s", error)
    else:
        status, last_success = STATUS_OK, int(time.time())
        log.info(
            "run ok: rows=%d appended=%d changed=%d deleted=%d duration=%.2fs%s next_run=%s",
            result.rows,
            result.appended,
            result.changed,
            result.deleted,
            duration,
            " (table and files unchanged, nothing written)" if result.unchanged_table else "",
            _format_next_run(next_run()),
        )
    if settings.heartbeat is None:
        return status
    beat = Heartbeat(
        status=status,
        last_attempt_epoch=attempt,
        last_success_epoch=last_success,
        interval_seconds=settings.interval_seconds,
        rows=result.rows if result else None,
        appended=result.appended if result else None,
        changed=result.changed if result else None,
        deleted=result.deleted if result else None,
        duration_seconds=duration,
        error=error,
    )
    try:
        write_heartbeat(settings.heartbeat, beat)
    except OSError as failure:
        log.error("could not write the heartbeat %s: %s", settings.heartbeat, failure)
    return status
