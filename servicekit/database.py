"""SQLite opened read-only, and one clear line for each way a database cannot be read.

``mode=ro``: a mistyped path fails instead of creating an empty database, and a service can never
change the data it reports on. The URI is built from the resolved path, so ``//tmp/x.db`` (what
``$ROOT/x.db`` gives with ``ROOT=/``) is a path, not a URI authority, and from its bytes, so a path
that is not UTF-8 (``caf\xe9/``, which Python holds as a lone surrogate) names the same file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import string
from pathlib import Path
from urllib.parse import quote

from servicekit.files import file_kind
from servicekit.runs import RunError, on_os_error

BUSY_TIMEOUT_SECONDS = 30.0  # a writer in the middle of a commit delays a run, not fails it
_HEADER_SIZE = 100
_WAL_FORMAT = 2  # header bytes 18 and 19 (write and read format versions) in WAL mode
# The fields of a PRAGMA table_xinfo row, after its cid
XINFO_NAME, XINFO_TYPE, XINFO_NOT_NULL, XINFO_DEFAULT, XINFO_PRIMARY_KEY, XINFO_HIDDEN = range(1, 7)
_HIDDEN_COLUMN = 1  # XINFO_HIDDEN of a virtual table's hidden column (2, 3: generated columns)
_INDEX_ORIGIN = 3  # of a PRAGMA index_list row: seq, name, unique, origin, partial
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def connect_read_only(path: Path, timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A read-only connection in autocommit mode (the caller says when a transaction starts)."""
    check_database_file(path)
    uri = f"file:{quote(os.fsencode(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)


def shown(path: Path) -> str:
    """The path as a message can print it: bytes that are not UTF-8 as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_database_file(path: Path) -> None:
    """A RunError unless ``path`` is a regular file this process may read.

    Checked before anything opens it: opening a FIFO for reading blocks until a writer comes
    (forever, lock held and SIGTERM unheard), and SQLite's own words for a directory or a file it
    may not read are "unable to open database file", which names neither the file nor the cause.
    The file is opened non-blocking and checked again, so nothing swapped in between can block.
    """
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is None:
            file = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                kind = file_kind(os.fstat(file).st_mode)
            finally:
                os.close(file)
    except (FileNotFoundError, NotADirectoryError):
        raise RunError(f"database not found: {shown(path)}") from None
    except PermissionError:
        raise RunError(_permission_denied(path, path)) from None
    except OSError as error:
        raise RunError(f"cannot read database {shown(path)}: {error.strerror}") from None
    if kind is not None:
        raise RunError(f"database {shown(path)} is {kind}, not a SQLite database file")


def _permission_denied(database: Path, denied: Path) -> str:
    """Which file this process may not read, its owner and mode, and who this process is."""
    where = "" if denied == database else f" on {denied.name}"
    try:
        status = os.stat(denied)
    except OSError:  # a directory on the way may not be searched
        return (
            f"cannot read database {shown(database)}: permission denied on a directory of its "
            f"path (this process runs as uid {os.geteuid()})"
        )
    return (
        f"cannot read database {shown(database)}: permission denied{where} (owner uid "
        f"{status.st_uid}, mode {stat.S_IMODE(status.st_mode):04o}; this process runs as uid "
        f"{os.geteuid()} gid {os.getegid()})"
    )


def _unreadable_companion(path: Path) -> Path | None:
    """The database, its -wal or its -shm file, whichever exists and may not be read.

    A WAL database needs both beside it; SQLite says only "unable to open database file" when
    it may not open one of them.
    """
    for candidate in (path, companion(path, "-wal"), companion(path, "-shm")):
        try:
            os.close(os.open(candidate, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except PermissionError:
            return candidate
        except OSError:
            continue
    return None


def companion(path: Path, suffix: str) -> Path:
    """The ``-wal``, ``-shm`` or ``-journal`` file of the database at ``path``. SQLite keeps it
    beside the file a symbolic link leads to, not beside the link: ``link.db``'s journal is
    ``real.db-journal``."""
    return Path(f"{os.path.realpath(path)}{suffix}")


def unreadable(path: Path, error: sqlite3.Error) -> RunError:
    """The one line for a database SQLite failed to read, naming the cause SQLite's does not."""
    try:
        check_database_file(path)
    except RunError as not_a_file:
        return not_a_file
    denied = _unreadable_companion(path)
    if denied is not None:
        return RunError(_permission_denied(path, denied))
    if "readonly" in str(error) and _hot_journal(path):
        return RunError(
            f"cannot read database {shown(path)}: a writer stopped in the middle of a "
            f"transaction and left {companion(path, '-journal').name}, which only a read-write "
            f"connection can roll back; roll it back once with: sqlite3 {shown(path)} "
            "'PRAGMA quick_check'"
        )
    try:
        wal_without_shm = _wal_without_shm(path)
    except RunError as header_unreadable:
        return header_unreadable
    if wal_without_shm:
        return RunError(
            f"cannot read database {shown(path)}: it is in WAL mode, and SQLite cannot create "
            f"{companion(path, '-shm').name} beside it (read-only directory); convert it once "
            f"with: sqlite3 {shown(path)} 'PRAGMA journal_mode=DELETE'"
        )
    return RunError(f"cannot read database {shown(path)}: {error}")


def _hot_journal(path: Path) -> bool:
    """Whether a rollback journal is left beside the database (SQLite calls it hot).

    A read-only connection cannot roll it back, and SQLite then says only "attempt to write a
    readonly database". A journal of a transaction in progress is there only while its writer
    holds the lock, during which a reader waits (the busy timeout) rather than fails.
    """
    try:
        return companion(path, "-journal").stat().st_size > 0
    except OSError:
        return False


def _wal_without_shm(path: Path) -> bool:
    """Whether a failed read is SQLite unable to create the -shm file a WAL database needs.

    Where SQLite can create the -shm file, a reader leaves it there, so after a failed read its
    absence means SQLite could not create it (a read-only directory, as Compose mounts database/).
    """
    if companion(path, "-shm").exists():
        return False
    with on_os_error(f"cannot read the header of database {shown(path)}"), open(path, "rb") as file:
        header = file.read(_HEADER_SIZE)
    return is_wal(header)


def is_wal(header: bytes) -> bool:
    """Whether a database file's first 100 bytes say it is in WAL mode."""
    return _WAL_FORMAT in header[18:20]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def folded(name: str) -> str:
    """An identifier as SQLite compares it: ASCII letters without case, every other character as
    it is (``str.lower()`` would fold ``É`` to ``é`` and the Kelvin sign to ``k``, which SQLite
    holds for other names)."""
    return name.translate(_ASCII_LOWER)


def table_columns(
    connection: sqlite3.Connection, table: str, path: Path
) -> list[tuple[object, ...]]:
    """``PRAGMA table_xinfo`` rows (cid, name, type, notnull, default, pk, hidden) of the columns
    ``SELECT *`` returns; a RunError when there is no such table.

    ``table_xinfo`` rather than ``table_info``, which leaves out generated columns: they are
    columns like any other. Hidden columns of virtual tables are left out, as SELECT * does.
    """
    info = connection.execute(f"PRAGMA table_xinfo({quote_identifier(table)})").fetchall()
    columns = [row for row in info if row[XINFO_HIDDEN] != _HIDDEN_COLUMN]
    if not columns:
        raise RunError(f"{shown(path)} has no {table!r} table")
    return columns


def rowid_alias(
    connection: sqlite3.Connection, table: str, columns: list[tuple[object, ...]]
) -> int | None:
    """The position in ``columns`` (``table_columns`` rows) of the column that is the table's
    rowid under another name, or None when none is.

    Only that column holds what SQLite promises of a rowid: an integer, unique, assigned on insert
    (``lastrowid``). It is the one primary-key column, declared INTEGER, yet not every such column
    is one: ``INTEGER PRIMARY KEY DESC`` (a documented quirk) and a ``WITHOUT ROWID`` table have an
    ordinary key, which may hold text, backed by an index whose origin is "pk"; an alias has none.
    """
    keys = [position for position, row in enumerate(columns) if row[XINFO_PRIMARY_KEY]]
    if len(keys) != 1 or folded(str(columns[keys[0]][XINFO_TYPE])) != "integer":
        return None
    indexes = connection.execute(f"PRAGMA index_list({quote_identifier(table)})").fetchall()
    if any(index[_INDEX_ORIGIN] == "pk" for index in indexes):
        return None
    return keys[0]
