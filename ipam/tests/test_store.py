"""Reading the prefixes table: every column of every row in id order, read-only, clear errors."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import ipam.store
from ipam.errors import IpamError
from ipam.store import read_prefix_table
from ipam.tests.helpers import add_row, make_database


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
    with pytest.raises(IpamError, match=f"^database not found: {re.escape(str(database))}$"):
        read_prefix_table(database)
    assert not database.exists()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (None, "no table 'prefixes'"),
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
    with pytest.raises(IpamError, match=message):
        read_prefix_table(database)


def test_text_that_is_not_utf8_is_read_with_replacement_characters(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    add_row(database, "2, CAST(X'31302EFF2E302E302F3136' AS TEXT)")  # b"10.\xff.0.0/16"
    assert read_prefix_table(database).prefixes == ["10.0.0.0/8", "10.\ufffd.0.0/16"]


def test_other_read_errors_name_the_table_and_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])

    def failing_read(connection: sqlite3.Connection) -> list[tuple[object, ...]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ipam.store, "_all_rows", failing_read)
    with pytest.raises(IpamError, match=r"^cannot read table 'prefixes' .*: disk I/O error$"):
        read_prefix_table(database)


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    database = tmp_path / "prefixes.db"
    database.write_text("this is not SQLite " * 100)
    with pytest.raises(IpamError, match=r"^cannot read table 'prefixes'"):
        read_prefix_table(database)


def test_paths_with_uri_characters_work(tmp_path: Path) -> None:
    folder = tmp_path / "odd ?#% name"
    folder.mkdir()
    database = make_database(folder / "p?x#1.db", [(1, "10.0.0.0/8")])
    assert read_prefix_table(database).prefixes == ["10.0.0.0/8"]
