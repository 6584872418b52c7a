"""Read the ``customers`` table, read-only: everything a run learns about it (columns, key,
version, rows) comes from one read transaction, so it all describes one state of the database."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

from servicekit.database import (
    XINFO_NAME,
    XINFO_PRIMARY_KEY,
    XINFO_TYPE,
    check_database_file,
    connect_read_only,
    folded,
    is_wal,
    quote_identifier,
    rowid_alias,
    shown,
    table_columns,
    unreadable,
)
from servicekit.runs import RunError, warn

TABLE = "customers"
RENAMED_COLUMNS = {"job": "occupation"}
BATCH_ROWS = 5000
_CHANGE_COUNTER = slice(24, 28)  # bytes 24-27 of a SQLite file header


@dataclass(frozen=True)
class FileIdentity:
    """Which file this is and when it last changed: device, inode, size, mtime in nanoseconds.

    Every write through the file system moves the mtime (and every append the size); replacing the
    file changes the inode. Only an edit that keeps the size and sets the mtime back on purpose, or
    lands within the same tick of the kernel's file clock (a few milliseconds), goes unseen.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of_status(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            return cls.of_status(path.stat())
        except FileNotFoundError:
            return None


@dataclass(frozen=True)
class DatabaseVersion:
    """What says the database file has not changed: its change counter and its identity.

    Outside WAL mode SQLite adds one to the change counter whenever it unlocks the file after
    modifying it: every committed write transaction moves it, and SQLite's own readers rely on it to
    know their page cache is stale. The identity (inode, size, mtime) catches the file being
    replaced or written by something other than SQLite.
    """

    change_counter: int
    file: FileIdentity


@dataclass(frozen=True)
class TableShape:
    """The table's columns in table order, and the position of its INTEGER PRIMARY KEY."""

    columns: tuple[str, ...]
    key_position: int

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(RENAMED_COLUMNS.get(folded(name), name) for name in self.columns)


def shape_from_table_info(rows: list[tuple[object, ...]], rowid_key: int | None) -> TableShape:
    """The shape from ``PRAGMA table_xinfo`` rows (cid, name, type, notnull, default, pk, hidden)
    and the position of the column that is the table's rowid (``rowid_alias``), if any.

    The key must be that column, one ``INTEGER PRIMARY KEY`` as the exercise's ``id`` is: its
    values are the rowid, integers by SQLite's guarantee, which is what lets the written keys
    live in one compact array and be compared without any conversion.
    """
    columns = tuple(str(row[XINFO_NAME]) for row in rows)
    names = [folded(name) for name in columns]
    if "job" not in names:
        raise RunError(f"the {TABLE!r} table has no 'job' column (it has: {', '.join(columns)})")
    for old, new in RENAMED_COLUMNS.items():
        if new in names:
            raise RunError(
                f"the {TABLE!r} table has both {old!r} and {new!r} columns: renaming {old!r} "
                f"would give two {new!r} columns"
            )
    if rowid_key is None:
        keys = [position for position, row in enumerate(rows) if row[XINFO_PRIMARY_KEY]]
        key = ", ".join(columns[position] for position in keys) or "none"
        if len(keys) == 1 and folded(str(rows[keys[0]][XINFO_TYPE])) == "integer":
            key += ", declared DESC or in a WITHOUT ROWID table, is not the rowid"
        raise RunError(
            f"the {TABLE!r} table must have one INTEGER PRIMARY KEY column, as the exercise's "
            f"'id' (its key: {key})"
        )
    return TableShape(columns, rowid_key)


class TableReader:
    """One read transaction on the database; use as a context manager.

    ``version`` describes the very file SQLite reads: it is read from a descriptor opened before
    the connection, while the transaction holds SQLite's shared lock, and kept only when the path
    still names that file once the transaction has begun (a database replaced by a rename in the
    meantime gets no version, so the run records no shortcut). It is None in WAL mode too, where
    commits go to the -wal file and need not move the counter.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._closing = ExitStack()  # closes the connection, then the descriptor opened before it
        self.shape = TableShape((), 0)
        self.version: DatabaseVersion | None = None

    def __enter__(self) -> TableReader:
        try:
            try:
                # POSIX record locks belong to the process: closing ANY descriptor of the database
                # file would drop SQLite's shared lock, so this one is closed after the transaction.
                check_database_file(self.path)  # a FIFO would block the open below
                file = os.open(self.path, os.O_RDONLY)
                self._closing.callback(os.close, file)
                self._connection = connect_read_only(self.path)
                self._closing.callback(self._connection.close)  # ends the read transaction
                self._connection.execute("BEGIN")
                # The first read takes the shared lock, held until the transaction ends.
                self._connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                info = table_columns(self._connection, TABLE, self.path)
                rowid_key = rowid_alias(self._connection, TABLE, info)
                self.version = self._version(file)  # reads the header: an EIO names the file
            except (OSError, sqlite3.Error) as error:
                self._close()
                if isinstance(error, sqlite3.Error):
                    raise unreadable(self.path, error) from error
                if isinstance(error, FileNotFoundError):
                    raise RunError(f"database not found: {shown(self.path)}") from error
                raise RunError(
                    f"cannot read database {shown(self.path)}: {error.strerror}"
                ) from error
            self.shape = shape_from_table_info(info, rowid_key)
        except BaseException:
            self._close()
            raise
        return self

    def _version(self, file: int) -> DatabaseVersion | None:
        header = os.pread(file, 100, 0)
        status = os.fstat(file)
        with suppress(FileNotFoundError):
            if not is_wal(header) and os.path.samestat(status, self.path.stat()):
                counter = int.from_bytes(header[_CHANGE_COUNTER], "big")
                return DatabaseVersion(counter, FileIdentity.of_status(status))
        return None  # WAL mode, or the path no longer names the file SQLite reads

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[tuple[object, ...]]]:
        """Every row in key order, ``size`` rows at a time (memory stays flat); TEXT comes as
        ``bytearray``, the UTF-8 SQLite holds, never decoded (see csvfile.py)."""
        assert self._connection is not None, "use TableReader as a context manager"
        self._connection.text_factory = bytearray
        columns = ", ".join(map(quote_identifier, self.shape.columns))
        key = quote_identifier(self.shape.columns[self.shape.key_position])
        query = f"SELECT {columns} FROM {quote_identifier(TABLE)} ORDER BY {key}"
        try:
            cursor = self._connection.execute(query)
            while batch := cursor.fetchmany(size):
                yield batch
        except sqlite3.Error as error:  # damage past the pages the schema is read from
            raise unreadable(self.path, error) from error

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def _close(self) -> None:
        """End the transaction and close the descriptor. The database was only read, and a run
        closes it once it has published its output (or failed): an error here is a warning
        naming the file, which neither fails a run nor hides the error that failed it."""
        try:
            self._closing.close()
        except (OSError, sqlite3.Error) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            warn(f"cannot close database {shown(self.path)}: {reason}")
