"""Reading the table: the database opened read-only, its columns, its key, and when it changed."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from collector import source
from collector.export import CUSTOMERS_CSV, LOCK_FILE, SNAPSHOT_CSV, run_once
from collector.tests.helpers import (
    AWKWARD_ROWS,
    REPO_ROOT,
    execute,
    generated_rows,
    make_database,
    read_records,
)
from servicekit.runs import RunError, perform_run
from servicekit.tests import helpers as shared


def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path, out: Path) -> None:
    missing = tmp_path / "no such dir?#" / "customers.db"
    with pytest.raises(RunError, match="database not found"):
        run_once(missing, out)
    assert not missing.exists()
    assert not missing.parent.exists()
    assert not (out / CUSTOMERS_CSV).exists()


def test_a_database_path_with_uri_characters_works(tmp_path: Path, out: Path) -> None:
    directory = tmp_path / "odd ?name#%20"
    directory.mkdir()
    db = make_database(directory / "c.db", AWKWARD_ROWS)
    assert run_once(db, out).rows == 5


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("CREATE TABLE clients (id INTEGER PRIMARY KEY, job TEXT)", "no 'customers' table"),
        ("CREATE TABLE customers (id INTEGER PRIMARY KEY, occupation TEXT)", "no 'job' column"),
    ],
)
def test_missing_table_or_job_column_is_fatal(
    tmp_path: Path, out: Path, schema: str, message: str
) -> None:
    db = tmp_path / "c.db"
    execute(db, schema)
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert list(out.iterdir()) == [out / LOCK_FILE]


def test_job_is_renamed_in_place_whatever_the_column_order(tmp_path: Path, out: Path) -> None:
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (job TEXT, id INTEGER PRIMARY KEY, jobs TEXT)")
    execute(db, "INSERT INTO customers VALUES ('Pilot', 7, 'x')")
    run_once(db, out)
    assert read_records(out / CUSTOMERS_CSV) == [["occupation", "id", "jobs"], ["Pilot", "7", "x"]]


def test_wal_mode_is_compared_in_full_every_run(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 10))
    execute(db, "PRAGMA journal_mode=WAL")
    writer = sqlite3.connect(db)  # keeps the -wal file alive with committed rows in it
    writer.execute("PRAGMA wal_autocheckpoint=0")
    run_once(db, out)
    writer.execute("INSERT INTO customers VALUES (100, 'n', 'a', 'e', 'p', 'c', 'j')")
    writer.commit()
    result = run_once(db, out)
    assert result.written
    assert result.appended == 1
    assert read_records(out / CUSTOMERS_CSV)[-1][0] == "100"
    assert run_once(db, out).written  # never trusted in WAL mode
    writer.close()


def test_any_commit_to_the_database_is_seen_even_with_size_and_mtime_kept(
    tmp_path: Path, out: Path
) -> None:
    """SQLite's change counter moves with every commit: the database identity alone is not it."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 4))
    run_once(db, out)
    status = db.stat()
    execute(db, "UPDATE customers SET name = 'Name X' WHERE id = 2")  # same size, one page
    os.utime(db, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert db.stat().st_size == status.st_size
    result = run_once(db, out)
    assert (result.written, result.changed) == (True, 1)
    assert not run_once(db, out).written


def test_a_writer_holding_the_database_delays_the_run_instead_of_failing_it(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO customers VALUES (6, 'n', 'a', 'e', 'p', 'c', 'j')")
    releaser = threading.Timer(0.5, writer.execute, args=("COMMIT",))
    releaser.start()
    try:
        result = run_once(db, out)  # blocks on the exclusive lock, then reads the commit
    finally:
        releaser.join()
        writer.close()
    assert result.rows == 6


def test_a_file_that_is_not_a_database_is_named_in_the_error_and_left_alone(
    tmp_path: Path, out: Path
) -> None:
    not_a_database = tmp_path / "customers.db"
    not_a_database.write_bytes(b"id,name\r\n1,a\r\n" * 100)
    with pytest.raises(RunError, match=f"cannot read database {not_a_database}: "):
        run_once(not_a_database, out)
    assert not_a_database.read_bytes() == b"id,name\r\n1,a\r\n" * 100
    assert list(out.iterdir()) == [out / LOCK_FILE]


def test_a_generated_column_is_a_column_like_any_other(tmp_path: Path, out: Path) -> None:
    """PRAGMA table_info leaves generated columns out; SELECT * and the CSVs do not."""
    db = tmp_path / "c.db"
    execute(
        db,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT,"
        " shout TEXT GENERATED ALWAYS AS (upper(job)) VIRTUAL, n INT)",
    )
    execute(db, "INSERT INTO customers (id, job, n) VALUES (1, 'pilot', 7)")
    run_once(db, out)
    expected = [["id", "occupation", "shout", "n"], ["1", "pilot", "PILOT", "7"]]
    assert read_records(out / CUSTOMERS_CSV) == expected
    assert read_records(out / SNAPSHOT_CSV) == expected


@pytest.mark.skipif(shared.CANNOT_SWITCH, reason=shared.CANNOT_SWITCH_REASON)
def test_a_wal_database_in_a_read_only_directory_gets_a_clear_error() -> None:
    """Compose mounts database/ read-only; a WAL database there needs its -shm, which SQLite
    cannot create: say that, and how to fix it, not "attempt to write a readonly database".

    Root ignores directory permissions, so nobody runs the collector, from copies of the packages
    in a directory it may enter (the checkout and pytest's tmp_path may be out of its reach)."""
    with shared.world_readable_directory() as scratch:
        for package in ("collector", "servicekit"):
            shared.copy_readable(REPO_ROOT / package, scratch)
        directory = scratch / "database"
        directory.mkdir()
        db = make_database(directory / "c.db", AWKWARD_ROWS)
        execute(db, "PRAGMA journal_mode=WAL", "DELETE FROM customers WHERE id = 1")
        assert not Path(f"{db}-shm").exists()  # the last connection closed removed it
        db.chmod(0o644)
        output = scratch / "output"
        output.mkdir()
        output.chmod(0o777)
        directory.chmod(0o555)
        code = "import sys; from collector.__main__ import main; sys.exit(main(sys.argv[1:]))"
        completed = shared.run_python_as_nobody(
            scratch, code, "--once", "--db", str(db), "--output-dir", str(output)
        )
    assert completed.returncode == 1, completed.stderr
    assert (
        f"run failed: cannot read database {db}: it is in WAL mode, and SQLite cannot create "
        f"c.db-shm beside it (read-only directory); convert it once with: sqlite3 {db} "
        "'PRAGMA journal_mode=DELETE'"
    ) in completed.stderr


def test_a_database_replaced_while_a_run_waits_for_a_writer_is_read_again_next_run(
    tmp_path: Path, out: Path
) -> None:
    """The run reads the file it opened; it must not record the newcomer's identity as read."""
    db = make_database(tmp_path / "customers.db", generated_rows(1, 4))
    run_once(db, out)
    newer = make_database(tmp_path / "newer.db", generated_rows(1, 6))
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    results = []
    waiting = threading.Thread(target=lambda: results.append(run_once(db, out)))
    waiting.start()
    try:
        threading.Event().wait(0.5)  # the run is now waiting for the writer's lock
        os.replace(newer, db)
        threading.Event().wait(0.3)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        waiting.join(timeout=60)
    assert [result.rows for result in results] == [3]  # it read the file it had opened
    again = run_once(db, out)
    assert (again.rows, again.appended, again.written) == (5, 2, True)
    assert [r[0] for r in read_records(out / CUSTOMERS_CSV)[1:]] == ["1", "2", "3", "4", "5"]


def test_a_path_that_starts_with_two_slashes_is_a_path(tmp_path: Path, out: Path) -> None:
    """``$ROOT/customers.db`` with ROOT=/ gives //...: a path, not a URI authority."""
    db = make_database(tmp_path / "customers.db", generated_rows(1, 3))
    assert run_once(Path("/" + str(db)), out).rows == 2


def leave_a_hot_journal(db: Path) -> None:
    """A writer killed in the middle of a transaction that had spilled pages to the file."""
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=1')\n"
        "c.execute('BEGIN')\n"
        "for i in range(100, 3000):\n"
        "    c.execute('INSERT INTO customers VALUES (?,?,?,?,?,?,?)', (i, *['x' * 99] * 6))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)
    assert Path(f"{db}-journal").stat().st_size > 0


def test_a_hot_journal_is_named_with_how_to_roll_it_back(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "customers.db", generated_rows(1, 4))
    leave_a_hot_journal(db)
    with pytest.raises(RunError, match=r"left customers\.db-journal.*PRAGMA quick_check"):
        run_once(db, out)
    assert [path.name for path in out.iterdir()] == [LOCK_FILE]
    execute(db, "PRAGMA quick_check")  # what the message says, through a read-write connection
    assert run_once(db, out).rows == 3  # rolled back: the killed writer's rows never existed


class ClosingFails:
    """``os`` as collector/source.py sees it, but its close of a descriptor fails with EIO
    after closing it (as on an NFS mount)."""

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    @staticmethod
    def close(fd: int) -> None:
        os.close(fd)
        raise OSError(errno.EIO, "Input/output error")


def test_a_database_that_fails_to_close_after_the_run_is_a_warning_naming_it(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is closed once every output is published: an EIO there once failed the
    run with "OSError: [Errno 5] Input/output error", naming no file."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    monkeypatch.setattr(source, "os", ClosingFails())
    outcome = perform_run(partial(run_once, db, out))
    assert outcome.status == "ok", outcome.error
    assert (outcome.status, outcome.details["appended"]) == ("ok", "5")
    assert outcome.warnings == (f"cannot close database {db}: Input/output error",)


def test_a_database_that_fails_to_close_keeps_the_error_that_failed_the_run(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_database(
        tmp_path / "c.db", [], "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"
    )
    monkeypatch.setattr(source, "os", ClosingFails())
    outcome = perform_run(partial(run_once, db, out))
    assert outcome.error == "the 'customers' table has no 'job' column (it has: id, name)"
    assert outcome.warnings == (f"cannot close database {db}: Input/output error",)


class HeaderReadFails:
    """``os`` as source.py sees it, but reading the database's header fails with EIO."""

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    @staticmethod
    def pread(fd: int, length: int, offset: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")


def test_a_header_that_cannot_be_read_fails_the_run_naming_the_database(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header (its change counter) is read once the table is known: an EIO there once gave
    "OSError: [Errno 5] Input/output error", naming no file. No output is written."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    monkeypatch.setattr(source, "os", HeaderReadFails())
    outcome = perform_run(partial(run_once, db, out))
    assert outcome.error == f"cannot read database {db}: Input/output error"
    assert not (out / CUSTOMERS_CSV).exists()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), "database not found: {db}"),
        (
            PermissionError(errno.EACCES, "Permission denied"),
            "cannot read database {db}: Permission denied",
        ),
    ],
)
def test_a_database_that_goes_between_its_check_and_its_open_is_named(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, message: str
) -> None:
    """Removed, or made unreadable, after the path was checked and before it was opened."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)

    class OpenFails(HeaderReadFails):
        @staticmethod
        def open(path: object, flags: int) -> int:
            raise error

    monkeypatch.setattr(source, "os", OpenFails())
    outcome = perform_run(partial(run_once, db, out))
    assert outcome.error == message.format(db=db)
    assert not (out / CUSTOMERS_CSV).exists()
