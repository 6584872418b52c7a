"""One service's configuration, as the command line resolved it and the daemon runs it.

Its own module so that ``servicekit/cli.py`` (which builds it) and ``servicekit/daemon.py``
(which runs it) need not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """One service's configuration: where it reads, where it writes, how often."""

    database: Path
    output: Path  # the collector's output directory, ipam's JSON file
    heartbeat: Path | None  # None: a manual --once run that leaves the daemon's health alone
    interval_seconds: int
