"""Command line: ``python -m ipam`` (the daemon) or ``python -m ipam --once``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from ipam.reporting import STATUS_OK, configure_logging, report
from ipam.runs import Settings, perform_run

EXIT_OK = 0
EXIT_FAILED = 1

DEFAULT_DATABASE = "database/prefixes.db"
DEFAULT_OUTPUT = "output/prefixes.json"
DEFAULT_HEARTBEAT = "/tmp/ipam.heartbeat"
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
        prog="python -m ipam",
        description=(
            "Write every row of the prefixes table to OUTPUT as JSON, each with its closest "
            "parent prefix (the longest other network in the table that contains it). Without "
            "--once, runs at start and then every interval until SIGTERM/SIGINT."
        ),
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run once and exit (0 ok, invalid rows included; 1 failed; 2 bad arguments)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(env("IPAM_DB", DEFAULT_DATABASE)),
        help="SQLite database with the prefixes table, opened read-only "
        "(env IPAM_DB, default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(env("IPAM_OUTPUT", DEFAULT_OUTPUT)),
        help="JSON file to write; its directory must exist (env IPAM_OUTPUT, default %(default)s)",
    )
    parser.add_argument(
        "--heartbeat",
        type=Path,
        default=env("IPAM_HEARTBEAT"),
        help="heartbeat file the daemon writes after every run, read by healthcheck.sh "
        f"(env IPAM_HEARTBEAT, default {DEFAULT_HEARTBEAT}); --once writes one only when "
        "this flag or the variable names it, so a manual run never changes the daemon's health",
    )
    parser.add_argument(
        "--interval-seconds",
        type=_positive_int,
        default=env("IPAM_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS),
        help="seconds between runs of the daemon (env IPAM_INTERVAL_SECONDS, default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.once:
        settings = Settings(args.db, args.output, args.heartbeat, args.interval_seconds)
        outcome = perform_run(settings)
        report(outcome, settings.heartbeat, settings.interval_seconds)
        return EXIT_OK if outcome.status == STATUS_OK else EXIT_FAILED
    # Imported here: APScheduler takes a tenth of a second to import, which --once never needs.
    from ipam.daemon import run_daemon  # noqa: PLC0415

    heartbeat = args.heartbeat or Path(DEFAULT_HEARTBEAT)
    settings = Settings(args.db, args.output, heartbeat, args.interval_seconds)
    return run_daemon(
        partial(perform_run, settings),
        settings.interval_seconds,
        heartbeat,
        f"{settings.database} -> {settings.output}",
    )


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    sys.exit(main())
