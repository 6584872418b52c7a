"""Read the ``customers`` table: read-only, in one consistent read transaction.

The database is opened with ``mode=ro`` so a mistyped path fails instead of creating an empty
database, and with a busy timeout so a writer in the middle of a commit delays the run rather than
failing it. Everything a run learns about the table (columns, key, content digest, rows) comes from
the same read transaction, so it all describes one state of the database.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from collector.errors import DatabaseNotFoundError, SchemaError, UnreadableDatabaseError

TABLE = "customers"
RENAMED_COLUMNS = {"job": "occupation"}
BUSY_TIMEOUT_SECONDS = 30.0
BATCH_ROWS = 5000

# Bytes 18 and 19 of a SQLite header are the file format write/read versions: 2 means WAL mode.
_HEADER_SIZE = 100
_WAL_FORMAT = 2
_DIGEST_CHUNK = 1 << 20


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


class TableReader:
    """One read transaction on the database; use as a context manager.

    ``content_digest`` is the SHA-256 of the database file taken while the transaction holds
    SQLite's shared lock, so no commit can change the file between the digest and the rows read.
    It is None in WAL mode, where committed rows may live in the -wal file: the digest of the main
    file would then say nothing about the table, and callers must compare the rows themselves.
    """

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._file: int | None = None
        self.shape = TableShape((), ())
        self.content_digest: str | None = None

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
            raise UnreadableDatabaseError(f"cannot read database {self.path}: {error}") from error
        try:
            self.shape = shape_from_table_info(info)
            self.content_digest = self._digest_unless_wal()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _digest_unless_wal(self) -> str | None:
        # POSIX record locks belong to the process: closing ANY descriptor of the database file
        # would drop SQLite's shared lock. This descriptor is closed only after the transaction.
        self._file = os.open(self.path, os.O_RDONLY)
        header = os.pread(self._file, _HEADER_SIZE, 0)
        if _WAL_FORMAT in header[18:20]:
            return None
        digest = hashlib.sha256()
        offset = 0
        while chunk := os.pread(self._file, _DIGEST_CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        return digest.hexdigest()

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
