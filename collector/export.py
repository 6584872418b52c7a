"""One export run: bring customers.csv and the snapshot up to date with the table.

customers.csv is append-only: a row is written once, the first time its key is seen, and never
rewritten. Rows the table changed or deleted since are counted and logged, not touched. The
snapshot is the whole current table, replaced atomically whenever the table may have changed.
"""

from __future__ import annotations

import gc
import logging
import os
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TypeVar

from collector.csvfile import CsvScan, EncodedBatch, Key, encode_batch, encode_header
from collector.diff import Comparison, Written
from collector.errors import OutputDirectoryError
from collector.files import FileIdentity, atomic_writer, remove_stale_temp_files
from collector.lock import run_lock
from collector.source import BATCH_ROWS, TableReader, TableShape
from collector.state import RunState, load_summary, load_written, save_state

CUSTOMERS_CSV = "customers.csv"
SNAPSHOT_CSV = "customers_snapshot.csv"
STATE_FILE = ".collector.state"
TORN_FILE = "customers.csv.torn"  # what torn tails were cut off customers.csv, kept, never read
LOCK_FILE = ".collector.lock"
_LOGGED_KEYS = 5

log = logging.getLogger("collector")
T = TypeVar("T")


@dataclass(frozen=True)
class RunResult:
    rows: int  # rows in the table
    appended: int  # rows added to customers.csv by this run
    changed: int  # rows in customers.csv whose row in the table now differs
    deleted: int  # rows in customers.csv no longer in the table
    unchanged_table: bool  # the table and both files were as the last run left them: no writes
    torn_bytes_removed: int = 0


class OutputPaths:
    """The files a run reads and writes, all in the output directory."""

    def __init__(self, directory: Path) -> None:
        self.customers = directory / CUSTOMERS_CSV
        self.snapshot = directory / SNAPSHOT_CSV
        self.state = directory / STATE_FILE
        self.lock = directory / LOCK_FILE
        self.torn = directory / TORN_FILE


def run_export(database: Path, output_directory: Path) -> RunResult:
    """Run one export under the lock; raises CollectorError (outputs untouched) when it cannot."""
    if not output_directory.is_dir():
        raise OutputDirectoryError(f"output directory not found: {output_directory}")
    paths = OutputPaths(output_directory)
    with run_lock(paths.lock), _cyclic_gc_paused():
        for target in (paths.customers, paths.snapshot, paths.state):
            remove_stale_temp_files(target)
        with TableReader(database) as table:
            previous = load_summary(paths.state)
            if previous is not None and _nothing_changed(previous, table, paths):
                return RunResult(previous.rows, 0, previous.changed, previous.deleted, True)
            if not paths.customers.exists():
                return _create(table, paths)
            return _append(table, paths, previous)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of a run.

    A run makes millions of tuples and byte strings, none of them in a reference cycle, so they are
    freed as soon as they are done with; but every few hundred allocations the collector would walk
    them all again. Pausing it takes a seventh off a first run at a million rows.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _nothing_changed(previous: RunState, table: TableReader, paths: OutputPaths) -> bool:
    """True when the database and both CSVs are as the last successful run left them.

    The database is unchanged when SQLite's change counter and the file's identity are the
    recorded ones (see DatabaseVersion), read under SQLite's shared lock; never in WAL mode. The
    CSVs are unchanged when their identities are the recorded ones (see state.py).
    """
    return (
        table.version is not None
        and previous.database == table.version
        and _describes(previous, table.shape, paths)
        and FileIdentity.of(paths.snapshot) == previous.snapshot
    )


def _describes(previous: RunState | None, shape: TableShape, paths: OutputPaths) -> bool:
    """True when the state describes this very customers.csv, written with these columns and key."""
    return (
        previous is not None
        and previous.header == shape.header
        and previous.key_positions == shape.key_positions
        and FileIdentity.of(paths.customers) == previous.customers_csv
    )


def _create(table: TableReader, paths: OutputPaths) -> RunResult:
    """No customers.csv yet: both files get every row, the very same bytes, encoded once."""
    comparison = Comparison(Written(array("q"), array("I")))
    header = encode_header(table.shape.header)
    with atomic_writer(paths.snapshot) as snapshot, atomic_writer(paths.customers) as customers:
        snapshot.write(header)
        customers.write(header)
        for batch in _encoded_batches(table):
            comparison.add(batch)
            data = batch.data()
            snapshot.write(data)
            customers.write(data)
    return _save_state(table, paths, comparison, torn_bytes=0)


def _append(table: TableReader, paths: OutputPaths, previous: RunState | None) -> RunResult:
    """customers.csv exists: rows whose key it lacks are appended, the snapshot is rewritten."""
    written, valid_end = _written(previous, table.shape, paths)
    torn_bytes = _cut_torn_tail(paths.customers, valid_end, paths.torn)
    comparison = Comparison(written)
    with atomic_writer(paths.snapshot) as snapshot, _appending(paths.customers, valid_end) as out:
        snapshot.write(encode_header(table.shape.header))
        for batch in _encoded_batches(table):
            new = comparison.add(batch)
            data = batch.data()
            snapshot.write(data)
            if new:
                out.write(data if len(new) == len(batch.keys) else batch.data(new))
    return _save_state(table, paths, comparison, torn_bytes)


def _written(
    previous: RunState | None, shape: TableShape, paths: OutputPaths
) -> tuple[Written, int]:
    """What customers.csv holds, and where its last complete record ends.

    From the state only when the state describes this very file and the same columns and key;
    otherwise read from the file as CSV records (its header checked, a torn
    tail found), each re-encoded so that its key and fingerprint are the ones the table gives.
    """
    if _describes(previous, shape, paths):
        assert previous is not None
        written = load_written(paths.state)
        if written is not None:
            return written, previous.customers_csv.size
    scan = CsvScan(paths.customers, shape.header)
    keys: list[Key] = []
    fingerprints = array("I")
    for records in _chunks(scan.records(), BATCH_ROWS):
        texts = [[bytearray(field, "utf-8") for field in record] for record in records]
        batch = encode_batch(texts, shape.key_positions)
        keys += batch.keys
        fingerprints += array("I", batch.fingerprints)
    return Written.from_records(keys, fingerprints), scan.valid_end


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _cut_torn_tail(path: Path, valid_end: int, keep_in: Path) -> int:
    """Cut an interrupted append off customers.csv (even when no row is to be added).

    A record that is not ended by CRLF may be cut short anywhere, so it cannot be kept in place;
    its bytes are appended to ``keep_in`` first, so that a record a person left without its
    final line break (and deleted from the table since) is not lost.
    """
    torn_bytes = path.stat().st_size - valid_end
    if torn_bytes:
        with open(path, "rb") as source, open(keep_in, "ab") as kept:
            source.seek(valid_end)
            kept.write(source.read())
            kept.flush()
            os.fsync(kept.fileno())
        log.warning(
            "%s ended with %d bytes of an incomplete record (an interrupted append); "
            "cut back to the last complete record at byte %d, the cut bytes kept in %s",
            path,
            torn_bytes,
            valid_end,
            keep_in,
        )
        os.truncate(path, valid_end)
    return torn_bytes


@contextmanager
def _appending(path: Path, valid_end: int) -> Iterator[BinaryIO]:
    """Append to customers.csv; fsynced before the run reports success, cut back if it fails.

    A run that fails halfway (a full disk, a database error) leaves customers.csv as it found it.
    """
    stream = open(path, "ab")  # noqa: SIM115 (closed below on every path)
    try:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())
    except BaseException:
        with suppress(OSError):  # the disk that failed the writes may fail this flush
            stream.close()
        os.truncate(path, valid_end)
        raise
    finally:
        stream.close()


def _encoded_batches(table: TableReader) -> Iterator[EncodedBatch]:
    """The table as CSV records, a batch at a time; rows whose TEXT was not UTF-8 are logged."""
    repaired: list[Key] = []
    count = 0
    for rows in table.batches():
        batch = encode_batch(rows, table.shape.key_positions)
        count += len(batch.repaired)
        repaired += batch.repaired[: max(0, _LOGGED_KEYS - len(repaired))]
        yield batch
    if count:
        shown = ", ".join(key.decode() if isinstance(key, bytes) else str(key) for key in repaired)
        more = f" and {count - len(repaired)} more" if count > len(repaired) else ""
        log.warning(
            "%d rows hold TEXT that is not valid UTF-8, written with U+FFFD for the bad bytes: "
            "keys %s%s",
            count,
            shown,
            more,
        )


def _save_state(
    table: TableReader, paths: OutputPaths, comparison: Comparison, torn_bytes: int
) -> RunResult:
    """Record what the files now hold, for the next run; the result of this one."""
    state = RunState(
        database=table.version,
        header=table.shape.header,
        key_positions=table.shape.key_positions,
        customers_csv=_identity(paths.customers),
        snapshot=_identity(paths.snapshot),
        rows=comparison.rows,
        changed=comparison.changed,
        deleted=comparison.deleted(),
    )
    save_state(paths.state, state, comparison.written_after())
    appended = len(comparison.new_keys)
    return RunResult(state.rows, appended, state.changed, state.deleted, False, torn_bytes)


def _identity(path: Path) -> FileIdentity:
    identity = FileIdentity.of(path)
    assert identity is not None, f"{path} was just written"
    return identity
