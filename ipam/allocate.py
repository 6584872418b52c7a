"""``python -m ipam allocate PARENT --length N``: take the first free /N blocks inside PARENT and
record them, in one write transaction, so that no two callers can ever get the same block.

"Look, then insert" is the race every IPAM has had: two callers ask which block is free, both
hear the same answer, both insert it. Here the look and the insert are one transaction that
takes SQLite's write lock before it reads (``BEGIN IMMEDIATE``): a second caller waits for the
first to commit (``--timeout``, 120 s, bounds every wait of the call), then reads a table that
already holds the first's rows. No server, no lock file: SQLite's own lock serialises every
writer of the file.

- **The blocks**: exactly those ``python -m ipam free PARENT --length N --limit K`` gives on the
  table as the transaction reads it (``ipam/free.py``'s walk on the engine's sorted keys:
  first-fit, address order).
- **All or nothing**: fewer than K free, nothing is inserted (exit 3); a failed insert (a NOT
  NULL, CHECK or UNIQUE constraint, a trigger) rolls every row back (exit 1); so does Ctrl-C
  before the commit, since the transaction is never committed.
- **The rows**: the prefix in canonical text (as ``ipaddress`` writes it), the id from the
  table's INTEGER PRIMARY KEY, and the ``--set`` columns; the rest take their defaults.

This is the project's one write to a database: only this command opens it read-write. The
output, one line per new row, is written after the commit: what it lists is in the table.
Exit status: 0 allocated; 1 the database cannot be read or written (missing, read-only, not
SQLite, no table, locked past the timeout, a constraint) or stdout cannot be written; 2 bad
arguments, a ``--set`` column the table lacks among them; 3 fewer than K blocks free; 130
Ctrl-C; 141 the reader closed the output early (the rows are committed by then).
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import NamedTuple, NoReturn, TextIO, cast
from urllib.parse import quote

from ipam.free import EXIT_NOTHING_FREE, FreeSpace
from ipam.hierarchy import Hierarchy, end_key
from ipam.networks import network_keys, network_text
from ipam.store import ID_COLUMN, PREFIX_COLUMN, TABLE, select_all
from ipam.view import (
    EXIT_OK,
    check_length,
    network,
    prefix_length,
    run_view,
    view_parser,
    whole_number,
    write_lines,
)
from servicekit.cli import EXIT_USAGE
from servicekit.database import (
    XINFO_DEFAULT,
    XINFO_HIDDEN,
    XINFO_NAME,
    XINFO_NOT_NULL,
    XINFO_PRIMARY_KEY,
    check_database_file,
    folded,
    quote_identifier,
    rowid_alias,
    shown,
    table_columns,
    unreadable,
)
from servicekit.runs import RunError

__all__ = ["Allocation", "Request", "allocate", "main"]

PROG = "python -m ipam allocate"
# Longer than the readers' BUSY_TIMEOUT_SECONDS: callers queue for the write lock, each holding
# it for one read of the table (seconds at 1M rows), and a caller late in a queue of dozens must
# not give up while the others are served.
DEFAULT_TIMEOUT_SECONDS = 120.0
MAX_TIMEOUT_SECONDS = 3600.0
MAX_COUNT = 1_000_000  # rows in one transaction: the blocks are held in memory until inserted
_LONGEST_SLEEP = 0.05  # between two tries for a lock, as SQLite's own busy handler
_SQLITE_BUSY = 5  # the primary result code of every "database is locked"
_BUSY_MESSAGE = "database is locked"  # SQLite's words for it, whichever kind
_WRITER = "another writer held it past the timeout (--timeout)"
_READERS = (
    "readers held it past the timeout (--timeout): in rollback-journal mode a commit waits for "
    "every read in progress to end"
)


class Request(NamedTuple):
    """What to allocate: ``wanted`` blocks of prefix length ``length`` inside the ``parent``
    network key, each row with the ``values`` of the ``--set`` columns (name, text)."""

    parent: int
    length: int
    wanted: int
    values: tuple[tuple[str, str], ...] = ()


class Allocation(NamedTuple):
    """One new row."""

    id: int
    prefix: str


class Refused(Exception):
    """A request the table cannot take as asked (a ``--set`` column it lacks): exit 2."""


class NothingAllocated(Exception):
    """Fewer blocks free than asked (exit 3); ``free``: how many were."""

    def __init__(self, free: int) -> None:
        self.free = free


def connect_read_write(database: Path, timeout: float) -> sqlite3.Connection:
    """A read-write connection in autocommit mode, or a RunError naming why it cannot write.

    ``mode=rw`` never creates a file (a mistyped path fails). SQLite opens a file it may not
    write read-only without a word and fails only at the first write, with "attempt to write a
    readonly database", which says neither which file nor why: so the file is checked first.
    """
    check_database_file(database)
    if _read_only_file_system(database):
        raise RunError(
            f"cannot write database {shown(database)}: it is on a read-only file system (the "
            f"Compose stack mounts database/ read-only); run allocate on the host, in the "
            f"checkout: {PROG} ..."
        )
    for path, what in ((database, ""), (database.resolve().parent, " the directory of")):
        if not os.access(path, os.W_OK):
            raise RunError(
                f"cannot write database {shown(database)}: permission denied on{what} it (this "
                f"process runs as uid {os.geteuid()}; SQLite writes its journal beside it)"
            )
    uri = f"file:{quote(os.fsencode(database.resolve()))}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)


def _read_only_file_system(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def allocate(connection: sqlite3.Connection, database: Path, request: Request) -> list[Allocation]:
    """Take and record the blocks in one write transaction; commit only once every row is in.

    The write lock is taken before the table is read (``BEGIN IMMEDIATE`` waits for other
    writers), so the blocks read as free stay free until they are inserted. The connection's
    busy timeout bounds the whole call: the wait for other writers at BEGIN and for readers at
    COMMIT together. Nothing is committed on any way out but the COMMIT.
    """
    (milliseconds,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute("PRAGMA busy_timeout = 0")  # the waits are _retried's, in Python
    try:
        return _allocate(connection, database, request, time.monotonic() + milliseconds / 1000)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {milliseconds}")


def _allocate(
    connection: sqlite3.Connection, database: Path, request: Request, deadline: float
) -> list[Allocation]:
    try:
        _retried(connection, "BEGIN IMMEDIATE", deadline)
    except sqlite3.Error as error:
        raise _failed(database, error, reading=True, held_by=_WRITER) from error
    try:
        columns = _insert_columns(connection, database, request)
        table, prefix = quote_identifier(TABLE), quote_identifier(PREFIX_COLUMN)
        prefixes = [row[0] for row in select_all(connection, f"SELECT {prefix} FROM {table}")]
        inside = _inside(prefixes, request.parent)
        del prefixes
        space = FreeSpace(inside, request.parent, request.length, None)  # counts every block
        blocks = list(islice(space.blocks(), request.wanted))  # makes only the first K
        if len(blocks) < request.wanted:  # the blocks are all taken: the count is exact
            raise NothingAllocated(space.blocks_of_length)
    except sqlite3.Error as error:
        raise _failed(database, error, reading=True) from error
    names = ", ".join(map(quote_identifier, columns))
    marks = ", ".join("?" * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
    values = tuple(value for _name, value in request.values)
    allocations = []
    try:
        for block in blocks:
            text = network_text(block)
            cursor = connection.execute(insert, (text, *values))
            allocations.append(Allocation(cast(int, cursor.lastrowid), text))
    except sqlite3.Error as error:
        raise _failed(database, error, reading=False) from error
    try:
        _retried(connection, "COMMIT", deadline)  # a COMMIT refused as busy is still open
    except sqlite3.Error as error:
        raise _failed(database, error, reading=False, held_by=_READERS) from error
    return allocations


def _inside(prefixes: list[object], parent: int) -> Hierarchy:
    """The engine's sorted keys, only those of the networks inside ``parent`` (it included),
    without the walk that finds their parents: free space reads nothing else
    (``free.free_blocks``), and this is done holding the write lock, in half the time."""
    high = end_key(parent)
    row_keys = network_keys(prefixes).keys
    keys = sorted([key for key in row_keys if type(key) is int and parent <= key <= high])
    return Hierarchy(keys, rows=[], parents=[], row_parents=[], row_keys=[], invalid_rows=[])


def _retried(connection: sqlite3.Connection, sql: str, deadline: float) -> None:
    """``sql``, tried again while SQLite answers busy, until the ``time.monotonic()`` deadline.

    The wait is this loop's, not SQLite's: SQLite's busy handler sleeps in C, where Ctrl-C is
    not seen until it gives up (minutes, in a queue of callers); this one sleeps in Python, and
    never past the deadline. ``BEGIN IMMEDIATE`` waits here for other writers; ``COMMIT``, in
    rollback-journal mode, for the readers (SQLite leaves the transaction open to try again).
    """
    delay = 0.001
    while True:
        try:
            connection.execute(sql)
            return
        except sqlite3.OperationalError as error:
            left = deadline - time.monotonic()
            if not _busy(error) or left <= 0:
                raise
        time.sleep(min(delay, left))
        delay = min(delay * 2, _LONGEST_SLEEP)


def _busy(error: sqlite3.Error) -> bool:
    """Whether SQLite answered SQLITE_BUSY (another connection holds a lock), by its result code
    (Python 3.11 and later), else by its exact words: a constraint on a column named "locked",
    or a trigger's message, is not a lock."""
    code: int | None = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return str(error) == _BUSY_MESSAGE
    return code & 0xFF == _SQLITE_BUSY  # any extended code of it: _RECOVERY, _SNAPSHOT, ...


def _insert_columns(connection: sqlite3.Connection, database: Path, request: Request) -> list[str]:
    """The columns the INSERT names, the prefix first, as the table spells them; refuses a
    table whose id SQLite does not assign, and a NOT NULL column left without a value. Names
    match as SQLite matches them (``folded``)."""
    info = table_columns(connection, TABLE, database)
    spelled = {folded(str(row[XINFO_NAME])): str(row[XINFO_NAME]) for row in info}
    if PREFIX_COLUMN not in spelled:
        raise RunError(f"table {TABLE!r} in {shown(database)} has no {PREFIX_COLUMN!r} column")
    alias = rowid_alias(connection, TABLE, info)
    if alias is None or folded(str(info[alias][XINFO_NAME])) != ID_COLUMN:
        raise RunError(
            f"table {TABLE!r} in {shown(database)} must have 'id INTEGER PRIMARY KEY', which "
            f"gives each new row its id"
        )
    generated = {folded(str(row[XINFO_NAME])) for row in info if row[XINFO_HIDDEN]}
    columns = [spelled[PREFIX_COLUMN]]
    for name, _value in request.values:
        key = folded(name)
        if key in (PREFIX_COLUMN, ID_COLUMN):
            raise Refused(f"--set {name}: allocate writes the {key} itself")
        if key not in spelled or key in generated:
            have = ", ".join(spelled[column] for column in spelled if column not in generated)
            raise Refused(f"--set {name}: table {TABLE!r} has no such column (it has: {have})")
        columns.append(spelled[key])
    given = set(map(folded, columns))
    for row in info:
        name = str(row[XINFO_NAME])
        needed = row[XINFO_NOT_NULL] and row[XINFO_DEFAULT] is None and not row[XINFO_PRIMARY_KEY]
        if needed and folded(name) not in given and not row[XINFO_HIDDEN]:
            raise RunError(
                f"column {name!r} of table {TABLE!r} in {shown(database)} is NOT NULL with "
                f"no default: give it a value with --set {name}=VALUE; nothing allocated"
            )
    return columns


def _failed(
    database: Path, error: sqlite3.Error, *, reading: bool, held_by: str | None = None
) -> RunError:
    """The one line for an error of SQLite's, naming the file; nothing was committed.
    ``held_by``: who held the lock when ``error`` is SQLite's busy."""
    text = str(error)
    if held_by is not None and _busy(error):
        return RunError(f"database {shown(database)} is locked: {held_by}; nothing allocated")
    if isinstance(error, sqlite3.IntegrityError):
        return RunError(f"cannot insert into {shown(database)}: {text}; nothing allocated")
    if reading:
        return unreadable(database, error)
    return RunError(f"cannot write database {shown(database)}: {text}; nothing allocated")


# -- Rendering


def text_lines(allocations: Sequence[Allocation]) -> Iterator[str]:
    for row_id, prefix in allocations:
        yield f"{prefix:<18}  id {row_id}"


def json_lines(allocations: Sequence[Allocation]) -> Iterator[str]:
    for row_id, prefix in allocations:
        yield f'{{"id": {row_id}, "prefix": "{prefix}"}}'


# -- The command line


class _OneLineParser(argparse.ArgumentParser):
    """Bad input is one line on stderr (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = view_parser(
        "allocate",
        "Take the first K free /N blocks inside PARENT (those 'free PARENT --length N --limit "
        "K' shows) and insert one row per block, in one write transaction that locks out every "
        "other writer from its read to its commit: no two callers ever get the same block. "
        "Opens the database read-write: the one command that does. Exit status 3: fewer than "
        "K blocks free, nothing inserted.",
        parser_class=_OneLineParser,
    )
    parser.add_argument(
        "prefix",
        type=network,
        metavar="PARENT",
        help="the network to allocate inside, as in the table (it need not be in it)",
    )
    parser.add_argument(
        "--length",
        type=prefix_length,
        required=True,
        metavar="N",
        help="the prefix length of the blocks, from PARENT's length to 32 (IPv6: 128)",
    )
    parser.add_argument(
        "--count",
        type=_count,
        default=1,
        metavar="K",
        help=f"how many blocks, all or none, at most {MAX_COUNT:,} (default %(default)s)",
    )
    parser.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="a value for another column of the new rows, as text (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long to wait, in all, for other writers and (rollback-journal mode) for "
        "the readers a commit waits for, in seconds (default %(default)g)",
    )
    parser.add_argument(
        "--json", action="store_true", help='JSON Lines: {"id": ..., "prefix": ...} per new row'
    )
    return parser


def _count(text: str) -> int:
    count = whole_number(text)
    if count > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT:,}, not {text!r}")
    return count


def _assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"must be COLUMN=VALUE, not {text!r}")
    return name, value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan  # refused below, as "nan" is
    if not 0 <= value <= MAX_TIMEOUT_SECONDS:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"must be seconds from 0 to {MAX_TIMEOUT_SECONDS:g}, not {text!r}"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_length(parser, args.prefix, args.length)
    names = [folded(name) for name, _value in args.set]
    for name in names:
        if names.count(name) > 1:
            parser.error(f"argument --set: {name} given twice")
    request = Request(args.prefix, args.length, args.count, tuple(args.set))
    return run_view(PROG, partial(_show, args, request, parser))


def _show(
    args: argparse.Namespace,
    request: Request,
    parser: argparse.ArgumentParser,
    stdout: TextIO,
) -> int:
    connection = connect_read_write(args.db, args.timeout)
    try:
        allocations = allocate(connection, args.db, request)
    except Refused as refused:
        parser.error(str(refused))
    except NothingAllocated as nothing:
        print(
            f"{PROG}: {nothing.free} free /{request.length} in {network_text(request.parent)}, "
            f"{request.wanted} asked: nothing allocated",
            file=sys.stderr,
        )
        return EXIT_NOTHING_FREE
    finally:
        connection.close()  # an open transaction is rolled back
    write_lines((json_lines if args.json else text_lines)(allocations), stdout)
    return EXIT_OK
