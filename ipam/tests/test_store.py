"""Reading the prefixes table: every column of every row in id order, read-only, clear errors."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

import ipam.store
from ipam.service import run_once
from ipam.store import read_prefix_table, select_all
from ipam.tests.helpers import REPO_ROOT, add_row, make_database
from servicekit.runs import RunError
from servicekit.tests.helpers import (
    CANNOT_SWITCH,
    CANNOT_SWITCH_REASON,
    copy_readable,
    run_python_as_nobody,
    world_readable_directory,
)


def test_every_column_of_every_row_in_id_order_as_stored(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "prefixes.db",
        [
            (3, " 10.1.2.3/24", "office", 1.5, None, b"\x01\xff"),
            (1, "10.0.0.0/8", 'héllo, "quoted"\nline', 2, "x", None),
            (2, "2001:DB8::/32", "v6", 0, None, None),
        ],
        schema="id INTEGER PRIMARY KEY, prefix TEXT, site TEXT, weight REAL, note, data BLOB",
    )
    table = read_prefix_table(database)
    assert table.columns == ("id", "prefix", "site", "weight", "note", "data")
    assert table.rows == [
        (1, "10.0.0.0/8", 'héllo, "quoted"\nline', 2.0, "x", None),
        (2, "2001:DB8::/32", "v6", 0.0, None, None),
        (3, " 10.1.2.3/24", "office", 1.5, None, b"\x01\xff"),
    ]
    assert table.prefixes == ["10.0.0.0/8", "2001:DB8::/32", " 10.1.2.3/24"]  # never rewritten


def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    database = tmp_path / "no-such.db"
    with pytest.raises(RunError, match=f"^database not found: {re.escape(str(database))}$"):
        read_prefix_table(database)
    assert not database.exists()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (None, "has no 'prefixes' table"),
        ("id INTEGER PRIMARY KEY, cidr TEXT", "has no 'prefix' column"),
        ("rowname TEXT, prefix TEXT", "has no 'id' column"),
    ],
)
def test_a_missing_table_or_column_is_named(
    tmp_path: Path, schema: str | None, message: str
) -> None:
    database = tmp_path / "prefixes.db"
    if schema is None:
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE other (id INTEGER)")
        connection.close()
    else:
        make_database(database, [], schema=schema)
    with pytest.raises(RunError, match=message):
        read_prefix_table(database)


def test_text_that_is_not_utf8_is_read_with_replacement_characters(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    add_row(database, "2, CAST(X'31302EFF2E302E302F3136' AS TEXT)")  # b"10.\xff.0.0/16"
    assert read_prefix_table(database).prefixes == ["10.0.0.0/8", "10.\ufffd.0.0/16"]


@pytest.mark.parametrize("journal_mode", ["DELETE", "WAL"])
def test_other_read_errors_name_the_table_and_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_mode: str
) -> None:
    """Not blamed on WAL either, for a WAL database in a writable directory."""
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    with sqlite3.connect(database) as connection:
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
    connection.close()

    def failing_read(connection: sqlite3.Connection, query: str) -> list[tuple[object, ...]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ipam.store, "select_all", failing_read)
    with pytest.raises(RunError) as raised:
        read_prefix_table(database)
    assert str(raised.value) == f"cannot read database {database}: disk I/O error"


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    database = tmp_path / "prefixes.db"
    database.write_text("this is not SQLite " * 100)
    with pytest.raises(RunError) as raised:
        read_prefix_table(database)
    assert str(raised.value) == f"cannot read database {database}: file is not a database"


def test_paths_with_uri_characters_work(tmp_path: Path) -> None:
    folder = tmp_path / "odd ?#% name"
    folder.mkdir()
    database = make_database(folder / "p?x#1.db", [(1, "10.0.0.0/8")])
    assert read_prefix_table(database).prefixes == ["10.0.0.0/8"]


def test_generated_columns_are_read_in_their_place_with_their_values(tmp_path: Path) -> None:
    # PRAGMA table_info leaves generated columns out while SELECT * returns them: the names
    # were shifted against the values, and every row became invalid.
    database = tmp_path / "prefixes.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE prefixes (id INTEGER PRIMARY KEY,"
            " site TEXT GENERATED ALWAYS AS ('dc-' || id) VIRTUAL, prefix TEXT, score REAL,"
            " wide TEXT GENERATED ALWAYS AS (prefix || '!') STORED)"
        )
        connection.executemany(
            "INSERT INTO prefixes (id, prefix, score) VALUES (?, ?, ?)",
            [(2, "10.1.0.0/16", 2.0), (1, "10.0.0.0/8", 0.5)],
        )
    connection.close()
    output = tmp_path / "prefixes.json"
    summary = run_once(database, output)
    expected = [
        {
            "id": 1,
            "site": "dc-1",
            "prefix": "10.0.0.0/8",
            "score": 0.5,
            "wide": "10.0.0.0/8!",
            "parent_prefix": None,
        },
        {
            "id": 2,
            "site": "dc-2",
            "prefix": "10.1.0.0/16",
            "score": 2.0,
            "wide": "10.1.0.0/16!",
            "parent_prefix": "10.0.0.0/8",
        },
    ]
    assert output.read_text() == json.dumps(expected) + "\n"  # the exact objects, keys in order
    assert summary.invalid_ids == []


def test_hidden_columns_of_a_virtual_table_are_left_out_like_select_star_does(
    tmp_path: Path,
) -> None:
    database = tmp_path / "prefixes.db"
    with sqlite3.connect(database) as connection:
        try:
            connection.execute("CREATE VIRTUAL TABLE prefixes USING fts5(id, prefix)")
        except sqlite3.OperationalError:  # pragma: no cover - SQLite built without FTS5
            pytest.skip("this SQLite has no FTS5")
        connection.execute("INSERT INTO prefixes VALUES (1, '10.0.0.0/8')")
    connection.close()
    # FTS5 adds the hidden columns "prefixes" and "rank", which SELECT * does not return.
    table = read_prefix_table(database)
    assert (table.columns, table.rows) == (("id", "prefix"), [(1, "10.0.0.0/8")])


# Run as nobody: reads the database named in argv[1]; prints the rows, or the RunError's message
# and exits 3.
READ_AND_PRINT = """
import sys
from pathlib import Path
from servicekit.runs import RunError
from ipam.store import read_prefix_table
try:
    print(read_prefix_table(Path(sys.argv[1])).rows)
except RunError as error:
    print(error)
    sys.exit(3)
"""


@pytest.mark.skipif(CANNOT_SWITCH, reason=CANNOT_SWITCH_REASON)
def test_a_wal_database_in_a_read_only_directory_says_how_to_convert_it() -> None:
    # Root ignores directory permissions: nobody reads, from copies of the packages in a
    # directory it may enter (the checkout and pytest's tmp_path may be out of its reach).
    with world_readable_directory() as directory:
        for package in ("ipam", "servicekit"):
            copy_readable(REPO_ROOT / package, directory)
        folder = directory / "database"
        folder.mkdir()
        folder.chmod(0o755)
        database = make_database(folder / "prefixes.db", [(1, "10.0.0.0/8")])
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
            connection.execute("INSERT INTO prefixes VALUES (2, '10.1.0.0/16')")
        connection.close()  # the last connection removes -wal and -shm
        assert sorted(path.name for path in folder.iterdir()) == ["prefixes.db"]
        database.chmod(0o644)
        folder.chmod(0o555)  # like docker-compose's read-only mount of ./database
        failed = run_python_as_nobody(directory, READ_AND_PRINT, str(database))
        folder.chmod(0o755)
        # The advice in the message works: after it the same read succeeds.
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        folder.chmod(0o555)
        converted = run_python_as_nobody(directory, READ_AND_PRINT, str(database))
    assert (failed.returncode, failed.stderr) == (3, "")
    assert failed.stdout == (
        f"cannot read database {database}: it is in WAL mode, and SQLite cannot create"
        " prefixes.db-shm beside it (read-only directory); convert it once with:"
        f" sqlite3 {database} 'PRAGMA journal_mode=DELETE'\n"
    )
    assert (converted.returncode, converted.stderr) == (0, "")
    assert converted.stdout == "[(1, '10.0.0.0/8'), (2, '10.1.0.0/16')]\n"


def test_the_wal_message_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The subprocess test above meets the real failure; this one runs its branch under coverage."""
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()

    def cannot_create_shm(*_args: object) -> list[tuple[object, ...]]:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ipam.store, "table_columns", cannot_create_shm)
    with pytest.raises(RunError, match=r"it is in WAL mode, and SQLite cannot create prefixes"):
        read_prefix_table(database)


def test_column_names_are_matched_without_regard_to_case_as_sqlite_does(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "prefixes.db",
        [(2, "10.1.0.0/16", "b"), (1, "10.0.0.0/8", "a")],
        schema="ID INTEGER PRIMARY KEY, Prefix TEXT, Site TEXT",
    )
    table = read_prefix_table(database)
    assert table.columns == ("ID", "Prefix", "Site")  # as stored
    assert (table.ids, table.prefixes) == ([1, 2], ["10.0.0.0/8", "10.1.0.0/16"])  # ID order


def test_the_json_keeps_the_stored_column_names(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "prefixes.db",
        [(1, "10.0.0.0/8"), (2, "10.1.0.0/16"), (3, "bad")],
        schema="Id INTEGER PRIMARY KEY, PREFIX TEXT",
    )
    output = tmp_path / "prefixes.json"
    summary = run_once(database, output)
    assert json.loads(output.read_text())[:2] == [
        {"Id": 1, "PREFIX": "10.0.0.0/8", "parent_prefix": None},
        {"Id": 2, "PREFIX": "10.1.0.0/16", "parent_prefix": "10.0.0.0/8"},
    ]
    assert summary.invalid_ids == [3]  # the ids come from the "Id" column


def test_a_column_is_needed_in_some_case_not_a_look_alike(tmp_path: Path) -> None:
    database = make_database(tmp_path / "p.db", [], schema="ident INTEGER PRIMARY KEY, prefixes")
    with pytest.raises(RunError, match="has no 'id' column"):
        read_prefix_table(database)


def test_ids_are_the_id_column_whatever_its_place(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "prefixes.db",
        [("10.0.0.0/8", 20), ("10.1.0.0/16", 10)],
        schema="prefix TEXT, id INTEGER PRIMARY KEY",
    )
    table = read_prefix_table(database)
    assert (table.ids, table.prefixes) == ([10, 20], ["10.1.0.0/16", "10.0.0.0/8"])


@pytest.mark.skipif(sqlite3.sqlite_version_info < (3, 35), reason="DROP COLUMN needs SQLite 3.35")
@pytest.mark.parametrize("journal_mode", ["WAL", "DELETE"])
def test_a_column_dropped_between_the_column_list_and_the_rows_is_not_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_mode: str
) -> None:
    """The column names and the rows come from one read transaction: a column dropped by
    another connection in between must not shift the values under the wrong names."""
    database = make_database(
        tmp_path / "prefixes.db",
        [(1, "hq", "10.0.0.0/8"), (2, "lab", "10.1.0.0/16")],
        schema="id INTEGER PRIMARY KEY, site TEXT, prefix TEXT",
    )
    with sqlite3.connect(database) as setup:
        setup.execute(f"PRAGMA journal_mode={journal_mode}")
    setup.close()
    real_table_columns = ipam.store.table_columns
    dropped: list[str] = []

    def table_columns_then_drop(*args: object) -> list[tuple[object, ...]]:
        columns = real_table_columns(*args)  # type: ignore[arg-type]
        writer = sqlite3.connect(database, timeout=0)
        try:
            writer.execute("ALTER TABLE prefixes DROP COLUMN site")
            writer.commit()
            dropped.append("dropped")
        except sqlite3.OperationalError as error:  # the reader's lock holds the writer off
            dropped.append(str(error))
        finally:
            writer.close()
        return columns

    monkeypatch.setattr(ipam.store, "table_columns", table_columns_then_drop)
    table = read_prefix_table(database)
    # WAL: the writer commits, the reader's snapshot keeps the old table; DELETE (rollback
    # journal): the reader's shared lock keeps the writer out until the read is over.
    assert dropped == (["dropped"] if journal_mode == "WAL" else ["database is locked"])
    assert table.columns == ("id", "site", "prefix")
    assert table.rows == [(1, "hq", "10.0.0.0/8"), (2, "lab", "10.1.0.0/16")]


def test_select_all_lets_other_errors_through(tmp_path: Path) -> None:
    """Only text that is not UTF-8 is read again; any other error is the caller's to report."""
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    connection = sqlite3.connect(database)
    with pytest.raises(sqlite3.OperationalError, match="no such table: missing"):
        select_all(connection, "SELECT * FROM missing")
    connection.close()
