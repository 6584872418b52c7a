"""One export run: bring customers.csv and the snapshot up to date with the table.

customers.csv is append-only: a row is written once, the first time its key is seen, and never
rewritten. Rows the table changed or deleted since are counted and logged, not touched. The
snapshot is the whole current table, replaced atomically whenever the table may have changed.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from collector.csvfile import (
    CsvScan,
    encode_batch,
    encode_header,
    header_mismatch_message,
    read_header,
)
from collector.diff import Comparison
from collector.errors import HeaderMismatchError, OutputDirectoryError
from collector.files import atomic_writer, fsync_directory, remove_stale_temp_files
from collector.lock import run_lock
from collector.source import BATCH_ROWS, TableReader, TableShape
from collector.state import (
    FileIdentity,
    RunState,
    WrittenRecords,
    file_digest,
    load_summary,
    load_written_records,
    save_state,
)

CUSTOMERS_CSV = "customers.csv"
SNAPSHOT_CSV = "customers_snapshot.csv"
STATE_FILE = ".collector.state"
LOCK_FILE = ".collector.lock"

log = logging.getLogger("collector")


@dataclass(frozen=True)
class RunResult:
    rows: int  # rows in the table
    appended: int  # rows added to customers.csv by this run
    changed: int  # rows in customers.csv whose row in the table now differs
    deleted: int  # rows in customers.csv no longer in the table
    unchanged_table: bool  # the table and both files were as the last run left them: no writes
    torn_bytes_removed: int = 0


@dataclass(frozen=True)
class OutputPaths:
    directory: Path

    @property
    def customers(self) -> Path:
        return self.directory / CUSTOMERS_CSV

    @property
    def snapshot(self) -> Path:
        return self.directory / SNAPSHOT_CSV

    @property
    def state(self) -> Path:
        return self.directory / STATE_FILE

    @property
    def lock(self) -> Path:
        return self.directory / LOCK_FILE


def run_export(database: Path, output_directory: Path) -> RunResult:
    """Run one export under the lock; raises CollectorError (outputs untouched) when it cannot."""
    if not output_directory.is_dir():
        raise OutputDirectoryError(f"output directory not found: {output_directory}")
    paths = OutputPaths(output_directory)
    with run_lock(paths.lock):
        for target in (paths.customers, paths.snapshot, paths.state):
            remove_stale_temp_files(target)
        with TableReader(database) as table:
            previous = load_summary(paths.state)
            if _nothing_changed(previous, table, paths):
                assert previous is not None
                return RunResult(previous.rows, 0, previous.changed, previous.deleted, True)
            return _export(table, paths, previous)


def _nothing_changed(previous: RunState | None, table: TableReader, paths: OutputPaths) -> bool:
    """True when the database file and both CSVs are exactly as the last successful run left them.

    The database test is a SHA-256 of the whole file under SQLite's shared lock, so it is never
    weaker than reading the rows: identical bytes hold identical rows. It is skipped (full run) in
    WAL mode, when the state is missing or of another version, or when either CSV was touched.
    """
    return (
        previous is not None
        and table.content_digest is not None
        and previous.database_sha256 == table.content_digest
        and previous.header == table.shape.header
        and previous.key_positions == table.shape.key_positions
        and FileIdentity.of(paths.snapshot) == previous.snapshot
        and previous.customers_csv_digest(paths.customers) is not None
    )


def _written_records(
    previous: RunState | None, shape: TableShape, paths: OutputPaths
) -> tuple[WrittenRecords, int, hashlib._Hash | None]:
    """What customers.csv already holds, where its last complete record ends, and its digest.

    Taken from the state only when the state describes this very file (identity and SHA-256) and
    the same key; otherwise read from the file as CSV records, which also finds a torn tail (the
    digest is then None: the run hashes the file once it is done with it).
    """
    header = read_header(paths.customers)
    if header != list(shape.header):
        raise HeaderMismatchError(header_mismatch_message(paths.customers, shape.header))
    if (
        previous is not None
        and previous.key_positions == shape.key_positions
        and previous.header == shape.header
    ):
        digest = previous.customers_csv_digest(paths.customers)
        written = load_written_records(paths.state) if digest is not None else None
        if written is not None:
            return written, previous.customers_csv.size, digest
    scan = CsvScan(paths.customers, shape.header)
    written = WrittenRecords()
    pending: list[list[str]] = []
    for record in scan.records():
        pending.append(record)
        if len(pending) == BATCH_ROWS:
            _remember(written, pending, shape.key_positions)
            pending.clear()
    _remember(written, pending, shape.key_positions)
    return written, scan.valid_end, None


def _remember(
    written: WrittenRecords, records: list[list[str]], key_positions: Sequence[int]
) -> None:
    batch = encode_batch(records, key_positions)
    written.extend(batch.keys, batch.fingerprints)


class _CustomersAppender:
    """Appends to an existing customers.csv; a torn tail is cut first, even with no rows to add.

    A context manager: a run that fails before ``finish`` (a full disk, a database error halfway
    through the table) cuts its appends off again, so customers.csv is left as the run found it,
    less any torn tail.
    """

    def __init__(self, path: Path, valid_end: int) -> None:
        self.path = path
        self.valid_end = valid_end
        self.torn_bytes = path.stat().st_size - valid_end
        self._stream: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        if self._stream is None:
            if self.torn_bytes:
                log.warning(
                    "%s ended with %d bytes of an incomplete record (an interrupted append); "
                    "cut back to the last complete record at byte %d",
                    self.path,
                    self.torn_bytes,
                    self.valid_end,
                )
                os.truncate(self.path, self.valid_end)
            self._stream = open(self.path, "ab")  # noqa: SIM115 (open across batches, closed in finish)
        return self._stream

    def write(self, data: bytes) -> None:
        if data:
            self._open().write(data)

    def finish(self) -> None:
        """Make the appends durable: flushed and fsynced before the run reports success."""
        if self.torn_bytes:
            self._open()
        if self._stream is not None:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
            self._stream = None

    def __enter__(self) -> _CustomersAppender:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        if self._stream is None:  # finished, or nothing was appended
            return
        stream, self._stream = self._stream, None
        with suppress(OSError):  # the disk that failed the writes may fail this flush
            stream.close()
        os.truncate(self.path, self.valid_end)


def _export(table: TableReader, paths: OutputPaths, previous: RunState | None) -> RunResult:
    shape = table.shape
    creating = not paths.customers.exists()
    header = encode_header(shape.header)
    if creating:
        written, valid_end, digest = WrittenRecords(), 0, hashlib.sha256(header)
    else:
        written, valid_end, digest = _written_records(previous, shape, paths)
    comparison = Comparison(written)
    with ExitStack() as stack:
        stack.enter_context(_cycle_collector_paused())
        snapshot = stack.enter_context(atomic_writer(paths.snapshot))
        snapshot.write(header)
        if creating:
            customers: BinaryIO | _CustomersAppender = stack.enter_context(
                atomic_writer(paths.customers)
            )
            customers.write(header)
        else:
            customers = stack.enter_context(_CustomersAppender(paths.customers, valid_end))
        for rows in table.batches():
            batch = encode_batch(rows, shape.key_positions)
            diff = comparison.add(batch)
            data = batch.data()
            snapshot.write(data)
            if diff.new:  # a first run writes the very same bytes to both files, encoded once
                appended = data if len(diff.new) == len(batch.keys) else batch.data(diff.new)
                customers.write(appended)
                if digest is not None:
                    digest.update(appended)
        if isinstance(customers, _CustomersAppender):
            customers.finish()
        # Leaving the block fsyncs and moves the snapshot (and a new customers.csv) into place.
    if not creating:
        fsync_directory(paths.directory)
    deleted = comparison.deleted()
    written.extend(comparison.new_keys, comparison.new_fingerprints)  # also frees its dictionary
    if digest is None:  # customers.csv was read back as CSV records, not hashed on the way
        digest = file_digest(paths.customers)
    state = RunState(
        database_sha256=table.content_digest,
        header=shape.header,
        key_positions=shape.key_positions,
        customers_csv=_identity(paths.customers),
        customers_csv_sha256=digest.hexdigest(),
        snapshot=_identity(paths.snapshot),
        rows=comparison.rows,
        changed=comparison.changed,
        deleted=deleted,
    )
    save_state(paths.state, state, written)
    torn = customers.torn_bytes if isinstance(customers, _CustomersAppender) else 0
    appended = len(comparison.new_keys)
    return RunResult(comparison.rows, appended, comparison.changed, deleted, False, torn)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the export loop.

    The loop allocates millions of short-lived tuples and creates no reference cycles, so the
    collector's repeated passes over them are pure overhead (about a tenth of a run); plain
    reference counting still frees everything as the loop goes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _identity(path: Path) -> FileIdentity:
    identity = FileIdentity.of(path)
    assert identity is not None, f"{path} was just written"
    return identity
