"""Read the ``customers`` table: read-only, in one consistent read transaction.

The database is opened with ``mode=ro`` so a mistyped path fails instead of creating an empty
database, and with a busy timeout so a writer in the middle of a commit delays the run rather than
failing it. Everything a run learns about the table (columns, key, version, rows) comes from the
same read transaction, so it all describes one state of the database.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from collector.errors import DatabaseNotFoundError, SchemaError, UnreadableDatabaseError
from collector.files import FileIdentity

TABLE = "customers"
RENAMED_COLUMNS = {"job": "occupation"}
BUSY_TIMEOUT_SECONDS = 30.0
BATCH_ROWS = 5000

# In a SQLite file header, bytes 18 and 19 are the write/read format versions (2 means WAL mode)
# and bytes 24-27 the file change counter.
_HEADER_SIZE = 100
_WAL_FORMAT = 2
_CHANGE_COUNTER = slice(24, 28)


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
    """The table's columns in table order, and which of them form the primary key."""

    columns: tuple[str, ...]
    key_positions: tuple[int, ...]  # empty: no primary key, rows are diffed whole

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(RENAMED_COLUMNS.get(name, name) for name in self.columns)


_HIDDEN_COLUMN = 1  # ``hidden`` of a virtual table's hidden column, which SELECT * leaves out too


def shape_from_table_info(rows: list[tuple[object, ...]]) -> TableShape:
    """Build the shape from ``PRAGMA table_xinfo`` rows (cid, name, type, notnull, default, pk,
    hidden).

    ``table_xinfo`` rather than ``table_info``, which leaves out generated columns: they are
    columns of the table like any other (SELECT * returns them).
    """
    rows = [row for row in rows if row[6] != _HIDDEN_COLUMN]
    if not rows:
        raise SchemaError(f"the database has no {TABLE!r} table")
    columns = tuple(str(row[1]) for row in rows)
    if "job" not in columns:
        raise SchemaError(f"the {TABLE!r} table has no 'job' column (it has: {', '.join(columns)})")
    in_key = sorted((int(str(row[5])), position) for position, row in enumerate(rows) if row[5])
    return TableShape(columns, tuple(position for _, position in in_key))


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def select_in_key_order(shape: TableShape) -> str:
    """The query for every row in primary-key order (rowid order when the table has no key)."""
    columns = ", ".join(map(_quote_identifier, shape.columns))
    order = ", ".join(_quote_identifier(shape.columns[p]) for p in shape.key_positions) or "rowid"
    return f"SELECT {columns} FROM {_quote_identifier(TABLE)} ORDER BY {order}"


def _wal_without_shm(path: Path) -> bool:
    """Whether a failed read is SQLite unable to create the -shm file a WAL database needs.

    The same test as ipam's: where SQLite can create the -shm file, a reader leaves it there, so
    after a failed read its absence means SQLite could not create it (a read-only directory, as
    Compose mounts database/).
    """
    if Path(f"{path}-shm").exists():
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError:
        return False
    return header[18:20] == bytes((_WAL_FORMAT, _WAL_FORMAT))


class TableReader:
    """One read transaction on the database; use as a context manager.

    ``version`` is read while the transaction holds SQLite's shared lock, so no commit can come
    between it and the rows read. It is None in WAL mode, where commits go to the -wal file and
    need not move the counter: callers must then compare the rows themselves.
    """

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._file: int | None = None
        self.shape = TableShape((), ())
        self.version: DatabaseVersion | None = None

    def __enter__(self) -> TableReader:
        uri = f"file:{quote(str(self.path))}?mode=ro"
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=self.busy_timeout, isolation_level=None
            )
            self._connection = connection
            connection.execute("BEGIN")
            # The first read takes the shared lock, held until the transaction ends.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            info = connection.execute(f"PRAGMA table_xinfo({_quote_identifier(TABLE)})").fetchall()
        except sqlite3.Error as error:
            self.__exit__(None, None, None)
            if not self.path.is_file():
                raise DatabaseNotFoundError(f"database not found: {self.path}") from error
            if _wal_without_shm(self.path):
                raise UnreadableDatabaseError(
                    f"cannot read database {self.path}: it is in WAL mode, and SQLite cannot "
                    f"create {self.path.name}-shm beside it (read-only directory); convert it "
                    f"once with: sqlite3 {self.path} 'PRAGMA journal_mode=DELETE'"
                ) from error
            raise UnreadableDatabaseError(f"cannot read database {self.path}: {error}") from error
        try:
            self.shape = shape_from_table_info(info)
            self.version = self._version_unless_wal()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _version_unless_wal(self) -> DatabaseVersion | None:
        # POSIX record locks belong to the process: closing ANY descriptor of the database file
        # would drop SQLite's shared lock. This descriptor is closed only after the transaction.
        self._file = os.open(self.path, os.O_RDONLY)
        header = os.pread(self._file, _HEADER_SIZE, 0)
        if _WAL_FORMAT in header[18:20]:
            return None
        counter = int.from_bytes(header[_CHANGE_COUNTER], "big")
        return DatabaseVersion(counter, FileIdentity.of_status(os.fstat(self._file)))

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[tuple[object, ...]]]:
        """Every row of the table in key order, ``size`` rows at a time (memory stays flat).

        TEXT comes as ``bytearray``: the UTF-8 SQLite holds, never decoded (see csvfile.py).
        """
        assert self._connection is not None, "use TableReader as a context manager"
        self._connection.text_factory = bytearray
        cursor = self._connection.execute(select_in_key_order(self.shape))
        while batch := cursor.fetchmany(size):
            yield batch

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()  # ends the read transaction
            self._connection = None
        if self._file is not None:
            os.close(self._file)
            self._file = None
