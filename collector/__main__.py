"""Command line: ``python -m collector`` (the daemon) or ``python -m collector --once``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from collector.export import OutputPaths, run_once
from servicekit import cli
from servicekit.paths import NamedPath

SERVICE = "collector"
DEFAULT_DB = "database/customers.db"
DEFAULT_OUTPUT = "output"
DEFAULT_HEARTBEAT = "/tmp/collector.heartbeat"
DEFAULT_INTERVAL_SECONDS = cli.DEFAULT_INTERVAL_SECONDS


def build_parser() -> argparse.ArgumentParser:
    parser = cli.service_parser(
        SERVICE,
        "Export the customers table (job renamed to occupation) to OUTPUT_DIR/customers.csv, "
        "appending only rows whose primary key is not in it yet, and rewrite the full snapshot "
        "OUTPUT_DIR/customers_snapshot.csv. Without --once, runs at start and then every "
        "interval until SIGTERM/SIGINT.",
        database=DEFAULT_DB,
        heartbeat=DEFAULT_HEARTBEAT,
        exits="0 ok, 1 failed, 75 another run holds the lock",
    )
    parser.add_argument(
        "--output-dir",
        dest="output",
        type=Path,
        default=Path(cli.env_default("COLLECTOR_OUTPUT_DIR", DEFAULT_OUTPUT)),
        help="existing directory for the CSVs and the hidden lock/state files "
        "(env COLLECTOR_OUTPUT_DIR, default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    files = OutputPaths(args.output).every_file()
    outputs = [NamedPath(f"{path.name} in --output-dir", path) for path in files]
    return cli.run_service(SERVICE, args, run_once, DEFAULT_HEARTBEAT, outputs=outputs)


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    sys.exit(main())
