"""What the last successful run wrote, kept in a hidden file beside the CSVs.

The state lets a run skip work, never change its result: it is used only while the files it
describes are still the ones it describes. ``customers.csv`` and the snapshot must have the recorded
identity (device, inode, size, mtime in nanoseconds, see ``FileIdentity``); the database must have
the recorded version (SQLite's change counter and the file's identity, see ``DatabaseVersion``).
Anything else (no state, an old format, a file edited, replaced or torn by a crash) and the run
reads customers.csv itself, record by record. No file is hashed: hashing the database and
customers.csv took 0.17 s a run at a million rows, most of a run that finds nothing changed, and
would only add an edit made with the size kept and the mtime set back on purpose.

The file starts with one JSON line, the summary; a run that finds nothing changed reads only that.
The written keys and fingerprints follow as the raw bytes of their arrays, in this machine's byte
order (a state moved to another machine already fails the device and inode check); keys that are
not all integers follow as one JSON line of their CSV texts instead.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collector.diff import Written
from collector.files import FileIdentity, atomic_writer
from collector.source import DatabaseVersion

STATE_VERSION = 3


@dataclass(frozen=True)
class RunState:
    """The summary line: what the files and the table were after the last successful run."""

    database: DatabaseVersion | None  # None in WAL mode: the main file alone says nothing then
    header: tuple[str, ...]
    key_positions: tuple[int, ...]
    customers_csv: FileIdentity
    snapshot: FileIdentity
    rows: int
    changed: int
    deleted: int


def _database_from_json(data: dict[str, Any] | None) -> DatabaseVersion | None:
    if data is None:
        return None
    return DatabaseVersion(data["change_counter"], FileIdentity(**data["file"]))


def _summary_from_json(data: dict[str, Any]) -> RunState:
    return RunState(
        database=_database_from_json(data["database"]),
        header=tuple(data["header"]),
        key_positions=tuple(data["key_positions"]),
        customers_csv=FileIdentity(**data["customers_csv"]),
        snapshot=FileIdentity(**data["snapshot"]),
        rows=data["rows"],
        changed=data["changed"],
        deleted=data["deleted"],
    )


def load_summary(path: Path) -> RunState | None:
    """The summary line, or None when there is no usable state (it is only ever a shortcut)."""
    try:
        with open(path, "rb") as stream:
            data = json.loads(stream.readline())
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        return _summary_from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_written(path: Path) -> Written | None:
    """The written keys and fingerprints, or None if they cannot be read in full."""
    try:
        with open(path, "rb") as stream:
            summary = json.loads(stream.readline())
            count = summary["records"]
            fingerprints = array("I")
            fingerprints.fromfile(stream, count)
            if summary["int_keys"]:
                keys: Any = array("q")
                keys.fromfile(stream, count)
            else:
                keys = [text.encode() for text in json.loads(stream.readline())]
            if stream.read(1) or len(keys) != count:
                return None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return Written(keys, fingerprints)


def save_state(path: Path, state: RunState, written: Written) -> None:
    """Replace the state file atomically (a crash leaves the old state or the new one)."""
    int_keys = isinstance(written.keys, array)
    summary = {"version": STATE_VERSION, **asdict(state)}
    summary.update(records=len(written), int_keys=int_keys)
    with atomic_writer(path) as stream:
        stream.write(json.dumps(summary).encode() + b"\n")
        written.fingerprints.tofile(stream)
        if isinstance(written.keys, array):
            written.keys.tofile(stream)
        else:
            texts = [key.decode() for key in written.keys]
            stream.write(json.dumps(texts, ensure_ascii=False).encode() + b"\n")
