"""Command line: ``python -m collector`` (the daemon) or ``python -m collector --once``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from collector.reporting import STATUS_BUSY, STATUS_OK, configure_logging, report
from collector.runs import Settings, perform_run

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock, try again later

DEFAULT_DATABASE = "database/customers.db"
DEFAULT_OUTPUT_DIRECTORY = "output"
DEFAULT_HEARTBEAT = "/tmp/collector.heartbeat"
DEFAULT_INTERVAL_SECONDS = "300"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds above 0, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m collector",
        description=(
            "Export the customers table (job renamed to occupation) to OUTPUT_DIR/customers.csv, "
            "appending only rows whose primary key is not in it yet, and rewrite the full "
            "snapshot OUTPUT_DIR/customers_snapshot.csv. Without --once, runs at start and then "
            "every interval until SIGTERM/SIGINT."
        ),
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run one export and exit (0 ok, 1 failed, 2 bad arguments, 75 busy)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(env("COLLECTOR_DB", DEFAULT_DATABASE)),
        help="SQLite database to read, opened read-only (env COLLECTOR_DB, default %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(env("COLLECTOR_OUTPUT_DIR", DEFAULT_OUTPUT_DIRECTORY)),
        help="existing directory for the CSVs and the hidden lock/state files "
        "(env COLLECTOR_OUTPUT_DIR, default %(default)s)",
    )
    parser.add_argument(
        "--heartbeat",
        type=Path,
        default=env("COLLECTOR_HEARTBEAT"),
        help="heartbeat file the daemon writes after every run, read by healthcheck.sh "
        f"(env COLLECTOR_HEARTBEAT, default {DEFAULT_HEARTBEAT}); --once writes one only when "
        "this flag or the variable names it, so a manual run never changes the daemon's health",
    )
    parser.add_argument(
        "--interval-seconds",
        type=_positive_int,
        default=env("COLLECTOR_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS),
        help="seconds between runs of the daemon "
        "(env COLLECTOR_INTERVAL_SECONDS, default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.once:
        settings = Settings(args.db, args.output_dir, args.heartbeat, args.interval_seconds)
        outcome = perform_run(settings)
        report(outcome, settings.heartbeat, settings.interval_seconds)
        if outcome.status == STATUS_OK:
            return EXIT_OK
        return EXIT_BUSY if outcome.status == STATUS_BUSY else EXIT_FAILED
    # Imported here: APScheduler takes a tenth of a second to import, which --once never needs.
    from collector.daemon import run_daemon  # noqa: PLC0415

    heartbeat = args.heartbeat or Path(DEFAULT_HEARTBEAT)
    settings = Settings(args.db, args.output_dir, heartbeat, args.interval_seconds)
    return run_daemon(
        partial(perform_run, settings),
        settings.interval_seconds,
        heartbeat,
        f"{settings.database} -> {settings.output_directory}",
    )


if __name__ == "__main__":
    sys.exit(main())
