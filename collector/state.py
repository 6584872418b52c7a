"""What the last successful run wrote, kept in ``.collector.state`` beside the CSVs.

The state lets a run skip work, never change its result: it is used only while the files it
describes are still the ones it describes (see ``FileIdentity`` and ``DatabaseVersion``). Anything
else (no state, an old format, a file edited, replaced or torn by a crash) and the run reads
customers.csv itself. No file is hashed: hashing the database and customers.csv took 0.17 s a run
at a million rows, most of a run that finds nothing changed, and would only add an edit made with
the size kept and the mtime set back on purpose.

The file starts with one JSON line, the summary; a run that finds nothing changed reads only that.
The fingerprints and keys follow as the raw bytes of their arrays, in this machine's byte order (a
state moved to another machine already fails the device and inode check). The summary holds the
CRC-32 of what follows it: keys read wrong would make rows already in customers.csv look new.

The keys are the values of one column of customers.csv, so the summary records which (``header``
and ``key_position``): a table replaced by one with the same header and another key column must not
be compared with the old column's values, which once appended rows twice and kept a new one out.
Everything else a run's output depends on is in the files the identities describe.
"""

from __future__ import annotations

import json
import zlib
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

from collector.diff import Written
from collector.source import DatabaseVersion, FileIdentity, TableReader
from servicekit.files import atomic_writer

STATE_VERSION = 6


@dataclass(frozen=True)
class RunState:
    """The summary line: what the files and the table were after the last successful run."""

    database: DatabaseVersion | None  # None: no shortcut (WAL mode, or the file was replaced)
    header: tuple[str, ...]
    key_position: int  # the header's key column: the recorded keys are that column's values
    customers_csv: FileIdentity
    snapshot: FileIdentity
    rows: int
    changed: int
    deleted: int

    def describes_customers_csv(self, table: TableReader, customers_csv: Path) -> bool:
        """Whether this is the very customers.csv the state recorded, with the table's columns
        and key column (the recorded keys stand for the values of that one column)."""
        return (
            self.header == table.shape.header
            and self.key_position == table.shape.key_position
            and FileIdentity.of(customers_csv) == self.customers_csv
        )

    def nothing_changed(self, table: TableReader, customers_csv: Path, snapshot: Path) -> bool:
        """Whether the database and both CSVs are as the last successful run left them."""
        return (
            table.version is not None
            and self.database == table.version
            and self.describes_customers_csv(table, customers_csv)
            and FileIdentity.of(snapshot) == self.snapshot
        )


def load_summary(path: Path) -> RunState | None:
    """The summary line, or None when there is no usable state (it is only ever a shortcut)."""
    try:
        with open(path, "rb") as stream:
            data = json.loads(stream.readline())
        if data["version"] != STATE_VERSION:
            return None
        db = data["database"]
        return RunState(
            database=db and DatabaseVersion(db["change_counter"], FileIdentity(**db["file"])),
            header=tuple(data["header"]),
            key_position=data["key_position"],
            customers_csv=FileIdentity(**data["customers_csv"]),
            snapshot=FileIdentity(**data["snapshot"]),
            rows=data["rows"],
            changed=data["changed"],
            deleted=data["deleted"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_written(path: Path) -> Written | None:
    """The written keys and fingerprints, or None unless they read back whole and unaltered."""
    try:
        with open(path, "rb") as stream:
            summary = json.loads(stream.readline())
            body = memoryview(stream.read())  # sliced below without copies
        if zlib.crc32(body) != summary["body_crc32"] or len(body) != 12 * summary["records"]:
            return None
        fingerprints, keys = array("I"), array("q")
        fingerprints.frombytes(body[: 4 * summary["records"]])
        keys.frombytes(body[4 * summary["records"] :])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Written(keys, fingerprints)


def save_state(path: Path, state: RunState, written: Written) -> None:
    """Replace the state file atomically (a crash leaves the old state or the new one)."""
    summary = {"version": STATE_VERSION, **asdict(state)}
    summary.update(
        records=len(written.keys),
        body_crc32=zlib.crc32(written.keys, zlib.crc32(written.fingerprints)),
    )
    with atomic_writer(path) as stream:
        stream.write(json.dumps(summary).encode() + b"\n")
        stream.write(written.fingerprints)
        stream.write(written.keys)
