"""The command line both services share: ``python -m SERVICE [--once] [--db ...] ...``.

Every flag defaults from an environment variable named after the service (``COLLECTOR_DB``,
``IPAM_DB``, ...); a variable set but empty counts as unset, so ``COLLECTOR_HEARTBEAT=`` in a
``.env`` file means the default, never the path ".". Without ``--once`` the service runs as the
daemon; with it, one run, then the exit status.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from servicekit.reporting import configure_logging, report
from servicekit.runs import STATUS_BUSY, STATUS_OK, RunResult, perform_run
from servicekit.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock, try again later
DEFAULT_INTERVAL_SECONDS = "300"
MAX_INTERVAL_SECONDS = 366 * 24 * 3600  # a year: a longer one overflows the scheduler's dates


def env_default(name: str, default: str) -> str:
    """The variable's value, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def interval_seconds(text: str) -> int:
    """The argparse type of ``--interval-seconds``: whole seconds, from 1 to a year."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of seconds from 1 to {MAX_INTERVAL_SECONDS} (a year), "
            f"not {text!r}"
        )
    return value


def service_parser(
    service: str, description: str, database: str, heartbeat: str, exits: str
) -> argparse.ArgumentParser:
    """A parser with the flags every service has; the service adds its output flag."""
    prefix = service.upper()
    parser = argparse.ArgumentParser(prog=f"python -m {service}", description=description)
    parser.add_argument(
        "--once", action="store_true", help=f"run once and exit ({exits}; 2 bad arguments)"
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(env_default(f"{prefix}_DB", database)),
        help=f"SQLite database to read, opened read-only (env {prefix}_DB, default %(default)s)",
    )
    parser.add_argument(
        "--heartbeat",
        type=Path,
        default=os.environ.get(f"{prefix}_HEARTBEAT") or None,
        help="heartbeat file the daemon writes after every run, read by healthcheck.sh "
        f"(env {prefix}_HEARTBEAT, default {heartbeat}); --once writes one only when this flag "
        "or the variable names it, so a manual run never changes the daemon's health",
    )
    parser.add_argument(
        "--interval-seconds",
        type=interval_seconds,
        default=env_default(f"{prefix}_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS),
        help=f"seconds between runs of the daemon (env {prefix}_INTERVAL_SECONDS, "
        "default %(default)s)",
    )
    return parser


def run_service(
    service: str,
    args: argparse.Namespace,
    run_once: Callable[[Path, Path], RunResult],
    default_heartbeat: str,
) -> int:
    """``--once``: one run, reported, then its exit status. Otherwise the daemon, until stopped."""
    configure_logging(service)
    run = partial(run_once, args.db, args.output)
    if args.once:
        try:
            outcome = perform_run(run)
        except KeyboardInterrupt:  # Ctrl-C: every write is atomic or undone, nothing to show
            return 130
        report(service, outcome, args.heartbeat, args.interval_seconds)
        return {STATUS_OK: EXIT_OK, STATUS_BUSY: EXIT_BUSY}.get(outcome.status, EXIT_FAILED)
    # Imported here: APScheduler takes a tenth of a second to import, which --once never needs.
    from servicekit.daemon import run_daemon  # noqa: PLC0415

    heartbeat = args.heartbeat or Path(default_heartbeat)
    return run_daemon(
        service, run, Settings(args.db, args.output, heartbeat, args.interval_seconds)
    )
