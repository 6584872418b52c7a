"""``python -m ipam allocate``: the blocks are free's, first-fit, against netaddr; the rows are
inserted all or nothing; ``--set`` fills other columns; every exit status of the real process;
and the next run of ipam shows the new rows with their parents."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork, IPSet

import ipam.allocate
from ipam.allocate import Allocation, NothingAllocated, Request, allocate, connect_read_write, main
from ipam.networks import network_key, network_text
from ipam.service import run_once
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.tests.test_tree import Network, networks, tables
from servicekit.runs import RunError
from servicekit.tests import helpers as shared

SHIPPED = REPO_ROOT / "database" / "prefixes.db"
ALLOCATE = [sys.executable, "-m", "ipam", "allocate"]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A copy of the shipped database: the shipped one is the exercise's data."""
    return Path(shutil.copyfile(SHIPPED, tmp_path / "prefixes.db"))


def rows(database: Path, columns: str = "id, prefix") -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        found = connection.execute(f"SELECT {columns} FROM prefixes ORDER BY id").fetchall()
    connection.close()
    return found


def run_process(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ALLOCATE, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
        check=False,
    )


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The same in this process (so that coverage sees it): main()'s status and its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(arguments))
        except SystemExit as exit_info:  # argparse
            code = int(exit_info.code or 0)
    return subprocess.CompletedProcess(arguments, code, out.getvalue(), err.getvalue())


def key(text: str) -> int:
    value = network_key(text)
    assert not isinstance(value, str)
    return value


# -- What gets allocated


def test_the_first_free_blocks_are_inserted_and_listed(shipped: Path) -> None:
    before = rows(shipped)
    completed = run_process("10.10.0.0/16", "--length", "24", "--count", "3", "--db", str(shipped))
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        "10.10.0.0/24        id 29",
        "10.10.6.0/24        id 30",
        "10.10.7.0/24        id 31",
    ]
    assert rows(shipped) == [
        *before,
        (29, "10.10.0.0/24"),
        (30, "10.10.6.0/24"),
        (31, "10.10.7.0/24"),
    ]


def test_json_lines_in_address_order(shipped: Path) -> None:
    completed = run(
        "2001:db8::/32", "--length", "48", "--count", "2", "--json", "--db", str(shipped)
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        '{"id": 29, "prefix": "2001:db8::/48"}',
        '{"id": 30, "prefix": "2001:db8:1::/48"}',
    ]
    assert json.loads(completed.stdout.splitlines()[0]) == {"id": 29, "prefix": "2001:db8::/48"}


def test_the_blocks_are_the_ones_free_gives(shipped: Path) -> None:
    free = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipam",
            "free",
            "10.0.0.0/8",
            "--length",
            "20",
            "--limit",
            "5",
            "--db",
            str(shipped),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [line.split()[0] for line in free.stdout.splitlines()[:-1]]
    completed = run("10.0.0.0/8", "--length", "20", "--count", "5", "--db", str(shipped))
    assert [line.split()[0] for line in completed.stdout.splitlines()] == expected


def test_the_next_run_shows_the_new_rows_with_their_parents(shipped: Path, tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    run_once(shipped, before / "prefixes.json", html=before / "prefixes.html")
    assert run("10.10.0.0/16", "--length", "24", "--db", str(shipped)).returncode == 0
    run_once(shipped, after / "prefixes.json", html=after / "prefixes.html")
    written = json.loads((after / "prefixes.json").read_text(encoding="utf-8"))
    assert written[-1] == {"id": 29, "prefix": "10.10.0.0/24", "parent_prefix": "10.10.0.0/16"}
    page_before = (before / "prefixes.html").read_bytes()
    assert (after / "prefixes.html").read_bytes() != page_before  # the page is the table's
    tree = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipam",
            "tree",
            "--root",
            "10.10.0.0/16",
            "--depth",
            "3",
            "--db",
            str(shipped),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        check=True,
    )
    assert tree.stdout.splitlines()[1].startswith("    ├── 10.10.0.0/24                id 29 ")


def first_fit(values: list[object], parent: Network, length: int) -> list[str]:
    """netaddr's answer: PARENT minus the valid networks strictly inside it, cut into /length
    blocks in address order."""
    inside = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            continue
        if network.version == parent.version and network != parent and network.subnet_of(parent):  # type: ignore[arg-type]
            inside.append(IPNetwork(str(network)))
    free = IPSet([IPNetwork(str(parent))]) - IPSet(inside)
    blocks = []
    for cidr in free.iter_cidrs():
        if cidr.prefixlen <= length:
            blocks += [str(block) for block in cidr.subnet(length)]
    return blocks


@settings(max_examples=150)
@given(tables(), networks(), st.integers(0, 6), st.integers(1, 4))
def test_allocation_is_netaddrs_first_fit_and_the_table_gains_exactly_those_rows(
    values: list[object], parent: Network, extra: int, wanted: int
) -> None:
    length = min(parent.prefixlen + extra, parent.max_prefixlen)
    expected = first_fit(values, parent, length)
    with tempfile.TemporaryDirectory() as directory:
        database = make_database(Path(directory) / "p.db", list(enumerate(values, 1)))
        before = rows(database)
        connection = connect_read_write(database, 5.0)
        try:
            request = Request(key(str(parent)), length, wanted)
            if len(expected) < wanted:
                with pytest.raises(NothingAllocated) as raised:
                    allocate(connection, database, request)
                assert raised.value.free == len(expected)
                new: list[Allocation] = []
            else:
                new = allocate(connection, database, request)
        finally:
            connection.close()
        after = rows(database)
    assert [allocation.prefix for allocation in new] == expected[: len(new)]
    assert all(
        str(ipaddress.ip_network(allocation.prefix)) == allocation.prefix for allocation in new
    )
    assert after == before + [(allocation.id, allocation.prefix) for allocation in new]


# -- --set


def test_set_fills_other_columns_with_quotes_commas_and_non_ascii_text(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "p.db",
        [(1, "10.0.0.0/8", "core", "active")],
        "id INTEGER PRIMARY KEY, prefix TEXT, description TEXT, status TEXT DEFAULT 'reserved'",
    )
    text = "Café \"Zürich\", O'Brien's; 東京 — 1,2,3"
    completed = run_process(
        "10.0.0.0/8",
        "--length",
        "24",
        "--count",
        "2",
        "--set",
        f"Description={text}",
        "--db",
        str(database),
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert rows(database, "id, prefix, description, status")[1:] == [
        (2, "10.0.0.0/24", text, "reserved"),
        (3, "10.0.1.0/24", text, "reserved"),
    ]
    completed = run_process(
        "10.0.0.0/8",
        "--length",
        "24",
        "--set",
        "status=",
        "--set",
        "description=a=b",
        "--db",
        str(database),
    )
    assert completed.returncode == 0
    assert rows(database, "description, status")[-1] == ("a=b", "")


def test_a_not_null_column_without_a_default_must_be_set(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "p.db",
        [(1, "10.0.0.0/8", "me")],
        "id INTEGER PRIMARY KEY, prefix TEXT, owner TEXT NOT NULL",
    )
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(database))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: column 'owner' of table 'prefixes' in {database} is NOT NULL "
        "with no default: give it a value with --set owner=VALUE; nothing allocated\n"
    )
    assert rows(database) == [(1, "10.0.0.0/8")]
    assert (
        run("10.0.0.0/8", "--length", "16", "--set", "owner=you", "--db", str(database)).returncode
        == 0
    )
    assert rows(database, "prefix, owner") == [("10.0.0.0/8", "me"), ("10.0.0.0/16", "you")]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "colour=red",
            "--set colour: table 'prefixes' has no such column (it has: id, prefix, note)",
        ),
        ("twice=x", "--set twice: table 'prefixes' has no such column (it has: id, prefix, note)"),
        ("prefix=10.0.0.0/8", "--set prefix: allocate writes the prefix itself"),
        ("ID=7", "--set ID: allocate writes the id itself"),
    ],
)
def test_a_column_the_table_lacks_or_allocate_writes_is_refused(
    tmp_path: Path, setting: str, message: str
) -> None:
    database = make_database(
        tmp_path / "p.db",
        [(1, "10.0.0.0/8", "x")],
        "id INTEGER PRIMARY KEY, prefix TEXT, note TEXT, "
        "twice TEXT GENERATED ALWAYS AS (note || note)",
    )
    completed = run("10.0.0.0/8", "--length", "16", "--set", setting, "--db", str(database))
    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == f"python -m ipam allocate: error: {message}\n"
    assert rows(database) == [(1, "10.0.0.0/8")]


def test_set_matches_column_names_as_sqlite_does_ascii_letters_only(tmp_path: Path) -> None:
    """SQLite folds the case of ASCII letters only: "É" and "é" are two columns, and "k" is
    not the Kelvin sign's."""
    database = make_database(
        tmp_path / "p.db", [], 'id INTEGER PRIMARY KEY, prefix TEXT, "\u00c9", "\u00e9", "\u212a"'
    )
    arguments = ["10.0.0.0/8", "--length", "8", "--db", str(database)]
    completed = run(*arguments, "--set", "\u00c9=upper", "--set", "\u00e9=lower")
    assert (completed.returncode, completed.stderr) == (0, "")
    assert rows(database, '"\u00c9", "\u00e9", "\u212a"') == [("upper", "lower", None)]
    completed = run(*arguments, "--set", "k=1")
    assert completed.stderr == (
        "python -m ipam allocate: error: --set k: table 'prefixes' has no such column (it has: "
        "id, prefix, \u00c9, \u00e9, \u212a)\n"
    )
    completed = run(*arguments, "--set", "\u212a=1", "--set", "\u00c9=2", "--set", "\u00c9=3")
    assert (
        completed.stderr == "python -m ipam allocate: error: argument --set: \u00c9 given twice\n"
    )
    assert len(rows(database)) == 1


def test_a_constraint_that_fails_rolls_every_row_back(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "p.db",
        [(1, "10.0.0.0/8")],
        "id INTEGER PRIMARY KEY, prefix TEXT CHECK (prefix != '10.0.1.0/24')",
    )
    completed = run("10.0.0.0/8", "--length", "24", "--count", "3", "--db", str(database))
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"python -m ipam allocate: cannot insert into {database}: CHECK constraint failed: "
        "prefix != '10.0.1.0/24'; nothing allocated\n"
    )
    assert rows(database) == [(1, "10.0.0.0/8")]


@pytest.mark.parametrize(
    "schema",
    [
        "id TEXT PRIMARY KEY, prefix TEXT",
        "id INTEGER, prefix TEXT",
        "id INT PRIMARY KEY, prefix TEXT",
        "id INTEGER, prefix TEXT, PRIMARY KEY (id, prefix)",
        # INTEGER PRIMARY KEY, but not the rowid: SQLite would not give the id (its quirk)
        "id INTEGER PRIMARY KEY DESC, prefix TEXT",
        "prefix TEXT, id integer primary key desc unique",
    ],
)
def test_an_id_that_is_not_the_integer_primary_key_is_refused(tmp_path: Path, schema: str) -> None:
    database = make_database(tmp_path / "p.db", [("1", "10.0.0.0/8")], schema)
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(database))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: table 'prefixes' in {database} must have 'id INTEGER PRIMARY "
        "KEY', which gives each new row its id\n"
    )
    assert len(rows(database)) == 1


def test_a_rowid_alias_other_than_id_is_refused_before_any_insert(tmp_path: Path) -> None:
    """SQLite would give the new row a ``key``, not the ``id`` the output reports."""
    schema = "key INTEGER PRIMARY KEY, id INTEGER, prefix TEXT"
    database = make_database(tmp_path / "p.db", [(7, 1, "10.0.0.0/8")], schema)
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(database))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: table 'prefixes' in {database} must have 'id INTEGER PRIMARY "
        "KEY', which gives each new row its id\n"
    )
    assert len(rows(database)) == 1


def test_a_table_without_rowid_is_refused_before_any_insert(tmp_path: Path) -> None:
    database = tmp_path / "p.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE prefixes (id INTEGER PRIMARY KEY, prefix TEXT) WITHOUT ROWID"
        )
        connection.execute("INSERT INTO prefixes VALUES (1, '10.0.0.0/8')")
    connection.close()
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(database))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: table 'prefixes' in {database} must have 'id INTEGER PRIMARY "
        "KEY', which gives each new row its id\n"
    )
    assert rows(database) == [(1, "10.0.0.0/8")]


@pytest.mark.parametrize(
    "schema",
    [
        "id INTEGER PRIMARY KEY ASC, prefix TEXT",
        "id Integer, prefix TEXT, PRIMARY KEY (id DESC)",  # the quirk is the column's only
        "prefix TEXT, ID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE",
    ],
)
def test_every_spelling_of_the_rowid_id_gives_the_stored_id(tmp_path: Path, schema: str) -> None:
    database = make_database(tmp_path / "p.db", [], schema)
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO prefixes (id, prefix) VALUES (5, '10.0.0.0/8')")
    connection.close()
    completed = run("10.0.0.0/8", "--length", "24", "--count", "2", "--db", str(database))
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == "10.0.0.0/24         id 6\n10.0.1.0/24         id 7\n"
    assert rows(database) == [(5, "10.0.0.0/8"), (6, "10.0.0.0/24"), (7, "10.0.1.0/24")]


# -- Exit statuses


def test_fewer_blocks_free_than_asked_inserts_nothing_and_exits_3(shipped: Path) -> None:
    before = rows(shipped)
    completed = run("10.10.4.0/24", "--length", "26", "--count", "3", "--db", str(shipped))
    assert (completed.returncode, completed.stdout) == (3, "")
    assert completed.stderr == (
        "python -m ipam allocate: 2 free /26 in 10.10.4.0/24, 3 asked: nothing allocated\n"
    )
    assert rows(shipped) == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["10.0.0.0/33", "--length", "24"], "argument PARENT: not a valid IP network"),
        (["junk", "--length", "24"], "argument PARENT: not a valid IP network"),
        (
            ["10.0.0.0/16", "--length", "8"],
            "argument --length: must be from 16 to 32 for 10.0.0.0/16, not 8",
        ),
        (
            ["10.0.0.0/16", "--length", "33"],
            "argument --length: must be from 16 to 32 for 10.0.0.0/16, not 33",
        ),
        (
            ["2001:db8::/32", "--length", "129"],
            "argument --length: must be from 32 to 128 for 2001:db8::/32, not 129",
        ),
        (["10.0.0.0/16", "--length", "x"], "argument --length: must be a prefix length, not 'x'"),
        (
            ["10.0.0.0/16", "--length", "\u0662\u0664"],
            "argument --length: must be a prefix length, not '\u0662\u0664'",
        ),
        (
            ["10.0.0.0/16", "--length", "2_4"],
            "argument --length: must be a prefix length, not '2_4'",
        ),
        (
            ["10.0.0.0/16", "--length", " 24 "],
            "argument --length: must be a prefix length, not ' 24 '",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--count", "1_0"],
            "argument --count: must be a whole number from 1, not '1_0'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--count", "\u0662"],
            "argument --count: must be a whole number from 1, not '\u0662'",
        ),
        (["10.0.0.0/16"], "the following arguments are required: --length"),
        (
            ["10.0.0.0/16", "--length", "24", "--count", "0"],
            "argument --count: must be a whole number from 1, not '0'",
        ),
        (
            ["::/0", "--length", "128", "--count", "1000001"],
            "argument --count: must be at most 1,000,000, not '1000001'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--set", "novalue"],
            "argument --set: must be COLUMN=VALUE, not 'novalue'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--set", "=x"],
            "argument --set: must be COLUMN=VALUE, not '=x'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--set", "a=1", "--set", "A=2"],
            "argument --set: a given twice",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--timeout", "-1"],
            "argument --timeout: must be seconds from 0 to 3600, not '-1'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--timeout", "nan"],
            "argument --timeout: must be seconds from 0 to 3600, not 'nan'",
        ),
        (
            ["10.0.0.0/16", "--length", "24", "--timeout", "soon"],
            "argument --timeout: must be seconds from 0 to 3600, not 'soon'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    shipped: Path, arguments: list[str], message: str
) -> None:
    completed = run(*arguments, "--db", str(shipped))
    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr.startswith(f"python -m ipam allocate: error: {message}")
    assert len(completed.stderr.splitlines()) == 1


def test_bad_databases_exit_1_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "never-created.db"
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("this is not SQLite " * 100)
    no_table = tmp_path / "empty.db"
    sqlite3.connect(no_table).execute("CREATE TABLE other (x)").connection.close()
    no_prefix = make_database(tmp_path / "np.db", [], "id INTEGER PRIMARY KEY, value TEXT")
    expected = {
        missing: f"database not found: {missing}",
        not_sqlite: f"cannot read database {not_sqlite}: file is not a database",
        no_table: f"{no_table} has no 'prefixes' table",
        no_prefix: f"table 'prefixes' in {no_prefix} has no 'prefix' column",
        tmp_path: f"database {tmp_path} is a directory, not a SQLite database file",
    }
    for database, message in expected.items():
        completed = run("10.0.0.0/8", "--length", "16", "--db", str(database))
        assert (completed.returncode, completed.stdout) == (1, ""), database
        assert completed.stderr == f"python -m ipam allocate: {message}\n"
    assert not missing.exists()  # never created


def test_a_database_locked_past_the_timeout_exits_1_and_inserts_nothing(shipped: Path) -> None:
    before = rows(shipped)
    holder = sqlite3.connect(shipped, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        completed = run("10.0.0.0/8", "--length", "16", "--timeout", "0", "--db", str(shipped))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"python -m ipam allocate: database {shipped} is locked: another writer held it past the "
        "timeout (--timeout); nothing allocated\n"
    )
    assert rows(shipped) == before


@pytest.mark.skipif(shared.CANNOT_SWITCH, reason=shared.CANNOT_SWITCH_REASON)
def test_a_read_only_database_or_directory_exits_1_naming_the_file() -> None:
    with shared.world_readable_directory() as scratch:
        for package in ("ipam", "servicekit"):
            shared.copy_readable(REPO_ROOT / package, scratch)
        directory = scratch / "data"
        directory.mkdir(mode=0o777)
        directory.chmod(0o777)
        database = Path(shutil.copyfile(SHIPPED, directory / "prefixes.db"))
        database.chmod(0o444)
        code = "import sys; from ipam.__main__ import main; sys.exit(main(sys.argv[1:]))"
        arguments = ("allocate", "10.0.0.0/8", "--length", "16", "--db", str(database))
        read_only_file = shared.run_python_as_nobody(scratch, code, *arguments)
        database.chmod(0o666)
        directory.chmod(0o555)
        read_only_directory = shared.run_python_as_nobody(scratch, code, *arguments)
        directory.chmod(0o777)
        uid = shared.NOBODY if shared.SWITCHES_USER else os.geteuid()
        assert (read_only_file.returncode, read_only_file.stderr) == (
            1,
            f"python -m ipam allocate: cannot write database {database}: permission denied on it "
            f"(this process runs as uid {uid}; SQLite writes its journal beside it)\n",
        )
        assert (read_only_directory.returncode, read_only_directory.stderr) == (
            1,
            f"python -m ipam allocate: cannot write database {database}: permission denied on "
            f"the directory of it (this process runs as uid {uid}; SQLite writes its journal "
            "beside it)\n",
        )
        assert rows(database) == rows(SHIPPED)


def test_on_a_read_only_mount_it_says_to_run_on_the_host(
    shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in the Compose stack, where database/ is mounted read-only."""

    class ReadOnly:
        f_flag = ipam.allocate.os.ST_RDONLY

    monkeypatch.setattr(ipam.allocate.os, "statvfs", lambda path: ReadOnly)
    assert main(["10.0.0.0/8", "--length", "16", "--db", str(shipped)]) == 1
    assert capsys.readouterr().err == (
        f"python -m ipam allocate: cannot write database {shipped}: it is on a read-only file "
        "system (the Compose stack mounts database/ read-only); run allocate on the host, in the "
        "checkout: python -m ipam allocate ...\n"
    )


def test_ctrl_c_before_the_commit_leaves_the_table_unchanged(
    shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = rows(shipped)
    texts: list[str] = []

    def interrupted_after_two_rows(block: int) -> str:
        if len(texts) == 2:
            raise KeyboardInterrupt
        texts.append(network_text(block))
        return texts[-1]

    monkeypatch.setattr(ipam.allocate, "network_text", interrupted_after_two_rows)
    assert main(["10.10.0.0/16", "--length", "24", "--count", "3", "--db", str(shipped)]) == 130
    assert capsys.readouterr() == ("", "")
    assert texts == ["10.10.0.0/24", "10.10.6.0/24"]  # two rows were inserted, then rolled back
    assert rows(shipped) == before


def test_a_trigger_that_refuses_a_row_rolls_every_row_back(
    shipped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = rows(shipped)
    with sqlite3.connect(shipped) as connection:
        connection.execute(
            "CREATE TRIGGER full BEFORE INSERT ON prefixes WHEN NEW.prefix = '10.10.6.0/24' "
            "BEGIN SELECT RAISE(ABORT, 'not that one'); END"
        )
    connection.close()
    assert main(["10.10.0.0/16", "--length", "24", "--count", "2", "--db", str(shipped)]) == 1
    assert capsys.readouterr().err == (
        f"python -m ipam allocate: cannot insert into {shipped}: not that one; nothing allocated\n"
    )
    assert rows(shipped) == before


@pytest.mark.parametrize(
    ("schema", "trigger", "message"),
    [
        (
            "id INTEGER PRIMARY KEY, prefix TEXT, locked TEXT UNIQUE",
            "",
            "UNIQUE constraint failed: prefixes.locked",
        ),
        (
            "id INTEGER PRIMARY KEY, prefix TEXT, locked TEXT",
            "SELECT RAISE(ABORT, 'prefix is locked by policy')",
            "prefix is locked by policy",
        ),
        (
            "id INTEGER PRIMARY KEY, prefix TEXT, locked TEXT",
            "SELECT RAISE(ABORT, 'database is locked')",  # a trigger's words, not a lock
            "database is locked",
        ),
    ],
)
def test_a_constraint_or_trigger_that_says_locked_is_not_a_lock(
    tmp_path: Path, schema: str, trigger: str, message: str
) -> None:
    database = make_database(tmp_path / "p.db", [(1, "10.0.0.0/8", "x")], schema)
    if trigger:
        with sqlite3.connect(database) as connection:
            connection.execute(
                "CREATE TRIGGER policy BEFORE INSERT ON prefixes WHEN NEW.prefix = '10.0.1.0/24' "
                f"BEGIN {trigger}; END"
            )
        connection.close()
    arguments = ("10.0.0.0/8", "--length", "24", "--count", "2", "--set", "locked=x")
    completed = run(*arguments, "--db", str(database))
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"python -m ipam allocate: cannot insert into {database}: {message}; nothing allocated\n"
    )
    assert rows(database) == [(1, "10.0.0.0/8")]


def test_busy_is_known_by_its_code_or_on_python_before_3_11_by_sqlites_exact_words() -> None:
    """Python 3.9 and 3.10 have no sqlite_errorcode: there, only SQLite's own message counts."""
    assert ipam.allocate._busy(sqlite3.OperationalError("database is locked"))
    for words in ("database table is locked", "prefix is locked by policy", "locked"):
        assert not ipam.allocate._busy(sqlite3.OperationalError(words))
    coded = sqlite3.OperationalError("anything")
    coded.sqlite_errorcode = 5 | 2 << 8  # type: ignore[attr-defined]  # SQLITE_BUSY_SNAPSHOT
    assert ipam.allocate._busy(coded)
    coded.sqlite_errorcode = 6  # type: ignore[attr-defined]  # SQLITE_LOCKED: not another process
    assert not ipam.allocate._busy(coded)


def hold_a_read(database: Path) -> sqlite3.Connection:
    """A connection inside a read transaction, as a long query holds one."""
    reader = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM prefixes").fetchall()
    return reader


def test_a_read_held_past_the_timeout_fails_the_commit_naming_the_readers(shipped: Path) -> None:
    """In rollback-journal mode the COMMIT waits for the readers (in the same loop as BEGIN
    waits for the writers), and says so when they outlast --timeout."""
    before = rows(shipped)
    reader = hold_a_read(shipped)
    try:
        completed = run("10.0.0.0/8", "--length", "16", "--timeout", "1", "--db", str(shipped))
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"python -m ipam allocate: database {shipped} is locked: readers held it past the timeout "
        "(--timeout): in rollback-journal mode a commit waits for every read in progress to end; "
        "nothing allocated\n"
    )
    assert rows(shipped) == before


def test_a_read_that_ends_within_the_timeout_is_waited_for(shipped: Path) -> None:
    reader = hold_a_read(shipped)
    release = threading.Timer(0.5, lambda: reader.execute("COMMIT"))
    release.start()
    try:
        completed = run("10.10.0.0/16", "--length", "24", "--timeout", "60", "--db", str(shipped))
    finally:
        release.join()
        reader.close()
    assert (completed.returncode, completed.stdout) == (0, "10.10.0.0/24        id 29\n")
    assert rows(shipped)[-1] == (29, "10.10.0.0/24")


class Clock:
    """time for ipam.allocate, on a clock that moves only when it sleeps: at 0.8 s the writer
    that holds the lock ends, and a reader begins, which stays."""

    def __init__(self, writer: sqlite3.Connection, database: Path) -> None:
        self.now = 0.0
        self.writer, self.database = writer, database
        self.reader: sqlite3.Connection | None = None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now >= 0.8 and self.reader is None:
            self.writer.execute("ROLLBACK")
            self.reader = hold_a_read(self.database)


def test_the_timeout_bounds_the_wait_for_the_writer_and_the_readers_together(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = rows(shipped)
    writer = sqlite3.connect(shipped, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    clock = Clock(writer, shipped)
    monkeypatch.setattr(ipam.allocate, "time", clock)
    try:
        completed = run("10.0.0.0/8", "--length", "16", "--timeout", "1", "--db", str(shipped))
    finally:
        assert clock.reader is not None
        clock.reader.close()
        writer.close()
    assert "readers held it past the timeout" in completed.stderr
    assert 0.8 <= clock.now <= 1.0  # one second in all, never one for each wait
    assert rows(shipped) == before


class FailingStatement:
    """A connection whose ``nth`` statement starting with ``start`` fails as on a full disk."""

    def __init__(self, connection: sqlite3.Connection, start: str, nth: int) -> None:
        self.connection, self.start, self.nth, self.seen = connection, start, nth, 0

    def execute(self, sql: str, *parameters: Any) -> sqlite3.Cursor:
        if sql.startswith(self.start):
            self.seen += 1
            if self.seen == self.nth:
                raise sqlite3.OperationalError("database or disk is full")
        return self.connection.execute(sql, *parameters)


@pytest.mark.parametrize(
    ("start", "nth"), [("COMMIT", 1), ("INSERT", 2)], ids=["the commit", "the second insert"]
)
def test_a_write_that_fails_is_one_line_and_nothing_is_kept(
    shipped: Path, start: str, nth: int
) -> None:
    before = rows(shipped)
    connection = connect_read_write(shipped, 1.0)
    failing = FailingStatement(connection, start, nth)
    with pytest.raises(RunError) as raised:
        allocate(failing, shipped, Request(key("10.0.0.0/8"), 16, 3))  # type: ignore[arg-type]
    connection.close()
    assert failing.seen == nth  # it failed where it was meant to
    assert str(raised.value) == (
        f"cannot write database {shipped}: database or disk is full; nothing allocated"
    )
    assert rows(shipped) == before


def test_help_says_what_allocate_does_and_what_each_option_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IPAM_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapped
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # one line
    assert text.startswith(
        "usage: python -m ipam allocate [-h] [--db DB] --length N [--count K] "
        "[--set COLUMN=VALUE] [--timeout SECONDS] [--json] PARENT "
        "Take the first K free /N blocks inside PARENT (those 'free PARENT --length N --limit K' "
        "shows) and insert one row per block, in one write transaction that locks out every "
        "other writer from its read to its commit: no two callers ever get the same block. "
        "Opens the database read-write: the one command that does. Exit status 3: fewer than K "
        "blocks free, nothing inserted. "
    )
    for line in (
        "PARENT the network to allocate inside, as in the table (it need not be in it)",
        "--db DB SQLite database with the prefixes table (env IPAM_DB, default "
        "database/prefixes.db)",
        "--length N the prefix length of the blocks, from PARENT's length to 32 (IPv6: 128)",
        "--count K how many blocks, all or none, at most 1,000,000 (default 1)",
        "--set COLUMN=VALUE a value for another column of the new rows, as text (repeatable)",
        "--timeout SECONDS how long to wait, in all, for other writers and (rollback-journal "
        "mode) for the readers a commit waits for, in seconds (default 120)",
        '--json JSON Lines: {"id": ..., "prefix": ...} per new row',
    ):
        assert line in text


def test_only_allocate_opens_a_database_read_write() -> None:
    """The services and the views stay read-only: one module opens read-write."""
    writers = sorted(
        str(path.relative_to(REPO_ROOT))
        for package in ("collector", "ipam", "servicekit")
        for path in (REPO_ROOT / package).rglob("*.py")
        if "tests" not in path.parts and "mode=rw" in path.read_text(encoding="utf-8")
    )
    assert writers == ["ipam/allocate.py"]


def test_read_errors_other_than_a_lock_are_the_readers_words(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(connection: sqlite3.Connection, query: str) -> list[tuple[object, ...]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ipam.allocate, "select_all", failing)
    connection = connect_read_write(shipped, 1.0)
    with pytest.raises(RunError) as raised:
        allocate(connection, shipped, Request(key("10.0.0.0/8"), 16, 1))
    connection.close()
    assert str(raised.value) == f"cannot read database {shipped}: disk I/O error"


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["10.10.0.0/16", "--length", "24"], 0, ""),
        (["10.10.0.0/16", "--length", "8"], 2, "error: argument --length: must be from 16"),
        (["10.10.0.0/16", "--length", "24", "--set", "x=1"], 2, "error: --set x: table"),
        (["10.10.1.0/24", "--length", "25"], 3, "0 free /25 in 10.10.1.0/24, 1 asked"),
        (["10.10.0.0/16", "--length", "24", "--db", "/nonexistent/p.db"], 1, "database not found"),
    ],
)
def test_every_exit_status_of_the_real_process(
    shipped: Path, arguments: list[str], status: int, message: str
) -> None:
    completed = run_process("--db", str(shipped), *arguments)
    assert completed.returncode == status
    assert completed.stderr.startswith(f"python -m ipam allocate: {message}" if message else "")
    assert len(completed.stderr.splitlines()) == (1 if message else 0)


def test_ctrl_c_in_the_real_process_while_it_waits_for_the_lock(shipped: Path) -> None:
    """SIGINT before the commit (here: waiting for another writer): 130, no traceback, and the
    table as it was."""
    before = rows(shipped)
    holder = sqlite3.connect(shipped, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        process = subprocess.Popen(
            [*ALLOCATE, "10.10.0.0/16", "--length", "24", "--db", str(shipped)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not Path(f"/proc/{process.pid}/fd").exists() or not any(
            os.readlink(fd).endswith("prefixes.db")
            for fd in Path(f"/proc/{process.pid}/fd").iterdir()
            if fd.is_symlink()
        ):  # opened: it waits for the lock from now on
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (process.returncode, out, err) == (130, "", "")
    assert rows(shipped) == before


def test_a_file_this_process_may_not_write_is_named_in_process(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the run as nobody shows, for any user SQLite would open the file read-only for."""
    monkeypatch.setattr(ipam.allocate.os, "access", lambda path, mode: path != shipped)
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(shipped))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: cannot write database {shipped}: permission denied on it "
        f"(this process runs as uid {os.geteuid()}; SQLite writes its journal beside it)\n"
    )


def test_the_largest_count_is_answered_without_making_every_block(shipped: Path) -> None:
    """At most K blocks are ever made: ::/0 holds 2**128 free /128s."""
    completed = run("203.0.113.0/24", "--length", "32", "--count", "1000000", "--db", str(shipped))
    assert (completed.returncode, completed.stdout) == (3, "")
    assert completed.stderr == (
        "python -m ipam allocate: 256 free /32 in 203.0.113.0/24, 1000000 asked: nothing "
        "allocated\n"
    )
    completed = run("::/0", "--length", "128", "--count", "3", "--json", "--db", str(shipped))
    assert completed.stdout.splitlines()[-1] == '{"id": 31, "prefix": "::2/128"}'


def test_set_in_this_process_leaves_other_nullable_columns_null(tmp_path: Path) -> None:
    """A value may hold '=': the column is what comes before the first one."""
    database = make_database(
        tmp_path / "p.db", [], "id INTEGER PRIMARY KEY, prefix TEXT, note TEXT, vlan INTEGER"
    )
    completed = run("10.0.0.0/8", "--length", "8", "--set", "note=a=b, 'c'", "--db", str(database))
    assert (completed.returncode, completed.stderr) == (0, "")
    assert rows(database, "id, prefix, note, vlan") == [(1, "10.0.0.0/8", "a=b, 'c'", None)]
    completed = run("11.0.0.0/8", "--length", "8", "--set", "VLAN=12", "--db", str(database))
    assert rows(database, "vlan, typeof(vlan)")[-1] == (12, "integer")  # the column's affinity


def test_a_block_as_long_as_parent_and_the_longest_wait(shipped: Path) -> None:
    completed = run("10.30.0.0/16", "--length", "16", "--timeout", "3600", "--db", str(shipped))
    assert (completed.returncode, completed.stdout) == (0, "10.30.0.0/16        id 29\n")


def test_a_directory_this_process_may_not_write_is_named_in_process(
    shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ipam.allocate.os, "access", lambda path, mode: path == shipped)
    completed = run("10.0.0.0/8", "--length", "16", "--db", str(shipped))
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam allocate: cannot write database {shipped}: permission denied on the "
        f"directory of it (this process runs as uid {os.geteuid()}; SQLite writes its journal "
        "beside it)\n"
    )


def test_the_connection_waits_as_told_and_leaves_transactions_to_allocate(shipped: Path) -> None:
    connection = connect_read_write(shipped, 7.5)
    try:
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (7500,)
        assert connection.isolation_level is None  # autocommit: allocate says BEGIN and COMMIT
    finally:
        connection.close()


def test_a_writer_that_commits_within_the_timeout_is_waited_for(shipped: Path) -> None:
    """allocate waits for the lock, then reads the table the other writer left; and the
    connection's busy timeout, 0 while allocate waits in its own loop, is as it was after."""
    holder = sqlite3.connect(shipped, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO prefixes (prefix) VALUES ('10.10.0.0/24')")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    connection = connect_read_write(shipped, 60.0)
    try:
        allocations = allocate(connection, shipped, Request(key("10.10.0.0/16"), 24, 1))
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (60000,)
    finally:
        connection.close()
        release.join()
        holder.close()
    assert allocations == [Allocation(30, "10.10.6.0/24")]  # 10.10.0.0/24 was taken meanwhile
