"""The state file: what it stores comes back exactly, anything unusable reads as no state, and
a valid state never changes what a run writes."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import suppress
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import export
from collector.diff import Written
from collector.source import DatabaseVersion, FileIdentity
from collector.state import RunState, load_summary, load_written, save_state
from collector.tests.helpers import make_database
from servicekit.runs import RunError

SUMMARY = RunState(
    database=DatabaseVersion(41, FileIdentity(9, 10, 11, 12)),
    header=("id", "occupation"),
    key_position=0,
    customers_csv=FileIdentity(1, 2, 3, 4),
    snapshot=FileIdentity(5, 6, 7, 8),
    rows=3,
    changed=1,
    deleted=2,
)


@pytest.mark.parametrize(
    "keys",
    [
        [3, -1, 2**63 - 1, -(2**63)],
        [5],
        [],
    ],
)
def test_keys_and_fingerprints_round_trip(tmp_path: Path, keys: list[int]) -> None:
    path = tmp_path / ".collector.state"
    written = Written.from_records(keys, list(range(len(keys))))
    save_state(path, SUMMARY, written)
    assert load_summary(path) == SUMMARY
    loaded = load_written(path)
    assert loaded is not None
    assert loaded.keys == written.keys
    assert loaded.fingerprints == written.fingerprints


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json\n",
        b'{"version": 0}\n',
        b'{"version": 2}\n',  # the SHA-256 state of earlier versions
        b'{"version": 3}\n',  # no checksum of the keys yet
        b'{"version": 4}\n',  # keys of any type, a JSON body for text keys
        b'{"version": 5}\n',  # no key column: a key moved to another column went unseen
        b"[1, 2]\n",  # valid JSON, not an object
        b'"text"\n',
    ],
)
def test_an_unusable_summary_is_no_state(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ".collector.state"
    path.write_bytes(content)
    assert load_summary(path) is None
    assert load_written(path) is None
    assert load_summary(tmp_path / "absent") is None


def test_records_cut_short_or_followed_by_more_are_no_state(tmp_path: Path) -> None:
    path = tmp_path / ".collector.state"
    save_state(path, SUMMARY, Written.from_records([1, 2], [7, 8]))
    data = path.read_bytes()
    assert load_written(path) is not None
    for damaged in (data[:-3], data + b"x", data.splitlines(keepends=True)[0]):
        path.write_bytes(damaged)
        assert load_written(path) is None


def test_keys_altered_in_place_are_no_state(tmp_path: Path) -> None:
    """Same length, summary intact: only the checksum tells, and rows would look new."""
    path = tmp_path / ".collector.state"
    save_state(path, SUMMARY, Written.from_records([1, 2], [7, 8]))
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    assert load_summary(path) == SUMMARY
    assert load_written(path) is None


# A table: its columns (name, declared type) in order, the key's position, and the database it
# lives in: a new file (the old one replaced), or the same file with the table dropped and made
# again, or changed in place by ALTER TABLE.
Column = tuple[str, str]
NAMES = ("id", "num", "job", "JOB", "name", "Name", "extra", "occupation")
TYPES = ("INTEGER", "TEXT", "REAL", "BLOB", "")
VALUES = st.one_of(
    st.none(),
    st.integers(0, 6),
    st.sampled_from(["a", "b", "1", "c,d", "e\nf", "", 0.5, 1.0, b"\x00"]),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], int, list[tuple[object, ...]]]:
    """A customers table of two to four columns, usually with a 'job'; its rows' keys and values
    come from small ranges, so that another table's keys and records often coincide with them."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique_by=str.lower))
    if "job" not in [name.lower() for name in names] and draw(st.integers(0, 5)):
        names[-1] = "job"
    types = [draw(st.sampled_from(TYPES)) for _ in names]
    key = draw(st.integers(0, len(names) - 1))
    keys = draw(st.lists(st.integers(0, 6), unique=True, max_size=5))
    rows = [tuple(k if i == key else draw(VALUES) for i in range(len(names))) for k in keys]
    return list(zip(names, types)), key, rows


def _create(db: Path, columns: list[Column], key: int, rows: list[tuple[object, ...]]) -> None:
    definitions = ", ".join(
        f'"{name}" INTEGER PRIMARY KEY' if i == key else f'"{name}" {kind}'
        for i, (name, kind) in enumerate(columns)
    )
    make_database(db, rows, f"CREATE TABLE customers ({definitions})")


def _replace(db: Path, how: str, table: tuple[list[Column], int, list[tuple[object, ...]]]) -> None:
    columns, key, rows = table
    if how == "file":
        db.unlink(missing_ok=True)
    elif db.exists():
        with sqlite3.connect(db) as connection:
            connection.execute("DROP TABLE customers")
        connection.close()
    _create(db, columns, key, rows)


def _alter(db: Path, statement: str) -> None:
    # A column SQLite will not drop or rename (the key, the last one, a missing one): no change.
    with sqlite3.connect(db) as connection, suppress(sqlite3.OperationalError):
        connection.execute(statement)
    connection.close()


def _outcome(database: Path, output: Path) -> tuple[object, dict[str, bytes]]:
    """What a run reported (its figures, or its error with the directory's name taken out) and
    the bytes of every output file (not the state, which is what differs)."""
    try:
        result = export.run_once(database, output)
        reported: object = (result.rows, result.appended, result.changed, result.deleted)
    except RunError as error:
        reported = str(error).replace(str(output), "OUT")
    outputs = {
        path.name: path.read_bytes()
        for path in sorted(output.iterdir())
        if path.name not in (export.STATE_FILE, export.LOCK_FILE)
    }
    return reported, outputs


ALTERATIONS = st.sampled_from(
    [
        'ALTER TABLE customers ADD COLUMN "added" TEXT',
        'ALTER TABLE customers ADD COLUMN "num" INTEGER DEFAULT 3',
        'ALTER TABLE customers DROP COLUMN "num"',
        'ALTER TABLE customers DROP COLUMN "name"',
        'ALTER TABLE customers RENAME COLUMN "name" TO "renamed"',
        'ALTER TABLE customers RENAME COLUMN "num" TO "id"',
        'ALTER TABLE customers RENAME COLUMN "job" TO "JOB"',
        "INSERT OR IGNORE INTO customers DEFAULT VALUES",
        "DELETE FROM customers WHERE rowid % 2",
    ]
)


@given(
    first=tables(),
    changes=st.lists(
        st.one_of(
            st.tuples(st.sampled_from(["file", "table"]), tables()),
            st.tuples(st.just("alter"), ALTERATIONS),
        ),
        min_size=1,
        max_size=3,
    ),
)
@settings(max_examples=300, deadline=None)
def test_a_run_with_a_valid_state_writes_what_a_run_without_one_writes(
    first: tuple[list[Column], int, list[tuple[object, ...]]],
    changes: list[tuple[str, object]],
) -> None:
    """Every schema change (the key moved, columns added, removed, reordered, renamed or retyped,
    the table or the whole file replaced): a run that keeps its state and one whose state is
    deleted before every run report the same and leave the same bytes, or fail the same way.
    Where the header and the key column are unchanged, the state must really be used."""
    with tempfile.TemporaryDirectory() as scratch:
        db, kept, fresh = Path(scratch, "c.db"), Path(scratch, "kept"), Path(scratch, "fresh")
        _replace(db, "file", first)
        kept.mkdir()
        fresh.mkdir()
        assert _outcome(db, kept) == _outcome(db, fresh)
        for how, change in changes:
            before = load_summary(kept / export.STATE_FILE)
            if how == "alter":
                _alter(db, str(change))
            else:
                _replace(db, how, change)  # type: ignore[arg-type]
            (fresh / export.STATE_FILE).unlink(missing_ok=True)
            with mock.patch.object(export, "CsvScan", wraps=export.CsvScan) as scans:
                kept_outcome = _outcome(db, kept)
            assert kept_outcome == _outcome(db, fresh)
            if before is not None and isinstance(kept_outcome[0], tuple):
                with export.TableReader(db) as table:
                    same_layout = before.header == table.shape.header and (
                        before.key_position == table.shape.key_position
                    )
                if same_layout:
                    assert not scans.called  # the keys came from the state
