"""One collector run: bring customers.csv and the snapshot up to date with the table.

customers.csv is append-only: a row is written once, the first time its key is seen, and never
rewritten. Rows the table changed or deleted since are counted and logged, not touched. The
snapshot is the whole current table, replaced atomically whenever the table may have changed.
A run that fails at any step changes no output: the snapshot is published last, once nothing
else can fail, and customers.csv (and customers.csv.torn) are put back as the run found them.
"""

from __future__ import annotations

import gc
import logging
import os
from array import array
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, NamedTuple

from collector.csvfile import CsvScan, EncodedBatch, encode_batch, encode_header
from collector.diff import Comparison, Written
from collector.lock import run_lock
from collector.source import BATCH_ROWS, FileIdentity, TableReader
from collector.state import RunState, load_summary, load_written, save_state
from collector.torn import cut_back, keep_tail
from servicekit.files import atomic_writer, not_a_regular_file, remove_stale_temp_files
from servicekit.runs import RunError, first_ids, on_os_error

CUSTOMERS_CSV = "customers.csv"
SNAPSHOT_CSV = "customers_snapshot.csv"
STATE_FILE = ".collector.state"
TORN_FILE = "customers.csv.torn"  # what torn tails were cut off customers.csv, kept, never read
KEPT_FILE = ".collector.kept"  # which torn tail customers.csv.torn got last (collector/torn.py)
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
        self.kept = directory / KEPT_FILE

    def every_file(self) -> tuple[Path, ...]:
        """Every file a run writes: none may be the database (refused at start)."""
        return (self.customers, self.snapshot, self.state, self.lock, self.torn, self.kept)


def run_once(database: Path, output: Path) -> RunResult:
    """Run one export under the lock; raises RunError (outputs untouched) when it cannot."""
    if not output.is_dir():
        raise RunError(f"output directory not found: {output}")
    paths = OutputPaths(output)
    with run_lock(paths.lock), _cyclic_gc_paused():
        for target in (paths.customers, paths.snapshot, paths.state, paths.torn, paths.kept):
            with on_os_error(f"cannot read {target.parent}"):
                kind = not_a_regular_file(target)
            if kind:  # a FIFO would make the run wait forever, the lock held
                raise RunError(f"{target} is {kind}, not a regular file; it is left alone")
        for target in (paths.customers, paths.snapshot, paths.state, paths.kept):
            with on_os_error(f"cannot remove the temp files a killed run left for {target}"):
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
    write the snapshot, from one encoding of the table.

    The snapshot's rename into place, as its block ends, is the run's commit point: everything
    else is done by then (customers.csv appended, fsynced and closed, the state saved), so an
    error before it undoes the run, and nothing after it can fail the run (``atomic_writer``
    warns of a close that fails after the rename). A snapshot published by a run that then
    failed once showed customers customers.csv never got. A state saved by a run that then
    failed describes files that run did not leave: never used.
    """
    header = encode_header(table.shape.header)
    with on_os_error(f"cannot read {paths.customers}"):
        existing = paths.customers.exists() and paths.customers.stat().st_size > 0
    if existing:
        written, valid_end = _written(previous, table, paths)
    else:
        written, valid_end = Written.from_records([], []), None
    comparison = Comparison(written)
    appending = f"cannot {'write' if valid_end is None else 'append to'} {paths.customers}"
    with ExitStack() as files:  # left in reverse: the snapshot moved into place, then the rest
        torn_bytes = files.enter_context(_torn_tail_cut(paths, valid_end))
        out = files.enter_context(_appending(paths.customers, valid_end, appending))
        files.enter_context(on_os_error(f"cannot write {paths.snapshot}"))
        snapshot = files.enter_context(atomic_writer(paths.snapshot))
        snapshot.write(header)
        with on_os_error(appending):
            if valid_end is None:
                out.write(header)
        for batch in _encoded_batches(table):
            new = comparison.add(batch)
            data = batch.data()
            snapshot.write(data)
            if new:
                with on_os_error(appending):
                    out.write(data if len(new) == len(batch.records) else batch.data(new))
        snapshot.flush()
        with on_os_error(appending):
            out.flush()
            os.fsync(out.fileno())
            appended_file = FileIdentity.of_status(os.fstat(out.fileno()))
            out.close()  # before the commit point: a failure here still undoes the run
        state = RunState(
            database=table.version,
            header=table.shape.header,
            key_position=table.shape.key_position,
            customers_csv=appended_file,
            # The temp file's: the rename keeps its device, inode, size and mtime.
            snapshot=FileIdentity.of_status(os.fstat(snapshot.fileno())),
            rows=comparison.rows,
            changed=comparison.changed,
            deleted=comparison.deleted(),
        )
        with on_os_error(f"cannot write {paths.state}"):
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
    with on_os_error(f"cannot read {paths.customers}"):
        for batch in scan.batches(table.shape.key_position, BATCH_ROWS):
            keys += batch.keys
            fingerprints += batch.fingerprints
    return Written.from_records(keys, fingerprints), scan.valid_end


@contextmanager
def _torn_tail_cut(paths: OutputPaths, valid_end: int | None) -> Iterator[int]:
    """Cut an interrupted append off customers.csv (even when no row is to be added) for the
    block, which gets the number of bytes cut. A record not ended by CRLF may be cut short
    anywhere, so it cannot be kept in place; its bytes are added to customers.csv.torn first
    (once, whatever step a crash stops: ``torn.keep_tail``), so that a record a person left
    without its final line break (and deleted from the table since) is not lost. If the block
    fails, the bytes go back to the end of customers.csv and customers.csv.torn is cut back to
    its old length: a failed run changes no output."""
    tail = b""
    if valid_end is not None:
        with on_os_error(f"cannot read {paths.customers}"), open(paths.customers, "rb") as source:
            source.seek(valid_end)
            tail = source.read()
            status = os.fstat(source.fileno())
    if not tail:
        yield 0
        return
    kept_before = keep_tail(paths.torn, paths.kept, status, valid_end or 0, tail)
    try:
        with on_os_error(f"cannot cut the incomplete last record off {paths.customers}"):
            os.truncate(paths.customers, valid_end or 0)
        log.warning(
            "%s ended with %d bytes of an incomplete record (an interrupted append); "
            "cut back to the last complete record at byte %d, the cut bytes kept in %s",
            paths.customers,
            len(tail),
            valid_end,
            paths.torn,
        )
        yield len(tail)
    except BaseException:
        _put_torn_tail_back(paths, valid_end or 0, tail, kept_before)
        raise


def _put_torn_tail_back(paths: OutputPaths, valid_end: int, tail: bytes, torn: int | None) -> None:
    """Undo ``_torn_tail_cut`` for a failed run; its copy goes only once the tail is back. A
    copy that cannot go (the directory turned read-only) stays, and .collector.kept tells the
    next run it holds this tail already."""
    with suppress(OSError):  # nothing is lost if this fails: the tail is in customers.csv.torn
        with open(paths.customers, "r+b") as stream:
            stream.seek(valid_end)
            stream.write(tail)
            stream.truncate()
            stream.flush()
            os.fsync(stream.fileno())
        cut_back(paths.torn, torn)


@contextmanager
def _appending(path: Path, valid_end: int | None, doing: str) -> Iterator[BinaryIO]:
    """Append to customers.csv, or write it anew (``valid_end`` None). The block closes the
    stream itself, before the run's commit point. If the block fails (it covers the snapshot's
    replacement and the state's save too), the file is cut back to ``valid_end``, or removed if
    this run created it: a failed run leaves it as it found it."""
    existed = path.exists()
    with on_os_error(doing):
        stream = open(path, "ab")  # noqa: SIM115 (closed by the block, or below on failure)
    try:
        yield stream
    except BaseException:
        with suppress(OSError):  # the disk that failed the writes may fail this flush
            stream.close()
        cut_back(path, (valid_end or 0) if existed else None)
        raise


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
