"""The heartbeat file: what the last run did, in a form ``healthcheck.sh`` reads with plain ``sh``.

One ``key=value`` per line, ASCII, no quoting, values never contain a newline. Written atomically
(temp file beside it + ``os.replace``) so the healthcheck never reads half a file. Times are whole
seconds since the epoch (``*_epoch``, what the script compares) plus the same instant in ISO 8601
UTC for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from collector.files import atomic_writer

STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class Heartbeat:
    status: str
    last_attempt_epoch: int
    last_success_epoch: int | None
    interval_seconds: int
    rows: int | None = None
    appended: int | None = None
    changed: int | None = None
    deleted: int | None = None
    duration_seconds: float | None = None
    error: str = ""


def _iso(epoch: int | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_heartbeat(beat: Heartbeat) -> str:
    def number(value: float | None) -> str:
        return "" if value is None else str(value)

    fields = {
        "status": beat.status,
        "last_attempt_epoch": str(beat.last_attempt_epoch),
        "last_attempt": _iso(beat.last_attempt_epoch),
        "last_success_epoch": number(beat.last_success_epoch),
        "last_success": _iso(beat.last_success_epoch),
        "interval_seconds": str(beat.interval_seconds),
        "rows": number(beat.rows),
        "appended": number(beat.appended),
        "changed": number(beat.changed),
        "deleted": number(beat.deleted),
        "duration_seconds": "" if beat.duration_seconds is None else f"{beat.duration_seconds:.3f}",
        "error": _one_line(beat.error),
    }
    return "".join(f"{key}={value}\n" for key, value in fields.items())


def parse_heartbeat(text: str) -> dict[str, str]:
    """The key=value pairs of a heartbeat (lines without ``=`` are ignored)."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator:
            pairs[key] = value
    return pairs


def previous_success(path: Path) -> int | None:
    """The last success recorded in an existing heartbeat, so a failed run does not erase it."""
    try:
        pairs: Mapping[str, str] = parse_heartbeat(path.read_text(encoding="ascii"))
        value = pairs.get("last_success_epoch", "")
        return int(value) if value.isdigit() else None
    except (OSError, UnicodeDecodeError):
        return None


def write_heartbeat(path: Path, beat: Heartbeat) -> None:
    """Replace the heartbeat atomically: readers see the previous file or this one."""
    with atomic_writer(path) as stream:
        stream.write(format_heartbeat(beat).encode("ascii", "replace"))
