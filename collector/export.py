"""One collector run: bring customers.csv and the snapshot up to date with the table.

customers.csv is append-only: a row is written once, the first time its key is seen, and never
rewritten. Rows the table changed or deleted since are counted and logged, not touched. The
snapshot is the whole current table, replaced atomically whenever the table may have changed.
A run that fails leaves customers.csv as it found it, a torn tail aside (see ``_cut_torn_tail``).
"""

from __future__ import annotations

import gc
import logging
import os
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, NamedTuple

from collector.csvfile import CsvScan, EncodedBatch, encode_batch, encode_header
from collector.diff import Comparison, Written
from collector.lock import run_lock
from collector.source import BATCH_ROWS, FileIdentity, TableReader
from collector.state import RunState, load_summary, load_written, save_state
from servicekit.files import atomic_writer, remove_stale_temp_files
from servicekit.runs import RunError, first_ids

CUSTOMERS_CSV = "customers.csv"
SNAPSHOT_CSV = "customers_snapshot.csv"
STATE_FILE = ".collector.state"
TORN_FILE = "customers.csv.torn"  # what torn tails were cut off customers.csv, kept, never read
LOCK_FILE = ".collector.lock"

log = logging.getLogger("collector")


class RunResult(NamedTuple):
    rows: int  # rows in the table
    appended: int  # rows added to customers.csv by this run
    changed: int  # rows in customers.csv whose row in the table now differs
    deleted: int  # rows in customers.csv no longer in the table
    written: bool  # False: the table and both files were as the last run left them
    torn_bytes_removed: int = 0

    def details(self) -> dict[str, str]:
        return {
            "rows": str(self.rows),
            "appended": str(self.appended),
            "changed": str(self.changed),
            "deleted": str(self.deleted),
            "written": "yes" if self.written else "no",
        }


class OutputPaths:
    """The files a run reads and writes, all in the output directory."""

    def __init__(self, directory: Path) -> None:
        self.customers = directory / CUSTOMERS_CSV
        self.snapshot = directory / SNAPSHOT_CSV
        self.state = directory / STATE_FILE
        self.lock = directory / LOCK_FILE
        self.torn = directory / TORN_FILE


def run_once(database: Path, output: Path) -> RunResult:
    """Run one export under the lock; raises RunError (outputs untouched) when it cannot."""
    if not output.is_dir():
        raise RunError(f"output directory not found: {output}")
    paths = OutputPaths(output)
    with run_lock(paths.lock), _cyclic_gc_paused():
        for target in (paths.customers, paths.snapshot, paths.state):
            remove_stale_temp_files(target)
        with TableReader(database) as table:
            previous = load_summary(paths.state)
            if previous and previous.nothing_changed(table, paths.customers, paths.snapshot):
                return RunResult(previous.rows, 0, previous.changed, previous.deleted, False)
            return _update(table, paths, previous)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of a run: a run makes millions of tuples and byte
    strings, none in a reference cycle, so they are freed as soon as they are done with; but every
    few hundred allocations the collector would walk them all again. Pausing it takes a seventh off
    a first run at a million rows."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _update(table: TableReader, paths: OutputPaths, previous: RunState | None) -> RunResult:
    """Append the rows whose key customers.csv lacks (all of them to a new or empty file), and
    write the snapshot, from one encoding of the table."""
    header = encode_header(table.shape.header)
    torn_bytes = 0
    if paths.customers.exists() and paths.customers.stat().st_size:
        written, valid_end = _written(previous, table, paths)
        torn_bytes = _cut_torn_tail(paths.customers, valid_end, paths.torn)
    else:
        written, valid_end = Written.from_records([], []), None
    comparison = Comparison(written)
    with _appending(paths.customers, valid_end) as out:
        if valid_end is None:
            out.write(header)
        with atomic_writer(paths.snapshot) as snapshot:
            snapshot.write(header)
            for batch in _encoded_batches(table):
                new = comparison.add(batch)
                data = batch.data()
                snapshot.write(data)
                if new:
                    out.write(data if len(new) == len(batch.records) else batch.data(new))
        out.flush()
        os.fsync(out.fileno())
        state = RunState(
            database=table.version,
            header=table.shape.header,
            key_position=table.shape.key_position,
            customers_csv=FileIdentity.of_status(os.fstat(out.fileno())),
            snapshot=FileIdentity.of_status(paths.snapshot.stat()),
            rows=comparison.rows,
            changed=comparison.changed,
            deleted=comparison.deleted(),
        )
        save_state(paths.state, state, comparison.written_after())
    appended = len(comparison.new_keys)
    return RunResult(state.rows, appended, state.changed, state.deleted, True, torn_bytes)


def _written(
    previous: RunState | None, table: TableReader, paths: OutputPaths
) -> tuple[Written, int]:
    """What customers.csv holds, and where its last complete record ends: from the state when it
    describes this very file and the same columns, otherwise read back from the file."""
    if previous and previous.describes_customers_csv(table, paths.customers):
        written = load_written(paths.state)
        if written is not None:
            return written, previous.customers_csv.size
    scan = CsvScan(paths.customers, table.shape.header)
    keys, fingerprints = array("q"), array("I")
    for batch in scan.batches(table.shape.key_position, BATCH_ROWS):
        keys += batch.keys
        fingerprints += batch.fingerprints
    return Written.from_records(keys, fingerprints), scan.valid_end


def _cut_torn_tail(path: Path, valid_end: int, keep_in: Path) -> int:
    """Cut an interrupted append off customers.csv (even when no row is to be added). A record
    not ended by CRLF may be cut short anywhere, so it cannot be kept in place; its bytes are
    appended to ``keep_in`` first, so that a record a person left without its final line break
    (and deleted from the table since) is not lost."""
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
def _appending(path: Path, valid_end: int | None) -> Iterator[BinaryIO]:
    """Append to customers.csv, or write it anew (``valid_end`` None). If the block fails (it
    covers the snapshot's replacement and the state's save too), the file is cut back to
    ``valid_end``, or removed if this run created it: a failed run leaves it as it found it."""
    existed = path.exists()
    stream = open(path, "ab")  # noqa: SIM115 (closed below on every path)
    try:
        yield stream
    except BaseException:
        with suppress(OSError):  # the disk that failed the writes may fail this flush
            stream.close()
        if existed:
            os.truncate(path, valid_end or 0)
        else:
            path.unlink(missing_ok=True)
        raise
    finally:
        stream.close()


def _encoded_batches(table: TableReader) -> Iterator[EncodedBatch]:
    """The table as CSV records, a batch at a time; rows whose TEXT was not UTF-8 are logged."""
    repaired = array("q")
    for rows in table.batches():
        batch = encode_batch(rows, table.shape.key_position)
        repaired.extend(batch.repaired)
        yield batch
    if repaired:
        log.warning(
            "%d rows hold TEXT that is not valid UTF-8, written with U+FFFD for the bad bytes: "
            "keys %s",
            len(repaired),
            first_ids(repaired),
        )
