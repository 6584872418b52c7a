"""What the last successful run wrote, kept in a hidden file beside the CSVs.

The state lets a run skip work, never change its result: it is used only while the files it
describes are provably the ones it describes. ``customers.csv`` must match the recorded identity
(device, inode, size, mtime) AND SHA-256; the snapshot must match its identity; the database file
must have the recorded SHA-256. Anything else (no state, an old format, a file edited, replaced or
torn by a crash) and the run reads customers.csv itself, record by record.

The file holds two JSON lines: a small summary, then the keys of customers.csv and the CRC-32 of
each record. A run that finds nothing changed reads only the first line.
"""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collector.csvfile import Key
from collector.files import atomic_writer

STATE_VERSION = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileIdentity:
    """Enough to tell that a file is still the very file, unchanged since it was recorded."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def file_digest(path: Path) -> hashlib._Hash:
    """The SHA-256 of a file as a hash object, so that appending can continue it."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest


class WrittenRecords:
    """The records of customers.csv in file order: each one's key and the CRC-32 of its bytes.

    ``positions`` (key -> index of its first record) is built only when a run needs to look keys
    up, so a first export never pays for a dictionary of every key, and dropped when records are
    added, so it is not in memory while the state is saved. Fingerprints live in a compact array;
    they are only used to count changed rows, never to decide what to append.
    """

    def __init__(self, keys: list[Key] | None = None, fingerprints: array[int] | None = None):
        self.keys: list[Key] = keys if keys is not None else []
        self.fingerprints: array[int] = fingerprints if fingerprints is not None else array("I")
        self._positions: dict[Key, int] | None = None

    @property
    def positions(self) -> dict[Key, int]:
        if self._positions is None:
            # Built backwards so that a key written twice maps to its first record.
            count = len(self.keys)
            self._positions = dict(zip(reversed(self.keys), range(count - 1, -1, -1)))
        return self._positions

    def extend(self, keys: Sequence[Key], fingerprints: Sequence[int]) -> None:
        """Record new records appended to the file, in file order."""
        self.keys.extend(keys)
        self.fingerprints.extend(fingerprints)
        self._positions = None  # rebuilt on the next lookup

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class RunState:
    """The summary line: what the files and the table were after the last successful run."""

    database_sha256: str | None  # None in WAL mode: the main file alone says nothing then
    header: tuple[str, ...]
    key_positions: tuple[int, ...]
    customers_csv: FileIdentity
    customers_csv_sha256: str
    snapshot: FileIdentity
    rows: int
    changed: int
    deleted: int

    def customers_csv_digest(self, path: Path) -> hashlib._Hash | None:
        """The SHA-256 of customers.csv if it is byte for byte the file this state describes.

        None otherwise. A run that appends goes on updating the returned hash object, so it
        never reads the file a second time to record the new digest.
        """
        if FileIdentity.of(path) != self.customers_csv:
            return None
        digest = file_digest(path)
        return digest if digest.hexdigest() == self.customers_csv_sha256 else None


def _summary_from_json(data: dict[str, Any]) -> RunState:
    return RunState(
        database_sha256=data["database_sha256"],
        header=tuple(data["header"]),
        key_positions=tuple(data["key_positions"]),
        customers_csv=FileIdentity(**data["customers_csv"]),
        customers_csv_sha256=data["customers_csv_sha256"],
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


def load_written_records(path: Path) -> WrittenRecords | None:
    """The keys and fingerprints line, or None if it cannot be read."""
    try:
        with open(path, "rb") as stream:
            stream.readline()
            data = json.loads(stream.readline())
        if "int_keys" in data:
            keys: list[Key] = _array_from_hex("q", data["int_keys"]).tolist()
        else:
            keys = data["keys"]
            if not isinstance(keys, list) or not set(map(type, keys)) <= {int, str}:
                return None  # anything else would fail the run later, as a dictionary key
        fingerprints = _array_from_hex("I", data["fingerprints"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(keys) != len(fingerprints):
        return None
    return WrittenRecords(keys, fingerprints)


def _array_to_hex(values: array[int]) -> str:
    """Little-endian bytes as hex: compact, and read back without parsing a list."""
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes().hex()


def _array_from_hex(typecode: str, text: str) -> array[int]:
    values = array(typecode, bytes.fromhex(text))
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _keys_to_json(keys: list[Key]) -> dict[str, object]:
    """Integer keys as packed 64-bit ints (a million of them load in milliseconds), else a list."""
    if set(map(type, keys)) == {int}:
        try:
            return {"int_keys": _array_to_hex(array("q", keys))}
        except OverflowError:  # a decimal text key beyond 64 bits
            pass
    return {"keys": keys}


def save_state(path: Path, state: RunState, written: WrittenRecords) -> None:
    """Replace the state file atomically (a crash leaves the old state or the new one)."""
    summary = {"version": STATE_VERSION, **asdict(state)}
    records = {"fingerprints": _array_to_hex(written.fingerprints), **_keys_to_json(written.keys)}
    with atomic_writer(path) as stream:
        stream.write(json.dumps(summary).encode() + b"\n")
        stream.write(json.dumps(records, ensure_ascii=False).encode() + b"\n")
