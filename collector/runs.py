"""One run as the operator sees it: the export, turned into an outcome to report."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from collector.errors import CollectorError, LockBusyError
from collector.export import run_export
from collector.reporting import STATUS_BUSY, STATUS_FAILED, STATUS_OK, RunOutcome


@dataclass(frozen=True)
class Settings:
    database: Path
    output_directory: Path
    heartbeat: Path | None  # None: a manual --once run that leaves the daemon's health alone
    interval_seconds: int


def perform_run(settings: Settings) -> RunOutcome:
    """Run one export; never raises, since the daemon must outlive whatever one run hits."""
    started = time.monotonic()
    try:
        result = run_export(settings.database, settings.output_directory)
    except LockBusyError as busy:
        return RunOutcome(STATUS_BUSY, error=str(busy))
    except CollectorError as failure:
        return RunOutcome(STATUS_FAILED, error=str(failure))
    except Exception as failure:  # a bug or an OS error: say what it was, in one line
        return RunOutcome(STATUS_FAILED, error=f"{type(failure).__name__}: {failure}")
    details = {
        "rows": result.rows,
        "appended": result.appended,
        "changed": result.changed,
        "deleted": result.deleted,
        "written": "no" if result.unchanged_table else "yes",
        "duration": f"{time.monotonic() - started:.2f}s",
    }
    return RunOutcome(STATUS_OK, {key: str(value) for key, value in details.items()})
