"""Read the ``prefixes`` table read-only: every column of every row, in ``id`` order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from ipam.errors import IpamError

__all__ = ["PrefixTable", "read_prefix_table"]

TABLE = "prefixes"
PREFIX_COLUMN = "prefix"
ID_COLUMN = "id"
_HIDDEN = 1  # PRAGMA table_xinfo's "hidden" for a virtual table's hidden column
_HEADER_SIZE = 100
_WAL_FORMAT = 2  # header bytes 18 and 19 (write and read format version) in WAL mode


class PrefixTable(NamedTuple):
    """The table as SQLite returns it: column names and one tuple per row, sorted by id."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]

    @property
    def prefixes(self) -> list[object]:
        """The stored ``prefix`` value of every row, untouched."""
        index = self.columns.index(PREFIX_COLUMN)
        return [row[index] for row in self.rows]


def read_prefix_table(database: Path) -> PrefixTable:
    """All rows of the ``prefixes`` table, or an IpamError saying what is missing.

    The file is opened with ``mode=ro``: a mistyped path fails instead of creating an empty
    database, and the service can never change the data it reports on.
    """
    if not database.is_file():
        raise IpamError(f"database not found: {database}")
    uri = f"file:{quote(str(database.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            columns = _column_names(connection, database)
            try:
                rows = _all_rows(connection)
            except sqlite3.OperationalError as error:
                if "decode" not in str(error):
                    raise
                # Text that is not UTF-8 must not sink the whole table: read it again with
                # U+FFFD for the bad bytes (slower: a Python call per text value).
                connection.text_factory = _lenient_text
                rows = _all_rows(connection)
        finally:
            connection.close()
    except sqlite3.Error as error:
        if isinstance(error, sqlite3.OperationalError) and _wal_without_shm(database):
            raise IpamError(
                f"cannot read database {database}: it is in WAL mode, and SQLite cannot create"
                f" {database.name}-shm beside it (read-only directory); convert it once with:"
                f" sqlite3 {database} 'PRAGMA journal_mode=DELETE'"
            ) from error
        raise IpamError(f"cannot read table {TABLE!r} from {database}: {error}") from error
    return PrefixTable(columns, rows)


def _wal_without_shm(database: Path) -> bool:
    """Whether a failed read is SQLite unable to create the -shm file a WAL database needs.

    SQLite's own message ("attempt to write a readonly database") names neither the cause nor
    the fix. Where SQLite can create the -shm file, a read-only connection leaves it there, so
    after a failed read its absence means SQLite could not create it.
    """
    if database.with_name(f"{database.name}-shm").exists():
        return False
    try:
        with database.open("rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError:
        return False
    return header[18:20] == bytes((_WAL_FORMAT, _WAL_FORMAT))


def _all_rows(connection: sqlite3.Connection) -> list[tuple[object, ...]]:
    return connection.execute(f'SELECT * FROM "{TABLE}" ORDER BY "{ID_COLUMN}"').fetchall()


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _column_names(connection: sqlite3.Connection, database: Path) -> tuple[str, ...]:
    """The table's column names in table order, after checking the ones the service needs.

    ``table_xinfo``, not ``table_info``: the names must match what ``SELECT *`` returns, which
    includes generated columns (hidden 2 or 3) and leaves out hidden columns of virtual tables
    (hidden 1), like collector/source.py.
    """
    info = connection.execute(f'PRAGMA table_xinfo("{TABLE}")').fetchall()
    columns = tuple(row[1] for row in info if row[6] != _HIDDEN)
    if not columns:
        raise IpamError(f"no table {TABLE!r} in {database}")
    for needed in (ID_COLUMN, PREFIX_COLUMN):
        if needed not in columns:
            raise IpamError(f"table {TABLE!r} in {database} has no {needed!r} column")
    return columns
