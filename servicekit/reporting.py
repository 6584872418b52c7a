"""How a run is reported: one log line and a heartbeat file.

The heartbeat is what ``healthcheck.sh`` reads with plain ``sh``: one ``key=value`` per line,
ASCII, no quoting, no value with a newline. It is replaced atomically (``atomic_writer``), so the
check never reads half a file. Times are whole seconds since the epoch (``*_epoch``, what the
script compares) and the same instant in ISO 8601 UTC, for people. It is read and replaced only
when it is a regular file or absent: opening a FIFO to read it waited for a writer forever.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from servicekit.files import atomic_writer, not_a_regular_file
from servicekit.runs import STATUS_BUSY, STATUS_OK, RunOutcome, collecting_warnings

LOG_FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"


def one_line(text: str) -> str:
    """``text`` with every character Python's repr escapes (line breaks, other C0 and C1 controls,
    U+2028/2029, bidi controls, unassigned) written as that escape: a column named
    "x\n2026-... INFO collector: run ok" or an id holding a newline must not start a line of
    its own in the log or the heartbeat. Printable text, the usual case, is returned as is."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class _OneLineFormatter(logging.Formatter):
    """One record, one line, whatever its message holds (tracebacks, never logged, aside)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))


def configure_logging(service: str) -> None:
    """One format for every line both services print: UTC time, level, service, message.

    Set on this service's logger and APScheduler's, not on the root logger, so that the rest of
    the process (a test runner, say) keeps its own logging.
    """
    formatter = _OneLineFormatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime  # this formatter only
    for name, level in ((service, logging.INFO), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        for old in [handler for handler in logger.handlers if handler.get_name() == _HANDLER]:
            logger.removeHandler(old)  # configured again: one line per record all the same
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(level)


_HANDLER = "service-log-line"


def iso_utc(moment: datetime | int | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report(
    service: str,
    outcome: RunOutcome,
    heartbeat: Path | None,
    interval_seconds: int,
    next_attempt: datetime | None = None,
) -> None:
    """Log the run's one line and, when a heartbeat file is named, rewrite it.

    ``next_attempt`` is when the daemon runs next (a retry, after a failure); None for ``--once``.
    A busy run leaves the heartbeat alone: the run holding the lock writes it, and a "busy" there
    would turn a healthy service unhealthy only because someone ran ``--once`` beside it.
    """
    log = logging.getLogger(service)
    for warning in outcome.warnings:  # said before the run's line, as a run's own warnings are
        log.warning("%s", warning)
    if outcome.status == STATUS_BUSY:
        log.warning("run skipped: %s", outcome.error)
        return
    when = f" next_run={iso_utc(next_attempt)}" if next_attempt else ""
    if outcome.status == STATUS_OK:
        log.info("run ok: %s%s", outcome.summary(), when)
    elif next_attempt:
        seconds = max(0, round((next_attempt - datetime.now(timezone.utc)).total_seconds()))
        log.error(
            "run failed: %s; retry at %s (in %ds)", outcome.error, iso_utc(next_attempt), seconds
        )
    else:
        log.error("run failed: %s", outcome.error)
    if heartbeat is None:
        return
    with collecting_warnings() as warned:
        try:
            write_heartbeat(heartbeat, outcome, interval_seconds, next_attempt)
        except OSError as failure:
            log.error(
                "could not write the heartbeat %s: %s", heartbeat, failure.strerror or failure
            )
    for warning in warned:
        log.warning("%s", warning)


def format_heartbeat(
    outcome: RunOutcome,
    attempt_epoch: int,
    last_success_epoch: int | None,
    interval_seconds: int,
    next_attempt: datetime | None,
) -> str:
    fields = {
        "status": outcome.status,
        "last_attempt_epoch": str(attempt_epoch),
        "last_attempt": iso_utc(attempt_epoch),
        "last_success_epoch": "" if last_success_epoch is None else str(last_success_epoch),
        "last_success": iso_utc(last_success_epoch),
        "interval_seconds": str(interval_seconds),
        "next_attempt": iso_utc(next_attempt),
        "error": outcome.error,
        **outcome.details,
    }
    return "".join(
        f"{key}={' '.join(one_line(str(value)).split())}\n" for key, value in fields.items()
    )


def parse_heartbeat(text: str) -> dict[str, str]:
    """The key=value pairs of a heartbeat (lines without ``=`` are ignored)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def previous_success(path: Path) -> int | None:
    """The last success an existing heartbeat records, so that a failed run keeps it. Opened
    without blocking and read only if it is a regular file (not a FIFO put there meanwhile)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            text = stream.read().decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    value = parse_heartbeat(text).get("last_success_epoch", "")
    return int(value) if value.isdigit() else None


def _refuse_unless_regular(path: Path) -> None:
    """Raise unless ``path`` is a regular file or absent: a FIFO, a directory or a device there
    is not the heartbeat's to read or replace."""
    kind = not_a_regular_file(path)
    if kind is not None:
        raise OSError(f"it is {kind}, not a regular file")


def write_heartbeat(
    path: Path, outcome: RunOutcome, interval_seconds: int, next_attempt: datetime | None = None
) -> None:
    """Replace the heartbeat atomically: readers see the previous file or this one."""
    _refuse_unless_regular(path)
    now = int(time.time())
    success = now if outcome.status == STATUS_OK else previous_success(path)
    text = format_heartbeat(outcome, now, success, interval_seconds, next_attempt)
    with atomic_writer(path) as stream:
        stream.write(text.encode("ascii", "replace"))
