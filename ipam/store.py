"""Read the ``prefixes`` table read-only: every column of every row, in ``id`` order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

from servicekit.database import connect_read_only, quote_identifier, table_columns, unreadable
from servicekit.runs import RunError

TABLE = "prefixes"
DEFAULT_DB = "database/prefixes.db"  # relative to the working directory, as in the containers
PREFIX_COLUMN = "prefix"
ID_COLUMN = "id"


class PrefixTable(NamedTuple):
    """The table as SQLite returns it: column names and one tuple per row, sorted by id."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]

    def _values(self, name: str) -> list[object]:
        index = [column.lower() for column in self.columns].index(name)
        return [row[index] for row in self.rows]

    @property
    def prefixes(self) -> list[object]:
        """The stored ``prefix`` value of every row, untouched."""
        return self._values(PREFIX_COLUMN)

    @property
    def ids(self) -> list[object]:
        return self._values(ID_COLUMN)


def read_prefix_table(database: Path) -> PrefixTable:
    """All rows of the ``prefixes`` table, or a RunError saying what is missing.

    Column names are matched as SQLite matches them, without regard to case (``ID``, ``Prefix``).
    The names and the rows come from one read transaction (closing the connection ends it), so
    a column dropped or added by another connection meanwhile cannot shift values to other names.
    """
    try:
        connection = connect_read_only(database)
        try:
            connection.execute("BEGIN")
            columns = tuple(str(row[1]) for row in table_columns(connection, TABLE, database))
            for needed in (ID_COLUMN, PREFIX_COLUMN):
                if needed not in (column.lower() for column in columns):
                    raise RunError(f"table {TABLE!r} in {database} has no {needed!r} column")
            table, key = quote_identifier(TABLE), quote_identifier(ID_COLUMN)
            rows = select_all(connection, f"SELECT * FROM {table} ORDER BY {key}")
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise unreadable(database, error) from error
    return PrefixTable(columns, rows)


def select_all(connection: sqlite3.Connection, query: str) -> list[tuple[object, ...]]:
    """Every row the query returns, text that is not UTF-8 included."""
    try:
        return connection.execute(query).fetchall()
    except sqlite3.OperationalError as error:
        if "decode" not in str(error):
            raise
        # Text that is not UTF-8 must not sink the whole table: read it again with U+FFFD for
        # the bad bytes (slower: a Python call per text value).
        connection.text_factory = _lenient_text
        return connection.execute(query).fetchall()


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
