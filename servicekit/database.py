"""SQLite opened read-only, and one clear line for each way a database cannot be read.

``mode=ro``: a mistyped path fails instead of creating an empty database, and a service can never
change the data it reports on. The URI is built from the resolved path, so ``//tmp/x.db`` (what
``$ROOT/x.db`` gives with ``ROOT=/``) is a path, not a URI authority.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from servicekit.runs import RunError

BUSY_TIMEOUT_SECONDS = 30.0  # a writer in the middle of a commit delays a run, not fails it
_HEADER_SIZE = 100
_WAL_FORMAT = 2  # header bytes 18 and 19 (write and read format versions) in WAL mode
_HIDDEN_COLUMN = 1  # PRAGMA table_xinfo's "hidden" of a virtual table's hidden column


def connect_read_only(path: Path, timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A read-only connection in autocommit mode (the caller says when a transaction starts)."""
    if not path.is_file():
        raise RunError(f"database not found: {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)


def unreadable(path: Path, error: sqlite3.Error) -> RunError:
    """The one line for a database SQLite failed to read, naming the cause SQLite's does not."""
    if not path.is_file():
        return RunError(f"database not found: {path}")
    if "readonly" in str(error) and _hot_journal(path):
        return RunError(
            f"cannot read database {path}: a writer stopped in the middle of a transaction and "
            f"left {path.name}-journal, which only a read-write connection can roll back; roll "
            f"it back once with: sqlite3 {path} 'PRAGMA quick_check'"
        )
    if _wal_without_shm(path):
        return RunError(
            f"cannot read database {path}: it is in WAL mode, and SQLite cannot create "
            f"{path.name}-shm beside it (read-only directory); convert it once with: "
            f"sqlite3 {path} 'PRAGMA journal_mode=DELETE'"
        )
    return RunError(f"cannot read database {path}: {error}")


def _hot_journal(path: Path) -> bool:
    """Whether a rollback journal is left beside the database (SQLite calls it hot).

    A read-only connection cannot roll it back, and SQLite then says only "attempt to write a
    readonly database". A journal of a transaction in progress is there only while its writer
    holds the lock, during which a reader waits (the busy timeout) rather than fails.
    """
    try:
        return Path(f"{path}-journal").stat().st_size > 0
    except OSError:
        return False


def _wal_without_shm(path: Path) -> bool:
    """Whether a failed read is SQLite unable to create the -shm file a WAL database needs.

    Where SQLite can create the -shm file, a reader leaves it there, so after a failed read its
    absence means SQLite could not create it (a read-only directory, as Compose mounts database/).
    """
    if Path(f"{path}-shm").exists():
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError:
        return False
    return is_wal(header)


def is_wal(header: bytes) -> bool:
    """Whether a database file's first 100 bytes say it is in WAL mode."""
    return _WAL_FORMAT in header[18:20]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_columns(
    connection: sqlite3.Connection, table: str, path: Path
) -> list[tuple[object, ...]]:
    """``PRAGMA table_xinfo`` rows (cid, name, type, notnull, default, pk, hidden) of the columns
    ``SELECT *`` returns; a RunError when there is no such table.

    ``table_xinfo`` rather than ``table_info``, which leaves out generated columns: they are
    columns like any other. Hidden columns of virtual tables are left out, as SELECT * does.
    """
    info = connection.execute(f"PRAGMA table_xinfo({quote_identifier(table)})").fetchall()
    columns = [row for row in info if row[6] != _HIDDEN_COLUMN]
    if not columns:
        raise RunError(f"{path} has no {table!r} table")
    return columns
