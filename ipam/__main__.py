"""Command line: ``python -m ipam`` (daemon) or ``python -m ipam --once``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ipam.daemon import run_daemon
from ipam.errors import IpamError
from ipam.service import run_once

DEFAULT_DATABASE = "database/prefixes.db"
DEFAULT_OUTPUT = "output/prefixes.json"
DEFAULT_INTERVAL_SECONDS = "300"


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return seconds


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Flags override the IPAM_* environment variables, which override the defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m ipam",
        description="Write every row of the prefixes table to JSON with its closest parent "
        "prefix (the longest other network in the table that contains it).",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ.get("IPAM_DB", DEFAULT_DATABASE)),
        help="SQLite database with the prefixes table, opened read-only "
        "(env IPAM_DB, default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(os.environ.get("IPAM_OUTPUT", DEFAULT_OUTPUT)),
        help="JSON file to write; its directory must exist (env IPAM_OUTPUT, default %(default)s)",
    )
    parser.add_argument(
        "--interval-seconds",
        type=_positive_seconds,
        default=os.environ.get("IPAM_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS),
        help="seconds between runs of the daemon; the first run starts at once "
        "(env IPAM_INTERVAL_SECONDS, default %(default)s)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run once and exit: 0 on success (invalid rows included), 1 on an unusable "
        "database, table, column or output",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)sZ %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    logging.Formatter.converter = time.gmtime  # log times in UTC, like the schedule
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run, not three
    if not arguments.once:
        return run_daemon(arguments.db, arguments.output, arguments.interval_seconds)
    try:
        summary = run_once(arguments.db, arguments.output)
    except IpamError as error:
        print(f"ipam: error: {error}", file=sys.stderr)
        return 1
    logging.getLogger("ipam").info("run: %s", summary.describe())
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    sys.exit(main())
