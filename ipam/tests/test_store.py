"""Reading the prefixes table: every column of every row in id order, read-only, clear errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ipam.store
from ipam.errors import IpamError
from ipam.service import run_once
from ipam.store import read_prefix_table
from ipam.tests.helpers import REPO_ROOT, add_row, make_database


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


NOBODY = 65534
# Reads the database named in argv[1]; prints the rows, or the IpamError's message and exits 3.
READ_AND_PRINT = """
import sys
from pathlib import Path
from ipam.errors import IpamError
from ipam.store import read_prefix_table
try:
    print(read_prefix_table(Path(sys.argv[1])).rows)
except IpamError as error:
    print(error)
    sys.exit(3)
"""


def _as_another_user(command: list[str]) -> list[str]:
    """Root ignores directory permissions: run as nobody to meet a read-only directory."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


def read_in_a_subprocess(database: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_another_user([sys.executable, "-c", READ_AND_PRINT, str(database)]),
        cwd=REPO_ROOT,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="root writes anywhere"
)
def test_a_wal_database_in_a_read_only_directory_says_how_to_convert_it() -> None:
    probe = subprocess.run(
        _as_another_user([sys.executable, "-c", "pass"]), capture_output=True, check=False
    )
    if probe.returncode != 0:  # pragma: no cover - depends on where Python is installed
        pytest.skip("this Python cannot run as another user")
    # Outside pytest's tmp_path, whose parents only root may enter.
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        folder.chmod(0o755)
        database = make_database(folder / "prefixes.db", [(1, "10.0.0.0/8")])
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
            connection.execute("INSERT INTO prefixes VALUES (2, '10.1.0.0/16')")
        connection.close()  # the last connection removes -wal and -shm
        assert sorted(path.name for path in folder.iterdir()) == ["prefixes.db"]
        try:
            folder.chmod(0o555)  # like docker-compose's read-only mount of ./database
            failed = read_in_a_subprocess(database)
            folder.chmod(0o755)
            # The advice in the message works: after it the same read succeeds.
            with sqlite3.connect(database) as connection:
                connection.execute("PRAGMA journal_mode=DELETE")
            connection.close()
            folder.chmod(0o555)
            converted = read_in_a_subprocess(database)
        finally:
            folder.chmod(0o755)
    assert (failed.returncode, failed.stderr) == (3, "")
    assert failed.stdout == (
        f"cannot read database {database}: it is in WAL mode, and SQLite cannot create"
        " prefixes.db-shm beside it (read-only directory); convert it once with:"
        f" sqlite3 {database} 'PRAGMA journal_mode=DELETE'\n"
    )
    assert (converted.returncode, converted.stderr) == (0, "")
    assert converted.stdout == "[(1, '10.0.0.0/8'), (2, '10.1.0.0/16')]\n"


def test_other_read_errors_of_a_wal_database_in_a_writable_directory_are_not_blamed_on_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()

    def failing_read(connection: sqlite3.Connection) -> list[tuple[object, ...]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ipam.store, "_all_rows", failing_read)
    with pytest.raises(IpamError, match=r"^cannot read table 'prefixes' .*: disk I/O error$"):
        read_prefix_table(database)


def test_a_database_that_cannot_be_opened_is_not_blamed_on_wal(tmp_path: Path) -> None:
    assert not ipam.store._wal_without_shm(tmp_path / "gone.db")


def test_the_wal_message_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The subprocess test above meets the real failure; this one runs its branch under coverage."""
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()

    def cannot_create_shm(connection: sqlite3.Connection, database: Path) -> tuple[str, ...]:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ipam.store, "_column_names", cannot_create_shm)
    with pytest.raises(IpamError, match=r"it is in WAL mode, and SQLite cannot create prefixes"):
        read_prefix_table(database)
