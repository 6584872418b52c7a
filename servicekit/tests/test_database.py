"""SQLite opened read-only, and one clear line for each way a database cannot be read."""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import socket
import sqlite3
import tempfile
from pathlib import Path

import pytest

from servicekit.database import (
    connect_read_only,
    folded,
    is_wal,
    quote_identifier,
    rowid_alias,
    table_columns,
    unreadable,
)
from servicekit.runs import RunError
from servicekit.tests.helpers import (
    CANNOT_SWITCH,
    CANNOT_SWITCH_REASON,
    REPO_ROOT,
    SWITCHES_USER,
    copy_readable,
    run_python_as_nobody,
    world_readable_directory,
)


def make_database(path: Path, *statements: str) -> Path:
    with sqlite3.connect(path) as connection:
        for statement in statements or ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",):
            connection.execute(statement)
    connection.close()
    return path


def make_wal_database(path: Path) -> Path:
    make_database(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        connection.execute("INSERT INTO t VALUES (1, 'one')")
    connection.close()  # the last connection removes -wal and -shm
    assert not Path(f"{path}-shm").exists()
    return path


def read_all(path: Path) -> list[tuple[object, ...]]:
    connection = connect_read_only(path)
    try:
        return connection.execute("SELECT * FROM t").fetchall()
    finally:
        connection.close()


# -- connect_read_only


def test_a_missing_database_is_not_found_and_is_not_created(tmp_path: Path) -> None:
    database = tmp_path / "missing.db"
    with pytest.raises(RunError, match=f"^database not found: {re.escape(str(database))}$"):
        connect_read_only(database)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RunError, match=r" is a directory, not a SQLite database file$"):
        connect_read_only(tmp_path)  # a directory is no database either


def test_the_connection_reads_but_cannot_write(tmp_path: Path) -> None:
    database = make_database(tmp_path / "x.db", "CREATE TABLE t (id INTEGER PRIMARY KEY)")
    connection = connect_read_only(database)
    try:
        assert connection.isolation_level is None  # autocommit: the caller begins transactions
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            connection.execute("INSERT INTO t VALUES (1)")
    finally:
        connection.close()


def test_a_path_starting_with_two_slashes_is_a_path_not_a_uri_authority(tmp_path: Path) -> None:
    """``$ROOT/x.db`` with ``ROOT=/`` gives ``//x.db``: file://x.db would be host "x.db"."""
    database = make_database(tmp_path / "x.db")
    doubled = Path("/" + str(database))
    assert str(doubled).startswith("//")
    assert read_all(doubled) == []


def test_paths_with_uri_characters_work(tmp_path: Path) -> None:
    folder = tmp_path / "odd ?#% name&mode=rwc"
    folder.mkdir()
    database = make_database(folder / "p?x#1%20.db")
    assert read_all(database) == []
    assert sorted(path.name for path in folder.iterdir()) == ["p?x#1%20.db"]


def test_a_relative_path_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_database(tmp_path / "x.db")
    monkeypatch.chdir(tmp_path)
    assert read_all(Path("x.db")) == []


# -- unreadable: the one line for a database SQLite failed to read


def test_a_file_that_is_not_a_database_is_one_line_naming_it(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    database.write_text("this is not SQLite\n" * 100)
    connection = connect_read_only(database)
    try:
        with pytest.raises(sqlite3.DatabaseError) as raised:
            table_columns(connection, "t", database)
    finally:
        connection.close()
    error = unreadable(database, raised.value)
    assert isinstance(error, RunError)
    assert str(error) == f"cannot read database {database}: file is not a database"
    assert database.read_text() == "this is not SQLite\n" * 100  # left alone


def test_a_database_gone_since_it_was_opened_is_not_found(tmp_path: Path) -> None:
    error = unreadable(tmp_path / "gone.db", sqlite3.OperationalError("disk I/O error"))
    assert str(error) == f"database not found: {tmp_path / 'gone.db'}"


def test_other_errors_keep_sqlites_words(tmp_path: Path) -> None:
    database = make_database(tmp_path / "x.db")
    error = unreadable(database, sqlite3.OperationalError("database is locked"))
    assert str(error) == f"cannot read database {database}: database is locked"


def test_a_wal_database_whose_shm_sqlite_could_not_create_says_how_to_convert_it(
    tmp_path: Path,
) -> None:
    """In process, the branch; the test below meets the real failure in a read-only directory."""
    database = make_wal_database(tmp_path / "x.db")
    error = unreadable(database, sqlite3.OperationalError("unable to open database file"))
    assert str(error) == (
        f"cannot read database {database}: it is in WAL mode, and SQLite cannot create x.db-shm "
        f"beside it (read-only directory); convert it once with: "
        f"sqlite3 {database} 'PRAGMA journal_mode=DELETE'"
    )
    assert len(str(error).splitlines()) == 1


def test_a_wal_database_with_its_shm_is_not_blamed_on_wal(tmp_path: Path) -> None:
    database = make_wal_database(tmp_path / "x.db")
    Path(f"{database}-shm").write_bytes(b"")  # SQLite could create it: WAL is not the cause
    error = unreadable(database, sqlite3.OperationalError("disk I/O error"))
    assert str(error) == f"cannot read database {database}: disk I/O error"


def test_a_header_that_cannot_be_read_is_named_with_the_file_and_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO injected at the header's read (``open`` patched in servicekit.database: its read
    fails): the error was swallowed and the line gave SQLite's words, not the cause."""
    database = make_wal_database(tmp_path / "x.db")

    class FailingRead(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("servicekit.database.open", lambda path, mode: FailingRead(), raising=False)
    error = unreadable(database, sqlite3.OperationalError("unable to open database file"))
    assert str(error) == f"cannot read the header of database {database}: Input/output error"


def test_a_database_not_in_wal_mode_is_not_blamed_on_wal(tmp_path: Path) -> None:
    database = make_database(tmp_path / "x.db")
    error = unreadable(database, sqlite3.OperationalError("disk I/O error"))
    assert "WAL" not in str(error)


def refuse_reading(monkeypatch: pytest.MonkeyPatch, refused: Path) -> None:
    """Make opening ``refused`` fail as the kernel fails it for a user who may not read it."""
    real_open = os.open

    def refuse(path: object, *args: int, **kwargs: object) -> int:
        if Path(path) == refused:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)


def test_a_database_this_user_may_not_read_is_not_blamed_on_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = make_wal_database(tmp_path / "x.db")
    database.chmod(0)
    if SWITCHES_USER:  # root reads any file: refuse the way the kernel would for anyone else
        refuse_reading(monkeypatch, database)
    try:
        error = unreadable(database, sqlite3.OperationalError("unable to open database file"))
    finally:
        database.chmod(0o644)
        monkeypatch.undo()
    assert str(error) == (
        f"cannot read database {database}: permission denied (owner uid {os.getuid()}, mode "
        f"0000; this process runs as uid {os.geteuid()} gid {os.getegid()})"
    )


def test_a_wal_file_this_user_may_not_read_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite needs -wal and -shm beside a WAL database; it says only "unable to open database
    file" when it may not open one (the real thing, as nobody: test_database_paths.py)."""
    database = make_wal_database(tmp_path / "x.db")
    wal = Path(f"{database}-wal")
    wal.write_bytes(b"")
    wal.chmod(0o600)
    refuse_reading(monkeypatch, wal)
    error = unreadable(database, sqlite3.OperationalError("unable to open database file"))
    assert str(error) == (
        f"cannot read database {database}: permission denied on x.db-wal (owner uid "
        f"{os.getuid()}, mode 0600; this process runs as uid {os.geteuid()} gid {os.getegid()})"
    )


def test_a_directory_on_the_path_this_user_may_not_enter_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> os.stat_result:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "stat", refuse)  # as stat fails in a directory without x permission
    with pytest.raises(RunError) as raised:
        connect_read_only(tmp_path / "private" / "x.db")
    assert str(raised.value) == (
        f"cannot read database {tmp_path / 'private' / 'x.db'}: permission denied on a directory "
        f"of its path (this process runs as uid {os.geteuid()})"
    )


def test_a_path_the_kernel_cannot_resolve_keeps_its_words(tmp_path: Path) -> None:
    loop = tmp_path / "loop.db"
    loop.symlink_to(loop)
    with pytest.raises(RunError) as raised:
        connect_read_only(loop)
    assert str(raised.value) == f"cannot read database {loop}: Too many levels of symbolic links"


def test_what_is_no_regular_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    """The FIFO, which would block a regression, is tested under a timeout in
    test_database_paths.py."""
    server = socket.socket(socket.AF_UNIX)
    socket_path = Path(tempfile.mkdtemp(prefix="db-")) / "s.db"  # a socket path is short
    try:
        server.bind(str(socket_path))
        for path, kind in (
            (tmp_path, "a directory"),
            (socket_path, "a socket"),
            (Path(os.devnull), "a character device"),
        ):
            with pytest.raises(RunError) as raised:
                connect_read_only(path)
            assert str(raised.value) == f"database {path} is {kind}, not a SQLite database file"
            assert str(unreadable(path, sqlite3.OperationalError("x"))) == str(raised.value)
    finally:
        server.close()
        shutil.rmtree(socket_path.parent)


def crashed_mid_transaction(directory: Path) -> Path:
    """A database as a writer killed in the middle of a transaction leaves it: some pages
    already overwritten, and the rollback journal holding their old content (hot)."""
    live = directory / "live.db"
    connection = sqlite3.connect(live, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # no fsync: a fast test, the same files
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(i, "old" * 30) for i in range(200)])
        shutil.copyfile(live, directory / "before.db")
        connection.execute("PRAGMA cache_size=1")  # changed pages spill to the file at once
        connection.execute("BEGIN")
        connection.execute("UPDATE t SET name = 'new'")
        crashed = directory / "x.db"
        shutil.copyfile(live, crashed)  # what the disk holds at the moment of the crash
        shutil.copyfile(f"{live}-journal", f"{crashed}-journal")
        assert crashed.read_bytes() != (directory / "before.db").read_bytes()  # pages overwritten
        connection.execute("ROLLBACK")
    finally:
        connection.close()
    return crashed


def test_a_hot_journal_a_reader_cannot_roll_back_says_how_to_roll_it_back(tmp_path: Path) -> None:
    database = crashed_mid_transaction(tmp_path)
    with pytest.raises(sqlite3.OperationalError) as raised:
        read_all(database)
    assert "readonly" in str(raised.value)  # SQLite's own words: neither cause nor fix
    error = unreadable(database, raised.value)
    assert str(error) == (
        f"cannot read database {database}: a writer stopped in the middle of a transaction and "
        f"left x.db-journal, which only a read-write connection can roll back; roll it back "
        f"once with: sqlite3 {database} 'PRAGMA quick_check'"
    )
    # The advice works: a read-write connection rolls the transaction back, and the data is
    # what it was before it.
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
    connection.close()
    assert not Path(f"{database}-journal").exists()
    assert database.read_bytes() == (tmp_path / "before.db").read_bytes()
    assert len(read_all(database)) == 200


def test_an_empty_journal_or_none_is_not_blamed_for_a_readonly_error(tmp_path: Path) -> None:
    database = make_database(tmp_path / "x.db")
    readonly = sqlite3.OperationalError("attempt to write a readonly database")
    expected = f"cannot read database {database}: attempt to write a readonly database"
    assert str(unreadable(database, readonly)) == expected  # no journal at all
    Path(f"{database}-journal").write_bytes(b"")  # an empty journal: nothing to roll back
    assert str(unreadable(database, readonly)) == expected


def test_a_journal_is_blamed_only_for_a_readonly_error(tmp_path: Path) -> None:
    database = crashed_mid_transaction(tmp_path)
    error = unreadable(database, sqlite3.OperationalError("disk I/O error"))
    assert str(error) == f"cannot read database {database}: disk I/O error"


# Run as nobody: opens the database in argv[1] read-only and prints its rows, or the RunError's
# line and exits 3.
READ_AS_NOBODY = """
import sqlite3, sys
from pathlib import Path
from servicekit.database import connect_read_only, unreadable
path = Path(sys.argv[1])
try:
    connection = connect_read_only(path)
    try:
        print(connection.execute("SELECT * FROM t").fetchall())
    finally:
        connection.close()
except sqlite3.Error as error:
    print(unreadable(path, error))
    sys.exit(3)
"""


@pytest.mark.skipif(CANNOT_SWITCH, reason=CANNOT_SWITCH_REASON)
def test_a_wal_database_in_a_read_only_directory_really_fails_with_the_advice_that_works() -> None:
    """Compose mounts database/ read-only: a reader of a WAL database there cannot create the
    -shm file SQLite needs, and SQLite's own message names neither the cause nor the fix."""
    with world_readable_directory() as directory:
        copy_readable(REPO_ROOT / "servicekit", directory)
        folder = directory / "database"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        database = make_wal_database(folder / "x.db")
        database.chmod(0o644)
        folder.chmod(0o555)  # like the read-only mount
        failed = run_python_as_nobody(directory, READ_AS_NOBODY, str(database))
        folder.chmod(0o755)
        with sqlite3.connect(database) as connection:  # the advice in the message
            connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        folder.chmod(0o555)
        converted = run_python_as_nobody(directory, READ_AS_NOBODY, str(database))
    assert (failed.returncode, failed.stderr) == (3, "")
    assert failed.stdout == (
        f"cannot read database {database}: it is in WAL mode, and SQLite cannot create x.db-shm "
        f"beside it (read-only directory); convert it once with: "
        f"sqlite3 {database} 'PRAGMA journal_mode=DELETE'\n"
    )
    assert (converted.returncode, converted.stderr, converted.stdout) == (0, "", "[(1, 'one')]\n")


def test_is_wal_reads_the_header(tmp_path: Path) -> None:
    rollback = make_database(tmp_path / "rollback.db")
    wal = make_wal_database(tmp_path / "wal.db")
    assert not is_wal(rollback.read_bytes()[:100])
    assert is_wal(wal.read_bytes()[:100])
    assert not is_wal(b"")  # an empty file: a new database, not in WAL mode


# -- table_columns


def names(database: Path, table: str = "t") -> list[object]:
    connection = connect_read_only(database)
    try:
        return [row[1] for row in table_columns(connection, table, database)]
    finally:
        connection.close()


def test_no_such_table_is_one_line_naming_the_table_and_the_database(tmp_path: Path) -> None:
    database = make_database(tmp_path / "x.db", "CREATE TABLE other (id INTEGER)")
    with pytest.raises(RunError) as raised:
        names(database, "customers")
    assert str(raised.value) == f"{database} has no 'customers' table"


def test_columns_come_in_table_order_with_their_pragma_fields(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "x.db", "CREATE TABLE t (name TEXT NOT NULL, id INTEGER PRIMARY KEY, note)"
    )
    connection = connect_read_only(database)
    try:
        rows = table_columns(connection, "t", database)
    finally:
        connection.close()
    assert [(row[1], row[2], row[3], row[5]) for row in rows] == [
        ("name", "TEXT", 1, 0),
        ("id", "INTEGER", 0, 1),
        ("note", "", 0, 0),
    ]


def test_generated_columns_are_columns_like_any_other(tmp_path: Path) -> None:
    """PRAGMA table_info leaves them out, SELECT * does not: names and values must line up."""
    database = make_database(
        tmp_path / "x.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY,"
        " site TEXT GENERATED ALWAYS AS ('dc-' || id) VIRTUAL, name TEXT,"
        " wide TEXT GENERATED ALWAYS AS (name || '!') STORED)",
        "INSERT INTO t (id, name) VALUES (1, 'one')",
    )
    assert names(database) == ["id", "site", "name", "wide"]
    assert read_all(database) == [(1, "dc-1", "one", "one!")]


def test_hidden_columns_of_a_virtual_table_are_left_out_as_select_star_does(
    tmp_path: Path,
) -> None:
    database = tmp_path / "x.db"
    try:
        make_database(database, "CREATE VIRTUAL TABLE t USING fts5(id, name)")
    except sqlite3.OperationalError:  # pragma: no cover - SQLite built without FTS5
        pytest.skip("this SQLite has no FTS5")
    make_database(database, "INSERT INTO t VALUES (1, 'one')")
    # FTS5 adds the hidden columns "t" and "rank", which SELECT * does not return.
    assert names(database) == ["id", "name"]
    assert read_all(database) == [(1, "one")]


def test_odd_table_names_are_quoted(tmp_path: Path) -> None:
    assert quote_identifier('we"ird') == '"we""ird"'
    database = make_database(tmp_path / "x.db", 'CREATE TABLE "we""ird name" (a, "b""c")')
    assert names(database, 'we"ird name') == ["a", 'b"c']


def test_a_hot_journal_of_a_database_reached_through_a_link_is_found_beside_the_real_file(
    tmp_path: Path,
) -> None:
    """SQLite keeps the journal beside the file a symbolic link leads to: looking beside the link
    missed it and gave SQLite's bare "readonly database"."""
    database = crashed_mid_transaction(tmp_path)
    link = tmp_path / "link.db"
    link.symlink_to(database.name)
    with pytest.raises(sqlite3.OperationalError) as raised:
        read_all(link)
    assert "x.db-journal, which only a read-write connection can roll back" in str(
        unreadable(link, raised.value)
    )


def test_identifiers_fold_as_sqlite_folds_them_ascii_only(tmp_path: Path) -> None:
    """SQLite matches names without regard to the case of ASCII letters only: "É" and "é", or
    the Kelvin sign and "k", are different columns to it."""
    assert folded("DeScRiPtIoN_1") == "description_1"
    assert folded("\u00c9") == "\u00c9"
    assert folded("\u212a") == "\u212a"  # KELVIN SIGN, which str.lower() makes "k"
    database = make_database(tmp_path / "x.db", 'CREATE TABLE t ("\u00c9", "\u00e9", "\u212a", k)')
    assert names(database) == ["\u00c9", "\u00e9", "\u212a", "k"]
    connection = sqlite3.connect(database)
    with pytest.raises(sqlite3.OperationalError, match="duplicate column name"):
        connection.execute('ALTER TABLE t ADD COLUMN "K"')
    connection.close()


@pytest.mark.parametrize(
    ("create", "alias"),
    [
        ("CREATE TABLE t (name TEXT, id INTEGER PRIMARY KEY)", 1),
        ("CREATE TABLE t (Key integer primary key asc, name TEXT)", 0),
        ("CREATE TABLE t (name TEXT, id Integer, PRIMARY KEY (id DESC))", 1),  # not the quirk
        ("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, name TEXT)", 0),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY DESC, name TEXT)", None),  # SQLite's quirk
        ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID", None),
        ("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)", None),
        ("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)", None),
        ("CREATE TABLE t (id INTEGER, name TEXT, PRIMARY KEY (id, name))", None),
        ("CREATE TABLE t (id INTEGER, name TEXT)", None),
    ],
)
def test_the_rowid_alias_is_the_one_integer_primary_key_sqlite_makes_the_rowid(
    tmp_path: Path, create: str, alias: int | None
) -> None:
    """Only the alias is the rowid, an integer SQLite assigns; an INTEGER PRIMARY KEY declared
    DESC or in a WITHOUT ROWID table is an ordinary column, which may hold text."""
    database = make_database(tmp_path / "x.db", create)
    connection = connect_read_only(database)
    try:
        assert rowid_alias(connection, "t", table_columns(connection, "t", database)) == alias
    finally:
        connection.close()
