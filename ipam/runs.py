"""One run as the operator sees it: the prefixes report, turned into an outcome to report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ipam.errors import IpamError
from ipam.reporting import STATUS_FAILED, STATUS_OK, RunOutcome
from ipam.service import run_once

INVALID_IDS_SHOWN = 5


@dataclass(frozen=True)
class Settings:
    database: Path
    output: Path
    heartbeat: Path | None  # None: a manual --once run that leaves the daemon's health alone
    interval_seconds: int


def perform_run(settings: Settings) -> RunOutcome:
    """Run once; never raises, since the daemon must outlive whatever one run hits."""
    try:
        summary = run_once(settings.database, settings.output)
    except IpamError as failure:
        return RunOutcome(STATUS_FAILED, error=str(failure))
    except Exception as failure:  # a bug or an OS error: say what it was, in one line
        return RunOutcome(STATUS_FAILED, error=f"{type(failure).__name__}: {failure}")
    details = {
        "rows": str(summary.rows),
        "valid": str(summary.valid),
        "invalid": str(len(summary.invalid_ids)),
        "with_parent": str(summary.with_parent),
        "written": "yes" if summary.written else "no",
        "duration": f"{summary.seconds:.2f}s",
    }
    if summary.invalid_ids:
        details["invalid_ids"] = some_ids(summary.invalid_ids)
    return RunOutcome(STATUS_OK, details)


def some_ids(ids: list[object]) -> str:
    """'3,7,9' or '3,7,9,12,15,+42 more': a bad table must not flood the log."""
    shown = ",".join(str(row_id) for row_id in ids[:INVALID_IDS_SHOWN])
    hidden = len(ids) - INVALID_IDS_SHOWN
    return f"{shown},+{hidden}more" if hidden > 0 else shown
