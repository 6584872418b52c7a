"""Export runs end to end: create, append by key, never rewrite, recover, refuse bad input."""

from __future__ import annotations

import csv
import errno
import gc
import logging
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import export
from collector.csvfile import RECORD_END, EncodedBatch, encode_batch
from collector.export import (
    CUSTOMERS_CSV,
    KEPT_FILE,
    LOCK_FILE,
    SNAPSHOT_CSV,
    STATE_FILE,
    TORN_FILE,
    run_once,
)
from collector.tests.helpers import (
    AWKWARD_ROWS,
    HEADER,
    Row,
    as_sqlite,
    csv_text,
    execute,
    generated_rows,
    make_database,
    read_records,
)
from servicekit.runs import RunError, perform_run
from servicekit.tests.helpers import fail_close_of


def files(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def test_first_run_writes_header_and_every_row_in_key_order(tmp_path: Path, out: Path) -> None:
    shuffled = [AWKWARD_ROWS[i] for i in (3, 0, 4, 2, 1)]
    db = make_database(tmp_path / "c.db", shuffled)
    result = run_once(db, out)
    assert (result.rows, result.appended, result.changed, result.deleted) == (5, 5, 0, 0)
    expected = [HEADER, *csv_text(AWKWARD_ROWS)]
    assert read_records(out / CUSTOMERS_CSV) == expected
    assert read_records(out / SNAPSHOT_CSV) == expected
    raw = (out / CUSTOMERS_CSV).read_bytes()
    assert raw.startswith(b"id,name,address,email,phone,company,occupation\r\n")
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM
    assert raw.endswith(b"\r\n")
    assert sorted(p.name for p in out.iterdir()) == [
        LOCK_FILE,
        STATE_FILE,
        CUSTOMERS_CSV,
        SNAPSHOT_CSV,
    ]


def test_a_rerun_with_nothing_new_leaves_every_file_byte_identical(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    before = files(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = run_once(db, out)
    assert not result.written and result.appended == 0
    assert files(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


@pytest.mark.parametrize("with_state", [True, False])
def test_only_rows_with_new_keys_are_appended_even_below_the_largest_id(
    tmp_path: Path, out: Path, with_state: bool
) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(10, 20))
    run_once(db, out)
    if not with_state:
        (out / STATE_FILE).unlink()
    execute(db, "DELETE FROM customers WHERE id = 15")
    make_rows = generated_rows(1, 3) + generated_rows(15, 16) + generated_rows(25, 27)
    with sqlite3.connect(db) as connection:
        connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", make_rows)
    connection.close()
    # id 15 was written, deleted, then inserted again: its key is in the file, so it is not new.
    result = run_once(db, out)
    assert result.appended == 4
    expected = [HEADER, *csv_text(generated_rows(10, 20)), *csv_text(generated_rows(1, 3))]
    expected += csv_text(generated_rows(25, 27))
    assert read_records(out / CUSTOMERS_CSV) == expected


@pytest.mark.parametrize("with_state", [True, False])
def test_changed_and_deleted_rows_are_counted_never_rewritten(
    tmp_path: Path, out: Path, with_state: bool
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    original = (out / CUSTOMERS_CSV).read_bytes()
    if not with_state:
        (out / STATE_FILE).unlink()
    execute(db, "UPDATE customers SET job = 'Astronaut' WHERE id IN (1, 2)")
    execute(db, "UPDATE customers SET phone = phone WHERE id = 3")  # same value: not a change
    execute(db, "DELETE FROM customers WHERE id IN (4, 5)")
    result = run_once(db, out)
    assert (result.rows, result.appended, result.changed, result.deleted) == (3, 0, 2, 2)
    assert (out / CUSTOMERS_CSV).read_bytes() == original
    snapshot = read_records(out / SNAPSHOT_CSV)
    assert [record[0] for record in snapshot[1:]] == ["1", "2", "3"]
    assert snapshot[1][6] == "Astronaut"
    # The counts stay right on the next run, which finds nothing changed.
    again = run_once(db, out)
    assert not again.written
    assert (again.changed, again.deleted, again.appended) == (2, 2, 0)


def test_a_changed_row_that_changes_back_is_no_longer_counted(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    execute(db, "UPDATE customers SET name = 'Someone Else' WHERE id = 1")
    assert run_once(db, out).changed == 1
    execute(db, "UPDATE customers SET name = 'Patrick Smith' WHERE id = 1")
    assert run_once(db, out).changed == 0


def test_the_snapshot_follows_the_table_and_is_always_complete(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 50))
    for step in range(3):
        run_once(db, out)
        with sqlite3.connect(db) as connection:
            expected = connection.execute("SELECT * FROM customers ORDER BY id").fetchall()
        connection.close()
        assert read_records(out / SNAPSHOT_CSV) == [HEADER, *csv_text(expected)]
        execute(db, f"DELETE FROM customers WHERE id % 5 = {step}")
        execute(db, f"UPDATE customers SET name = 'step {step}' WHERE id % 7 = 0")
    # No temp file is ever left behind by a run that completed.
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_foreign_header_is_refused_and_the_file_left_untouched(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    foreign = b"id,name,job\r\n1,a,b\r\n"
    (out / CUSTOMERS_CSV).write_bytes(foreign)
    with pytest.raises(RunError, match="expected header"):
        run_once(db, out)
    assert (out / CUSTOMERS_CSV).read_bytes() == foreign
    assert not (out / SNAPSHOT_CSV).exists()


def test_a_missing_output_directory_is_fatal(tmp_path: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with pytest.raises(RunError):
        run_once(db, tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    "columns",
    [
        "name TEXT, job TEXT",  # no primary key
        "a TEXT, b INTEGER, job TEXT, PRIMARY KEY (b, a)",  # a composite key
        "code TEXT PRIMARY KEY, job TEXT",  # a key of another type
        "id INT PRIMARY KEY, job TEXT",  # INT, not INTEGER: not the rowid, may hold text
    ],
)
def test_a_table_without_one_integer_primary_key_is_one_clear_error(
    tmp_path: Path, out: Path, columns: str
) -> None:
    db = tmp_path / "c.db"
    execute(db, f"CREATE TABLE customers ({columns})")
    with pytest.raises(RunError, match="must have one INTEGER PRIMARY KEY column"):
        run_once(db, out)
    assert [path.name for path in out.iterdir()] == [LOCK_FILE]


@pytest.mark.parametrize(
    "create",
    [
        "CREATE TABLE customers (id INTEGER PRIMARY KEY DESC, job TEXT)",
        "CREATE TABLE customers (job TEXT, id integer primary key desc unique)",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT) WITHOUT ROWID",
    ],
)
def test_an_integer_primary_key_that_is_not_the_rowid_is_refused_writing_nothing(
    tmp_path: Path, out: Path, create: str
) -> None:
    """SQLite's quirk: such a key is an ordinary column, which may hold text (and NULL, but for
    WITHOUT ROWID), so its values are not the integer keys the comparison relies on."""
    db = tmp_path / "c.db"
    execute(db, create, "INSERT INTO customers (id, job) VALUES (1, 'x')")
    with pytest.raises(RunError) as refused:
        run_once(db, out)
    assert str(refused.value) == (
        "the 'customers' table must have one INTEGER PRIMARY KEY column, as the exercise's 'id' "
        "(its key: id, declared DESC or in a WITHOUT ROWID table, is not the rowid)"
    )
    assert [path.name for path in out.iterdir()] == [LOCK_FILE]


@pytest.mark.parametrize(
    "columns",
    [
        "id INTEGER PRIMARY KEY ASC, job TEXT",
        "id Integer, job TEXT, PRIMARY KEY (id DESC)",  # the quirk is the column constraint's only
        "job TEXT, ID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE",
    ],
)
def test_every_spelling_of_a_rowid_key_is_written_by_it(
    tmp_path: Path, out: Path, columns: str
) -> None:
    db = tmp_path / "c.db"
    execute(db, f"CREATE TABLE customers ({columns})")
    execute(db, "INSERT INTO customers (id, job) VALUES (2, 'y'), (1, 'x')")
    run_once(db, out)
    header, *records = read_records(out / CUSTOMERS_CSV)
    job = header.index("occupation")
    assert [record[job] for record in records] == ["x", "y"]


def test_column_names_match_without_regard_to_case_as_in_sqlite(tmp_path: Path, out: Path) -> None:
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (ID integer primary key, Name TEXT, JOB TEXT)")
    execute(db, "INSERT INTO customers VALUES (1, 'a', 'x')")
    run_once(db, out)
    assert read_records(out / CUSTOMERS_CSV) == [["ID", "Name", "occupation"], ["1", "a", "x"]]


def test_a_table_with_both_job_and_occupation_is_refused(tmp_path: Path, out: Path) -> None:
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT, Occupation TEXT)")
    with pytest.raises(RunError, match="both 'job' and 'occupation' columns"):
        run_once(db, out)


@pytest.mark.parametrize("same_size", [True, False])
def test_the_state_is_not_trusted_when_the_csv_changed_behind_its_back(
    tmp_path: Path, out: Path, same_size: bool
) -> None:
    """An edit moves the mtime (or the size): the rows are read from the file, not the state."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 4))
    run_once(db, out)
    path = out / CUSTOMERS_CSV
    status = path.stat()
    edit = b"\r\n9," if same_size else b"\r\n99,"
    path.write_bytes(path.read_bytes().replace(b"\r\n3,", edit))  # the file now claims 9, not 3
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    result = run_once(db, out)
    assert result.appended == 2  # 3 and 50: what the file holds decides, not the state
    assert [r[0] for r in read_records(path)[1:]] == ["1", "2", edit[2:-1].decode(), "3", "50"]


def test_an_unchanged_database_with_a_deleted_snapshot_rewrites_it(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    expected = (out / SNAPSHOT_CSV).read_bytes()
    (out / SNAPSHOT_CSV).unlink()
    assert run_once(db, out).written
    assert (out / SNAPSHOT_CSV).read_bytes() == expected


@given(cut=st.integers(min_value=1, max_value=100_000))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_torn_append_at_any_offset_recovers_without_loss_or_duplicate(
    tmp_path_factory: pytest.TempPathFactory, cut: int
) -> None:
    """Simulate a run killed mid-append: the file ends with part of the appended bytes."""
    base = tmp_path_factory.mktemp("torn")
    out = base / "output"
    out.mkdir()
    db = make_database(base / "c.db", [*AWKWARD_ROWS, *generated_rows(6, 20)])
    run_once(db, out)
    path = out / CUSTOMERS_CSV
    before = path.read_bytes()
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", generated_rows(20, 40)
        )
    connection.close()
    run_once(db, out)
    after = path.read_bytes()
    appended = after[len(before) :]
    kept = cut % len(appended)
    path.write_bytes(before + appended[:kept])
    record_ends = [0]
    for record in encode_batch(as_sqlite(generated_rows(20, 40)), 0).records:
        record_ends.append(record_ends[-1] + len(record) + 2)
    torn = kept - max(end for end in record_ends if end <= kept)
    result = run_once(db, out)
    assert result.torn_bytes_removed == torn
    with sqlite3.connect(db) as connection:
        everything = connection.execute("SELECT * FROM customers ORDER BY id").fetchall()
    connection.close()
    assert read_records(path) == [HEADER, *csv_text(everything)]
    assert path.read_bytes() == after


def test_a_corrupt_state_file_is_ignored_not_trusted(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 20))
    run_once(db, out)
    (out / STATE_FILE).write_bytes(b'{"version": 1, "garbage": true}\nnot json\n')
    execute(db, "INSERT INTO customers VALUES (99, 'n', 'a', 'e', 'p', 'c', 'j')")
    result = run_once(db, out)
    assert (result.appended, result.rows) == (1, 20)
    assert [r[0] for r in read_records(out / CUSTOMERS_CSV)[1:]] == [
        str(i) for i in range(1, 20)
    ] + ["99"]


@pytest.mark.parametrize("last", [True, False])
def test_a_value_longer_than_the_csv_readers_default_limit_is_read_back(
    tmp_path: Path, out: Path, last: bool
) -> None:
    """csv.reader's 128 KiB field limit must not make a long value look like damage."""
    limit = csv.field_size_limit()
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT)")
    long_id, short_id = (2, 1) if last else (1, 2)
    execute(db, "INSERT INTO customers VALUES (?, ?)", parameters=(long_id, "y" * 200_000))
    execute(db, "INSERT INTO customers VALUES (?, 'x')", parameters=(short_id,))
    run_once(db, out)
    original = (out / CUSTOMERS_CSV).read_bytes()
    (out / STATE_FILE).unlink()  # the next run must read customers.csv itself
    execute(db, "INSERT INTO customers VALUES (3, 'z')")
    result = run_once(db, out)
    assert (result.appended, result.changed, result.torn_bytes_removed) == (1, 0, 0)
    assert (out / CUSTOMERS_CSV).read_bytes() == original + b"3,z\r\n"
    assert csv.field_size_limit() == limit  # the process-wide setting is put back


def test_a_run_failing_halfway_takes_back_what_it_appended(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error after some batches (a full disk: below): customers.csv is left as found."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 11))
    run_once(db, out)
    before = files(out)
    with sqlite3.connect(db) as connection:  # three batches of new rows
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", generated_rows(11, 12_011)
        )
    connection.close()
    calls: list[int] = []

    def encode_then_fail(rows: Sequence[Row], key_position: int) -> EncodedBatch:
        calls.append(len(rows))
        if len(calls) == 3:
            assert (out / CUSTOMERS_CSV).stat().st_size > len(before[CUSTOMERS_CSV])
            raise sqlite3.OperationalError("disk I/O error")
        return encode_batch(rows, key_position)

    monkeypatch.setattr("collector.export.encode_batch", encode_then_fail)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        run_once(db, out)
    assert files(out) == before
    monkeypatch.undo()
    assert run_once(db, out).appended == 12_000
    assert len(read_records(out / CUSTOMERS_CSV)) == 1 + 12_010


@pytest.mark.parametrize("with_state", [True, False])
def test_an_empty_table_gives_header_only_files_then_appends_its_first_row(
    tmp_path: Path, out: Path, with_state: bool
) -> None:
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT)")
    result = run_once(db, out)
    assert (result.rows, result.appended) == (0, 0)
    assert (out / CUSTOMERS_CSV).read_bytes() == b"id,occupation\r\n"
    assert (out / SNAPSHOT_CSV).read_bytes() == b"id,occupation\r\n"
    if not with_state:
        (out / STATE_FILE).unlink()
    assert run_once(db, out).written != with_state
    execute(db, "INSERT INTO customers VALUES (1, 'a')")
    assert run_once(db, out).appended == 1
    assert (out / CUSTOMERS_CSV).read_bytes() == b"id,occupation\r\n1,a\r\n"


def test_an_existing_customers_csv_with_only_the_header_gets_every_row(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    header = b"id,name,address,email,phone,company,occupation\r\n"
    (out / CUSTOMERS_CSV).write_bytes(header)
    inode = (out / CUSTOMERS_CSV).stat().st_ino
    result = run_once(db, out)
    assert (result.appended, result.deleted, result.torn_bytes_removed) == (5, 0, 0)
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(AWKWARD_ROWS)]
    assert (out / CUSTOMERS_CSV).stat().st_ino == inode  # appended to, not replaced


def test_a_torn_tail_is_cut_and_logged_even_with_nothing_to_append(
    tmp_path: Path, out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    path = out / CUSTOMERS_CSV
    complete = path.read_bytes()
    path.write_bytes(complete + b'6,"half a re')
    with caplog.at_level(logging.WARNING, logger="collector"):
        result = run_once(db, out)
    assert (result.appended, result.torn_bytes_removed) == (0, 12)
    assert path.read_bytes() == complete
    assert len(caplog.records) == 1
    assert caplog.records[0].levelname == "WARNING"
    message = caplog.records[0].getMessage()
    assert "ended with 12 bytes of an incomplete record" in message
    assert f"the cut bytes kept in {out / TORN_FILE}" in message
    assert (out / TORN_FILE).read_bytes() == b'6,"half a re'


def test_a_last_record_without_its_line_break_is_cut_but_not_lost(
    tmp_path: Path, out: Path
) -> None:
    """Saved by an editor without the final CRLF, then deleted from the table: its bytes stay."""
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    path = out / CUSTOMERS_CSV
    complete = path.read_bytes()
    last = encode_batch(as_sqlite(AWKWARD_ROWS[-1:]), 0).records[0]
    path.write_bytes(complete[: -len(RECORD_END)])
    execute(db, f"DELETE FROM customers WHERE id = {AWKWARD_ROWS[-1][0]}")
    result = run_once(db, out)
    assert (result.appended, result.deleted, result.torn_bytes_removed) == (0, 0, len(last))
    assert path.read_bytes() == complete[: -len(last) - len(RECORD_END)]
    path.write_bytes(path.read_bytes() + b"7,torn")  # a second cut is added after the first
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == last + b"7,torn"


def test_text_that_is_not_utf8_is_written_with_u_fffd_and_its_ids_logged(
    tmp_path: Path, out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad row must not stop the export: its bad bytes become U+FFFD, as ipam reads them."""
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, job TEXT)")
    execute(db, "INSERT INTO customers VALUES (1, 'Zoë', '技師')")
    for row_id in range(2, 10):
        execute(db, f"INSERT INTO customers VALUES ({row_id}, CAST(x'4cfc6e' AS TEXT), 'a,b')")
    with caplog.at_level(logging.WARNING, logger="collector"):
        result = run_once(db, out)
    assert result.rows == 9
    bad = b'Lxn,"a,b"'.replace(b"x", "\ufffd".encode())
    expected = "id,name,occupation\r\n1,Zoë,技師\r\n".encode()
    expected += b"".join(b"%d,%s\r\n" % (row_id, bad) for row_id in range(2, 10))
    assert (out / CUSTOMERS_CSV).read_bytes() == expected
    assert (out / SNAPSHOT_CSV).read_bytes() == expected
    [warning] = caplog.records
    assert "8 rows hold TEXT that is not valid UTF-8" in warning.getMessage()
    assert "keys 2,3,4,5,6,+3more" in warning.getMessage()
    caplog.clear()
    (out / STATE_FILE).unlink()  # read back from the file: the same keys, nothing new or changed
    result = run_once(db, out)
    assert (result.appended, result.changed, result.deleted) == (0, 0, 0)


def test_a_run_pauses_the_cyclic_gc_and_gives_it_back(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    during: list[bool] = []

    def encode_and_look(rows: Sequence[Row], key_position: int) -> EncodedBatch:
        during.append(gc.isenabled())
        return encode_batch(rows, key_position)

    monkeypatch.setattr(export, "encode_batch", encode_and_look)
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    assert during == [False]
    assert gc.isenabled()
    with pytest.raises(RunError):  # a failed run gives it back too
        run_once(tmp_path / "missing.db", out)
    assert gc.isenabled()
    gc.disable()  # and a caller that had paused it keeps it paused
    try:
        run_once(db, out)
        assert not gc.isenabled()
    finally:
        gc.enable()


def output_files(out: Path) -> dict[str, bytes]:
    """Every regular file of the output directory, and its bytes, but the lock, the state (a
    failed run may leave a state that describes files it did not leave: see test_state.py) and
    the record of the torn tail kept last (which a failed run leaves for the next: test_torn.py)."""
    return {
        path.name: path.read_bytes()
        for path in sorted(out.iterdir())
        if path.is_file() and path.name not in (LOCK_FILE, STATE_FILE, KEPT_FILE)
    }


@pytest.mark.parametrize("blocked", [SNAPSHOT_CSV, STATE_FILE])
@pytest.mark.parametrize("torn", [b"", b'9,"half a rec'])
def test_a_run_that_fails_after_appending_changes_no_output_file(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, blocked: str, torn: bytes
) -> None:
    """The snapshot or the state cannot be replaced (a directory appears there as the state is
    saved): the failed run leaves every output as it found it. The snapshot stays the old one
    (it once held the new customer, who then never reached customers.csv if deleted before the
    next run), and a torn tail it cut goes back, with customers.csv.torn as it was."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 5))
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(torn)
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    before = output_files(out)
    save_state = export.save_state

    def block_then_save(*args: object) -> None:
        (out / blocked).unlink()
        (out / blocked).mkdir()
        save_state(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("collector.export.save_state", block_then_save)
    message = f"^cannot write {re.escape(str(out / blocked))}: Is a directory$"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    (out / blocked).rmdir()
    if blocked == SNAPSHOT_CSV:  # the old one, as the test's setup moved it away
        (out / blocked).write_bytes(before[blocked])
    assert output_files(out) == before
    left = {path.name for path in out.iterdir()} - {STATE_FILE, KEPT_FILE}
    assert left == {*before, LOCK_FILE}  # and no temp file
    monkeypatch.undo()
    result = run_once(db, out)
    assert (result.appended, result.torn_bytes_removed) == (1, len(torn))
    assert read_records(out / CUSTOMERS_CSV)[-1][0] == "50"


@pytest.mark.parametrize("blocked", [SNAPSHOT_CSV, STATE_FILE, TORN_FILE])
def test_a_directory_where_an_output_belongs_is_refused_before_anything_is_written(
    tmp_path: Path, out: Path, blocked: str
) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 5))
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(b"9,torn")
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    (out / blocked).unlink(missing_ok=True)
    (out / blocked).mkdir()
    before = output_files(out)
    message = f"^{re.escape(str(out / blocked))} is a directory, not a regular file; it is left"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert output_files(out) == before


def test_an_empty_customers_csv_is_a_file_with_no_records_yet(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    (out / CUSTOMERS_CSV).touch()
    assert run_once(db, out).appended == len(AWKWARD_ROWS)
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(AWKWARD_ROWS)]


NUM_ID_SCHEMA = "CREATE TABLE customers (id INTEGER PRIMARY KEY, num INTEGER, job TEXT)"
NUM_KEY_SCHEMA = "CREATE TABLE customers (id INTEGER, num INTEGER PRIMARY KEY, job TEXT)"


@pytest.mark.parametrize("with_state", [True, False])
def test_a_key_moved_to_another_column_is_read_from_the_file_not_the_state(
    tmp_path: Path, out: Path, with_state: bool
) -> None:
    """The same header, another key column. The state's keys are the old
    column's values; used for the new column, rows 1 and 2 came back and (3,1,'c') never did."""
    db = make_database(tmp_path / "c.db", [(1, 100, "a"), (2, 200, "b")], NUM_ID_SCHEMA)
    run_once(db, out)
    db.unlink()
    make_database(db, [(1, 100, "a"), (2, 200, "b"), (3, 1, "c")], NUM_KEY_SCHEMA)
    if not with_state:
        (out / STATE_FILE).unlink()
    assert run_once(db, out).appended == 1
    expected = [["id", "num", "occupation"], ["1", "100", "a"], ["2", "200", "b"], ["3", "1", "c"]]
    assert read_records(out / CUSTOMERS_CSV) == expected
    assert run_once(db, out).appended == 0
    assert read_records(out / CUSTOMERS_CSV) == expected


def fail_fsync_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The first fsync of ``name`` (or of a temp file for it) fails as on a full disk."""
    real_fsync = os.fsync
    failed: list[str] = []

    def fsync(fd: int) -> None:
        synced = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if not failed and (synced == name or synced.startswith(f".{name}.")):
            failed.append(synced)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize(
    ("full", "step"),
    [
        (CUSTOMERS_CSV, "append to"),
        (SNAPSHOT_CSV, "write"),
        (STATE_FILE, "write"),
        (TORN_FILE, "keep the incomplete last record in"),
    ],
)
def test_a_full_disk_names_the_file_and_the_step_and_changes_no_output(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, full: str, step: str
) -> None:
    """Each file's fsync fails with ENOSPC in turn (the state's: where the issue found it, room
    for the new snapshot but not for the state): the run fails with one line naming the file
    and the step, as ipam's "cannot write output/prefixes.json: ...", where it said only
    "OSError: [Errno 28] No space left on device"."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 5))
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(b"9,torn")
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    before = output_files(out)
    fail_fsync_once(monkeypatch, full)
    message = f"^cannot {step} {re.escape(str(out / full))}: No space left on device$"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert output_files(out) == before
    assert not [path for path in out.iterdir() if path.name.endswith(".tmp")]
    monkeypatch.undo()
    assert run_once(db, out).appended == 1


@pytest.mark.parametrize("full", [CUSTOMERS_CSV, SNAPSHOT_CSV])
def test_a_first_run_that_fails_on_a_full_disk_names_the_file_and_leaves_no_output(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, full: str
) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 5))
    fail_fsync_once(monkeypatch, full)
    message = f"^cannot write {re.escape(str(out / full))}: No space left on device$"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    left = {path.name for path in out.iterdir()}
    assert not left & {CUSTOMERS_CSV, SNAPSHOT_CSV}
    assert not [name for name in left if name.endswith(".tmp")]
    monkeypatch.undo()
    assert run_once(db, out).appended == 4  # generated_rows(1, 5): ids 1 to 4


def test_an_output_directory_that_refuses_the_lock_file_says_so(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", generated_rows(1, 5))
    (out / LOCK_FILE).mkdir()
    with pytest.raises(
        RunError, match=f"^cannot open the run lock {re.escape(str(out / LOCK_FILE))}: "
    ):
        run_once(db, out)


def test_a_database_damaged_past_its_schema_names_the_database(tmp_path: Path, out: Path) -> None:
    """The schema reads fine and the rows do not: the error names the file, as at the start of
    a run, not only "DatabaseError: database disk image is malformed"."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 2000))
    data = bytearray(db.read_bytes())
    page = 4096
    data[5 * page : 6 * page] = b"\xff" * page
    db.write_bytes(bytes(data))
    with pytest.raises(RunError, match=f"^cannot read database {re.escape(str(db))}: "):
        run_once(db, out)
    assert sorted(path.name for path in out.iterdir()) == [LOCK_FILE]


# Behaviour no other test pinned down: each test below fails when the behaviour it names breaks.


def test_customers_csv_longer_than_a_batch_is_read_back_whole_without_the_state(
    tmp_path: Path, out: Path
) -> None:
    """Read back in batches of BATCH_ROWS: every batch's keys count, not only the last one's,
    or the rows of the earlier batches would be appended a second time."""
    total = 2 * export.BATCH_ROWS + 7
    db = make_database(tmp_path / "c.db", generated_rows(1, total + 1))
    run_once(db, out)
    before = (out / CUSTOMERS_CSV).read_bytes()
    (out / STATE_FILE).unlink()
    execute(db, "DELETE FROM customers WHERE id = 2")
    execute(db, f"UPDATE customers SET job = 'Astronaut' WHERE id IN (3, {total})")
    result = run_once(db, out)
    assert (result.rows, result.appended, result.changed, result.deleted) == (total - 1, 0, 2, 1)
    assert (out / CUSTOMERS_CSV).read_bytes() == before


def test_a_state_whose_body_is_damaged_is_not_trusted_and_the_csv_is_read_again(
    tmp_path: Path, out: Path
) -> None:
    """The summary still describes customers.csv, but a key in the body was altered: taken at its
    word, row 3 would look new and be appended twice."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 6))
    run_once(db, out)
    state = (out / STATE_FILE).read_bytes()
    summary, _, body = state.partition(b"\n")
    keys_at = 4 * 5  # five fingerprints, then five keys of 8 bytes
    damaged = bytearray(body)
    damaged[keys_at + 2 * 8] ^= 0x40  # key 3 becomes 67
    (out / STATE_FILE).write_bytes(summary + b"\n" + bytes(damaged))
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    result = run_once(db, out)
    assert (result.rows, result.appended, result.changed, result.deleted) == (6, 1, 0, 0)
    assert [r[0] for r in read_records(out / CUSTOMERS_CSV)[1:]] == ["1", "2", "3", "4", "5", "50"]


def test_a_valid_state_spares_reading_customers_csv_back(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state shortcut answers when it describes the file: a shortcut switched off would hide
    behind the read-back, which gives the same result, only slower."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 6))
    run_once(db, out)

    def no_scan(*args: object) -> None:
        raise AssertionError("customers.csv was read back although the state describes it")

    monkeypatch.setattr(export, "CsvScan", no_scan)
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    execute(db, "UPDATE customers SET job = 'Astronaut' WHERE id = 4")
    result = run_once(db, out)
    assert (result.rows, result.appended, result.changed, result.deleted) == (6, 1, 1, 0)


def test_an_unchanged_run_reports_the_rows_and_counts_of_the_last_one(
    tmp_path: Path, out: Path
) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    execute(db, "UPDATE customers SET job = 'Astronaut' WHERE id = 1")
    execute(db, "DELETE FROM customers WHERE id IN (4, 5)")
    assert run_once(db, out).written
    result = run_once(db, out)
    assert result == (3, 0, 1, 2, False, 0)
    assert result.details() == {
        "rows": "3",
        "appended": "0",
        "changed": "1",
        "deleted": "2",
        "written": "no",
    }


def test_a_negative_key_on_a_row_with_text_that_is_not_utf8_is_logged_and_read_back(
    tmp_path: Path, out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT)")
    execute(db, "INSERT INTO customers VALUES (-3, CAST(x'4cfc6e' AS TEXT))")
    execute(db, f"INSERT INTO customers VALUES ({-(2**63)}, 'x')")
    with caplog.at_level(logging.WARNING, logger="collector"):
        result = run_once(db, out)
    assert (result.rows, result.appended) == (2, 2)
    [warning] = caplog.records
    assert warning.getMessage().endswith("keys -3")
    (out / STATE_FILE).unlink()
    execute(db, "INSERT INTO customers VALUES (-4, 'y')")
    result = run_once(db, out)
    assert (result.appended, result.changed, result.deleted) == (1, 0, 0)
    assert [r[0] for r in read_records(out / CUSTOMERS_CSV)[1:]] == [str(-(2**63)), "-3", "-4"]


def test_a_first_run_reports_every_figure_of_its_log_line(tmp_path: Path, out: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    result = run_once(db, out)
    assert result == (5, 5, 0, 0, True, 0)
    assert result.details() == {
        "rows": "5",
        "appended": "5",
        "changed": "0",
        "deleted": "0",
        "written": "yes",
    }


def test_a_missing_output_directory_is_named_in_the_error(tmp_path: Path) -> None:
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    with pytest.raises(RunError) as failed:
        run_once(db, tmp_path / "nowhere")
    assert str(failed.value) == f"output directory not found: {tmp_path / 'nowhere'}"


def test_customers_csv_is_read_back_a_batch_at_a_time(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back without the state, customers.csv is never held in memory whole."""
    sizes: list[int] = []

    class MeasuredScan(export.CsvScan):
        def batches(self, key_position: int, size: int) -> Iterator[EncodedBatch]:
            sizes.append(size)
            return super().batches(key_position, size)

    monkeypatch.setattr(export, "CsvScan", MeasuredScan)
    db = make_database(tmp_path / "c.db", AWKWARD_ROWS)
    run_once(db, out)
    (out / STATE_FILE).unlink()
    execute(db, "DELETE FROM customers WHERE id = 1")
    assert run_once(db, out).deleted == 1
    assert sizes == [export.BATCH_ROWS]


def test_the_log_lines_of_a_run_are_whole_sentences(
    tmp_path: Path, out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The warnings an operator reads: a torn tail cut off, TEXT that is not UTF-8."""
    db = tmp_path / "c.db"
    execute(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, job TEXT)")
    execute(db, "INSERT INTO customers VALUES (7, CAST(x'ff' AS TEXT))")
    run_once(db, out)
    path = out / CUSTOMERS_CSV
    valid_end = path.stat().st_size
    path.write_bytes(path.read_bytes() + b"8,to")
    execute(db, "INSERT INTO customers VALUES (8, 'x')")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="collector"):
        run_once(db, out)
    assert caplog.messages == [
        f"{path} ended with 4 bytes of an incomplete record (an interrupted append); cut back "
        f"to the last complete record at byte {valid_end}, the cut bytes kept in "
        f"{out / TORN_FILE}",
        "1 rows hold TEXT that is not valid UTF-8, written with U+FFFD for the bad bytes: keys 7",
    ]


def test_a_batch_that_is_all_new_is_appended_from_the_snapshot_bytes(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes made for the snapshot are appended as they are when every row is new; only a
    batch with some rows already written is encoded again for customers.csv."""
    chosen: list[list[int]] = []
    data = EncodedBatch.data

    def counted_data(batch: EncodedBatch, positions: Sequence[int] | None = None) -> bytes:
        if positions is not None:
            chosen.append(list(positions))
        return data(batch, positions)

    monkeypatch.setattr(EncodedBatch, "data", counted_data)
    db = make_database(tmp_path / "c.db", generated_rows(1, 4))
    run_once(db, out)
    assert chosen == []
    execute(db, "INSERT INTO customers VALUES (50, 'n', 'a', 'e', 'p', 'c', 'j')")
    run_once(db, out)
    assert chosen == [[3]]


# -- The commit point: the snapshot's rename. Before it a failure undoes the run; after it
# nothing fails the run (a close reporting a write-back error is a warning naming the file).


@pytest.mark.parametrize("torn", [b"", b'9,"half a rec'])
def test_a_close_failing_after_the_snapshot_is_published_is_a_warning_and_the_run_counts(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, torn: bytes
) -> None:
    """EIO closing the snapshot's descriptor after its rename (NFS, CIFS and FUSE mounts, such
    as Docker Desktop's bind mounts, report write-back errors there) once failed the run after
    the new snapshot was in place: the run cut customer 21 off customers.csv, and with 21
    deleted from the table before the next run, 21 never reached customers.csv."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 21))
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(torn)
    execute(db, "INSERT INTO customers VALUES (21, 'n', 'a', 'e', 'p', 'c', 'j')")
    failed = fail_close_of(monkeypatch, out / SNAPSHOT_CSV)
    outcome = perform_run(partial(run_once, db, out))
    assert failed == [str(out / SNAPSHOT_CSV)]
    assert outcome.status == "ok", outcome.error
    assert (outcome.status, outcome.details["appended"]) == ("ok", "1")
    assert outcome.warnings == (
        f"cannot close {out / SNAPSHOT_CSV} after it was written and put in place: "
        "Input/output error",
    )
    assert read_records(out / SNAPSHOT_CSV)[-1][0] == "21"
    assert read_records(out / CUSTOMERS_CSV)[-1][0] == "21"
    assert (out / TORN_FILE).exists() == bool(torn)  # the tail cut, kept
    monkeypatch.undo()
    execute(db, "DELETE FROM customers WHERE id = 21")
    assert run_once(db, out).deleted == 1
    assert read_records(out / CUSTOMERS_CSV)[-1][0] == "21"


class ClosingFails:
    """A stream whose close closes it, then fails with EIO (as on an NFS mount)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)

    def close(self) -> None:
        self.stream.close()
        raise OSError(errno.EIO, "Input/output error")


@pytest.mark.parametrize("torn", [b"", b'9,"half a rec'])
def test_customers_csv_is_closed_before_the_commit_point_and_a_failing_close_undoes_the_run(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, torn: bytes
) -> None:
    """Its close came after the state and the snapshot were published: an EIO there failed the
    run with no file named, and with a torn tail the error path cut the rows just appended
    while the new snapshot stayed. Closed before the commit point, a failure undoes the run."""
    db = make_database(tmp_path / "c.db", generated_rows(1, 21))
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(torn)
    execute(db, "INSERT INTO customers VALUES (21, 'n', 'a', 'e', 'p', 'c', 'j')")
    before = output_files(out)

    def opening(path: Path, mode: str = "r") -> object:
        stream = open(path, mode)  # noqa: SIM115
        return ClosingFails(stream) if Path(path).name == CUSTOMERS_CSV and "a" in mode else stream

    monkeypatch.setattr(export, "open", opening, raising=False)
    message = f"^cannot append to {re.escape(str(out / CUSTOMERS_CSV))}: Input/output error$"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert output_files(out) == before
    monkeypatch.undo()
    assert run_once(db, out).appended == 1
    assert read_records(out / SNAPSHOT_CSV)[1:] == read_records(out / CUSTOMERS_CSV)[1:]
