"""A torn tail is kept in customers.csv.torn exactly once, whatever step a crash or a failure
stops, and its keeping is durable before customers.csv is cut."""

from __future__ import annotations

import errno
import json
import os
import stat
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.export import (
    CUSTOMERS_CSV,
    KEPT_FILE,
    SNAPSHOT_CSV,
    STATE_FILE,
    TORN_FILE,
    run_once,
)
from collector.tests.helpers import (
    HEADER,
    csv_text,
    execute,
    generated_rows,
    make_database,
    read_records,
)
from collector.torn import KeptTail, keep_tail
from servicekit.runs import RunError

TAIL = b'7,"half a rec'
ROWS = generated_rows(1, 7)  # ids 1 to 6: the first run writes 1 to 5, the next appends 6

# The calls a crash may stop a run at, before or after each one.
CRASH_POINTS = ("open", "close", "fsync", "replace", "truncate", "unlink")


def torn_output(tmp_path: Path, out: Path) -> Path:
    """customers.csv with rows 1 to 5 and a torn tail, and a table that holds row 6 too."""
    db = make_database(tmp_path / "c.db", ROWS[:5])
    run_once(db, out)
    with open(out / CUSTOMERS_CSV, "ab") as stream:
        stream.write(TAIL)
    execute(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", parameters=ROWS[5])
    return db


def crashing_at(point: int) -> Callable[[], None]:
    """In this (child) process, make the ``point``-th crash point end it at once, as SIGKILL or
    a power cut would: no handler, no ``finally``, no buffer flushed. Even points stop the run
    before their call, odd ones right after it."""
    calls = [0]

    def wrap(real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            if calls[0] * 2 == point:
                os._exit(9)
            result = real(*args, **kwargs)
            if calls[0] * 2 + 1 == point:
                os._exit(9)
            calls[0] += 1
            return result

        return call

    def install() -> None:
        for name in CRASH_POINTS:
            setattr(os, name, wrap(getattr(os, name)))

    return install


def run_crashing(db: Path, out: Path, point: int) -> bool:
    """One run in a forked child that crashes at ``point``; whether it crashed there (False:
    the run ended before reaching it)."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            crashing_at(point)()
            run_once(db, out)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 9


def test_a_crash_at_any_step_then_a_run_keeps_the_tail_once_and_every_row_once(
    tmp_path: Path,
) -> None:
    """The tail was appended to customers.csv.torn and fsynced before customers.csv was cut; a
    crash at that fsync, its close or the truncation left it in both files, and the next run
    kept it again. Every crash point of a whole run is tried in turn, each on a fresh copy."""
    crashed_at = []
    for point in range(1000):
        case = tmp_path / str(point)
        out = case / "output"
        out.mkdir(parents=True)
        db = torn_output(case, out)
        if not run_crashing(db, out, point):
            break
        crashed_at.append(point)
        records = read_records(out / CUSTOMERS_CSV)
        tail_in_csv = (out / CUSTOMERS_CSV).read_bytes().endswith(TAIL)
        kept = (out / TORN_FILE).read_bytes() if (out / TORN_FILE).exists() else b""
        assert tail_in_csv or kept == TAIL, f"crash point {point}: the tail is lost"
        assert kept in (b"", TAIL[: len(kept)]), f"crash point {point}"
        result = run_once(db, out)
        assert (out / TORN_FILE).read_bytes() == TAIL, f"crash point {point}"
        records = read_records(out / CUSTOMERS_CSV)
        assert records == [HEADER, *csv_text(ROWS)], f"crash point {point}"
        assert read_records(out / SNAPSHOT_CSV) == records
        assert result.torn_bytes_removed in (0, len(TAIL))
        assert not [path for path in out.iterdir() if path.name.endswith(".tmp")]
    assert len(crashed_at) > 20  # the sweep reached every step of a run, and then its end


def test_a_keeping_stopped_halfway_is_finished_not_started_again(tmp_path: Path, out: Path) -> None:
    """Killed in the middle of the append to customers.csv.torn: the record says where the
    tail starts there, and the next run appends only what is missing."""
    db = torn_output(tmp_path, out)
    (out / TORN_FILE).write_bytes(b"older tail")
    customers = os.stat(out / CUSTOMERS_CSV)
    offset = customers.st_size - len(TAIL)
    record = KeptTail(
        customers.st_dev, customers.st_ino, offset, len(TAIL), zlib.crc32(TAIL), len(b"older tail")
    )
    (out / KEPT_FILE).write_text(json.dumps(record._asdict()))
    (out / TORN_FILE).write_bytes(b"older tail" + TAIL[:5])
    assert run_once(db, out).torn_bytes_removed == len(TAIL)
    assert (out / TORN_FILE).read_bytes() == b"older tail" + TAIL
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(ROWS)]


@pytest.mark.parametrize(
    "torn_content",
    [b"", b"something else", b"older tail" + TAIL + b"more"],
    ids=["cut short by hand", "other bytes", "longer"],
)
def test_a_record_that_no_longer_describes_the_torn_file_starts_a_new_keeping(
    tmp_path: Path, out: Path, torn_content: bytes
) -> None:
    """The tail is kept again (never lost) when customers.csv.torn is not as the record left
    it: edited or cut by a person."""
    db = torn_output(tmp_path, out)
    customers = os.stat(out / CUSTOMERS_CSV)
    offset = customers.st_size - len(TAIL)
    record = KeptTail(customers.st_dev, customers.st_ino, offset, len(TAIL), zlib.crc32(TAIL), 10)
    (out / KEPT_FILE).write_text(json.dumps(record._asdict()))
    (out / TORN_FILE).write_bytes(torn_content)
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == torn_content + TAIL


@pytest.mark.parametrize(
    "record",
    [b"", b"not json", b"[]", b'{"device": 1}', b'{"device": "1", "inode": 2, "offset": 3, '
     b'"length": 4, "crc32": 5, "torn_offset": 6}'],
)  # fmt: skip
def test_a_record_that_cannot_be_read_whole_starts_a_new_keeping(
    tmp_path: Path, out: Path, record: bytes
) -> None:
    db = torn_output(tmp_path, out)
    (out / KEPT_FILE).write_bytes(record)
    (out / TORN_FILE).write_bytes(TAIL)
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == TAIL + TAIL  # twice rather than lost


def test_a_failed_run_that_cannot_remove_the_torn_file_it_made_is_not_kept_twice(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output directory turns read-only mid-run: the state cannot be saved, the run fails
    and puts the tail back, but cannot remove the customers.csv.torn it created. The next run
    once kept the tail a second time."""
    db = torn_output(tmp_path, out)
    real_replace = os.replace

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    def replace(source: object, target: object) -> None:
        if Path(str(target)).name == STATE_FILE:  # the directory turns read-only from here on
            monkeypatch.setattr(os, "unlink", read_only)
            monkeypatch.setattr(Path, "unlink", read_only)  # Python 3.9's does not call os's
            read_only()
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(RunError, match=f"cannot write {out / STATE_FILE}: Read-only"):
        run_once(db, out)
    monkeypatch.undo()
    assert (out / CUSTOMERS_CSV).read_bytes().endswith(TAIL)  # put back
    assert (out / TORN_FILE).read_bytes() == TAIL  # and left there
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == TAIL
    assert read_records(out / CUSTOMERS_CSV) == [HEADER, *csv_text(ROWS)]


def test_the_directory_is_synced_after_the_torn_file_and_before_customers_csv_is_cut(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system whose fsync commits one file, a new customers.csv.torn's name is
    durable only once its directory is synced: a power cut after the cut was made durable
    would otherwise lose the torn bytes."""
    db = torn_output(tmp_path, out)
    events: list[str] = []
    real_fsync, real_truncate = os.fsync, os.truncate

    def fsync(fd: int) -> None:
        status = os.fstat(fd)
        events.append(
            "directory" if stat.S_ISDIR(status.st_mode) else os.readlink(f"/proc/self/fd/{fd}")
        )
        real_fsync(fd)

    def truncate(path: object, length: int) -> None:
        events.append(f"cut {Path(str(path)).name}")
        real_truncate(path, length)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "truncate", truncate)
    run_once(db, out)
    kept = events.index(str(out / TORN_FILE))
    cut = events.index(f"cut {CUSTOMERS_CSV}")
    assert "directory" in events[kept:cut]


def test_a_directory_sync_that_fails_before_the_cut_fails_the_run_and_changes_nothing(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = torn_output(tmp_path, out)
    before = (out / CUSTOMERS_CSV).read_bytes()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode) and (out / TORN_FILE).exists():
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    message = f"cannot keep the incomplete last record in {out / TORN_FILE}: Input/output error"
    with pytest.raises(RunError, match=message):
        run_once(db, out)
    assert (out / CUSTOMERS_CSV).read_bytes() == before
    assert not (out / TORN_FILE).exists()
    monkeypatch.undo()
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == TAIL


def test_a_record_that_cannot_be_written_fails_the_keeping_before_it_starts(
    tmp_path: Path, out: Path
) -> None:
    (out / KEPT_FILE).mkdir()
    customers = out / CUSTOMERS_CSV
    customers.write_bytes(TAIL)
    with pytest.raises(RunError, match=f"^cannot write {out / KEPT_FILE}: "):
        keep_tail(out / TORN_FILE, out / KEPT_FILE, customers.stat(), 0, TAIL)
    assert not (out / TORN_FILE).exists()


def test_a_torn_file_that_cannot_be_looked_at_is_named(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def size(path: Path) -> int | None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("collector.torn._size", size)
    customers = out / CUSTOMERS_CSV
    customers.write_bytes(TAIL)
    message = f"^cannot keep the incomplete last record in {out / TORN_FILE}: Input/output error$"
    with pytest.raises(RunError, match=message):
        keep_tail(out / TORN_FILE, out / KEPT_FILE, customers.stat(), 0, TAIL)


def test_a_torn_file_that_cannot_be_read_back_is_named(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resuming a keeping reads back what customers.csv.torn holds of the tail."""
    customers = out / CUSTOMERS_CSV
    customers.write_bytes(TAIL)
    status = customers.stat()
    record = KeptTail(status.st_dev, status.st_ino, 0, len(TAIL), zlib.crc32(TAIL), 0)
    (out / KEPT_FILE).write_text(json.dumps(record._asdict()))
    (out / TORN_FILE).write_bytes(TAIL[:5])
    real_open = open

    def failing_open(path: object, *args: object, **kwargs: object) -> object:
        if path == out / TORN_FILE:
            raise OSError(errno.EIO, "Input/output error")
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(RunError, match=f"^cannot read {out / TORN_FILE}: Input/output error$"):
        keep_tail(out / TORN_FILE, out / KEPT_FILE, status, 0, TAIL)


def test_a_failed_keeping_cuts_an_older_torn_file_back_and_keeps_it(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """customers.csv.torn held an older tail: a failure after the append takes back only what
    this run wrote, never the file."""
    db = torn_output(tmp_path, out)
    (out / TORN_FILE).write_bytes(b"older tail")
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(RunError, match="cannot keep the incomplete last record"):
        run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == b"older tail"


def test_a_record_of_numbers_that_are_not_integers_starts_a_new_keeping(
    tmp_path: Path, out: Path
) -> None:
    """Floats equal to the true values (12.0 for 12) compare equal but cannot be seek offsets:
    such a record is no record, and the tail is kept anew rather than the run failing."""
    db = torn_output(tmp_path, out)
    customers = os.stat(out / CUSTOMERS_CSV)
    offset = customers.st_size - len(TAIL)
    record = KeptTail(customers.st_dev, customers.st_ino, offset, len(TAIL), zlib.crc32(TAIL), 0)
    (out / KEPT_FILE).write_text(
        json.dumps({key: float(value) for key, value in record._asdict().items()})
    )
    (out / TORN_FILE).write_bytes(TAIL[:5])
    run_once(db, out)
    assert (out / TORN_FILE).read_bytes() == TAIL[:5] + TAIL
