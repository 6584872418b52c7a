"""The command line both services share: ``python -m SERVICE [--once] [--db ...] ...``.

Every flag defaults from an environment variable named after the service (``COLLECTOR_DB``,
``IPAM_DB``, ...); a variable set but empty counts as unset, so ``COLLECTOR_HEARTBEAT=`` in a
``.env`` file means the default, never the path ".". Without ``--once`` the service runs as the
daemon; with it, one run, then the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from servicekit.paths import NamedPath, database_files, output_clash
from servicekit.reporting import configure_logging, report
from servicekit.runs import STATUS_BUSY, STATUS_OK, RunResult, perform_run
from servicekit.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # argparse's: bad arguments, or outputs that clash with each other or an input
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock, try again later
DEFAULT_INTERVAL_SECONDS = "300"
MAX_INTERVAL_SECONDS = 366 * 24 * 3600  # a year: a longer one overflows the scheduler's dates


def env_default(name: str, default: str) -> str:
    """The variable's value, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


@dataclass(frozen=True)
class FromVariable:
    """A flag's default read from a variable, converted only once parsing is done.

    argparse would convert a text default itself, and blame a bad value on the flag
    ("argument --interval-seconds: ..."), which the user never typed; ``ServiceParser`` names
    the variable instead. ``str()`` is the text, as the help's "default %(default)s" shows it.
    """

    variable: str
    text: str

    def __str__(self) -> str:
        return self.text


class ServiceParser(argparse.ArgumentParser):
    """An ArgumentParser that converts ``FromVariable`` defaults, blaming the variable."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            if isinstance(value, FromVariable):
                convert = action.type if callable(action.type) else str
                try:
                    setattr(parsed, action.dest, convert(value.text))
                except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
                    self.error(f"environment variable {value.variable}: {error}")
        return parsed, extras


def from_variable(name: str, default: str) -> FromVariable:
    """The default of a flag backed by variable ``name`` (empty counts as unset)."""
    return FromVariable(name, env_default(name, default))


def decimal_digits(text: str) -> int | None:
    """The value of ``text`` when it is plain decimal digits, leading zeros allowed (``0300`` is
    300), as ``healthcheck.sh`` reads its numbers; else None: no sign, space, underscore or
    non-ASCII digit, which ``int()`` would take, nor more digits than ``int()`` converts."""
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits() (Python 3.11 and later)
        return None


def interval_seconds(text: str) -> int:
    """The argparse type of ``--interval-seconds``: whole seconds, from 1 to a year, in plain
    decimal digits (``decimal_digits``)."""
    value = decimal_digits(text) or 0
    if not 0 < value <= MAX_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of seconds from 1 to {MAX_INTERVAL_SECONDS} (a year), in "
            f"decimal digits, not {text!r}"
        )
    return value


def service_parser(
    service: str, description: str, database: str, heartbeat: str, exits: str
) -> argparse.ArgumentParser:
    """A parser with the flags every service has; the service adds its output flag."""
    prefix = service.upper()
    parser = ServiceParser(prog=f"python -m {service}", description=description)
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
        default=from_variable(f"{prefix}_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS),
        help=f"seconds between runs of the daemon (env {prefix}_INTERVAL_SECONDS, "
        "default %(default)s)",
    )
    return parser


def run_service(
    service: str,
    args: argparse.Namespace,
    run_once: Callable[[Path, Path], RunResult],
    default_heartbeat: str,
    *,
    outputs: Sequence[NamedPath] = (),
    inputs: Sequence[NamedPath] = (),
) -> int:
    """``--once``: one run, reported, then its exit status. Otherwise the daemon, until stopped.

    ``outputs`` are the files a run replaces, ``inputs`` those it reads besides the database: an
    output naming the database, an input or another output (the heartbeat included) is refused
    first, in one line, exit 2 (``servicekit/paths.py``).
    """
    heartbeat = args.heartbeat if args.once else args.heartbeat or Path(default_heartbeat)
    written = [*outputs, *([NamedPath("--heartbeat", heartbeat)] if heartbeat else [])]
    clash = output_clash([*database_files(args.db), *inputs], written)
    if clash is not None:
        print(f"python -m {service}: error: {clash}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(service)
    run = partial(run_once, args.db, args.output)
    if args.once:
        try:
            outcome = perform_run(run)
        except KeyboardInterrupt:  # Ctrl-C: every write is atomic or undone, nothing to show
            return 130
        report(service, outcome, heartbeat, args.interval_seconds)
        return {STATUS_OK: EXIT_OK, STATUS_BUSY: EXIT_BUSY}.get(outcome.status, EXIT_FAILED)
    # Imported here: APScheduler takes a tenth of a second to import, which --once never needs.
    from servicekit.daemon import run_daemon  # noqa: PLC0415

    return run_daemon(
        service, run, Settings(args.db, args.output, heartbeat, args.interval_seconds)
    )
