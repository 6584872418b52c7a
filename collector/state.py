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
not all integers follow as JSON, a list of their CSV texts, instead. The summary holds the CRC-32
of what follows it: keys read wrong would make rows already in customers.csv look new.
"""

from __future__ import annotations

import json
import zlib
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collector.diff import Written
from collector.files import FileIdentity, atomic_writer
from collector.source import DatabaseVersion

STATE_VERSION = 4


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
    """The written keys and fingerprints, or None unless they read back whole and unaltered."""
    try:
        with open(path, "rb") as stream:
            summary = json.loads(stream.readline())
            body = memoryview(stream.read())  # sliced below without copies
        if zlib.crc32(body) != summary["body_crc32"]:
            return None
        count = summary["records"]
        fingerprints = array("I")
        fingerprints.frombytes(body[: 4 * count])
        if summary["int_keys"]:
            keys: Any = array("q")
            keys.frombytes(body[4 * count :])
        else:
            keys = [text.encode() for text in json.loads(bytes(body[4 * count :]))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return Written(keys, fingerprints) if len(fingerprints) == len(keys) == count else None


def save_state(path: Path, state: RunState, written: Written) -> None:
    """Replace the state file atomically (a crash leaves the old state or the new one)."""
    keys: bytes | array[int]  # arrays are written and checksummed as they are, without a copy
    if isinstance(written.keys, array):
        keys = written.keys
    else:
        keys = json.dumps([key.decode() for key in written.keys], ensure_ascii=False).encode()
    summary = {"version": STATE_VERSION, **asdict(state)}
    summary.update(
        records=len(written),
        int_keys=isinstance(written.keys, array),
        body_crc32=zlib.crc32(keys, zlib.crc32(written.fingerprints)),
    )
    with atomic_writer(path) as stream:
        stream.write(json.dumps(summary).encode() + b"\n")
        stream.write(written.fingerprints)
        stream.write(keys)
