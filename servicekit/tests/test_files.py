"""Whole files replaced atomically: mode 0644, the old file or the new one, never a temp left."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from servicekit import files as files_module
from servicekit.files import atomic_writer, remove_stale_temp_files, sync_directory
from servicekit.runs import collecting_warnings
from servicekit.tests.helpers import REPO_ROOT, fail_close_of


@pytest.fixture
def strict_umask() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def temp_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".tmp"))


@pytest.mark.usefixtures("strict_umask")
def test_a_new_file_gets_mode_0644_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with atomic_writer(target) as stream:
        stream.write(b"[]\n")
    assert target.read_bytes() == b"[]\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.json"]


def test_the_bytes_go_to_a_hidden_temp_file_beside_the_target_until_the_end(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with atomic_writer(target) as stream:
        stream.write(b"new")
        (temp,) = temp_files(tmp_path)
        assert temp.startswith(".out.json.")
        assert target.read_bytes() == b"old"  # a reader still sees the whole old file
    assert target.read_bytes() == b"new"
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError("bad row"), KeyboardInterrupt()])
def test_a_failure_in_the_block_leaves_the_target_untouched_and_no_temp_file(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_writer(target) as stream:
        stream.write(b"half of the new")
        raise error
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.json"]


def test_a_failed_replace_leaves_the_target_untouched_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError), atomic_writer(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.json"]


def test_a_missing_directory_is_an_os_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_writer(tmp_path / "absent" / "out.json"):
        pass  # pragma: no cover - the temp file cannot be created
    assert list(tmp_path.iterdir()) == []


def test_a_file_system_that_cannot_fsync_a_directory_still_gets_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def no_directory_fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", no_directory_fsync)
    target = tmp_path / "out.json"
    with atomic_writer(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"new"


def test_stale_temp_files_of_the_target_are_removed_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"kept")
    stale = [tmp_path / ".out.json.abc123.tmp", tmp_path / ".out.json.x.tmp"]
    for path in stale:
        path.write_bytes(b"left by a killed run")
    others = [
        tmp_path / ".other.json.abc.tmp",  # another target's temp file
        tmp_path / "out.json.abc.tmp",  # not hidden: not ours
        tmp_path / ".out.json.abc.bak",
    ]
    for path in others:
        path.write_bytes(b"")
    (tmp_path / ".out.json.dir.tmp").mkdir()  # not a file: left alone
    (tmp_path / ".out.json.link.tmp").symlink_to(target)  # a symbolic link: left alone
    assert sorted(remove_stale_temp_files(target)) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)
    assert target.read_bytes() == b"kept"
    assert (tmp_path / ".out.json.dir.tmp").is_dir()
    assert (tmp_path / ".out.json.link.tmp").is_symlink()
    assert remove_stale_temp_files(target) == []


def test_a_live_writers_temp_file_is_never_removed_even_from_the_same_process(
    tmp_path: Path,
) -> None:
    """A writer holds its temp file's lock until the file is in place: neither the cleanup nor
    another write of the same target (as an ipam run beside the daemon) takes it away."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with atomic_writer(target) as slow:
        slow.write(b"slow")
        (live,) = temp_files(tmp_path)
        assert remove_stale_temp_files(target) == []
        with atomic_writer(target) as fast:
            fast.write(b"fast")
        assert target.read_bytes() == b"fast"
        assert temp_files(tmp_path) == [live]
    assert target.read_bytes() == b"slow"  # the slow writer was not robbed of its file
    assert temp_files(tmp_path) == []


# Run in a child process: write out.json in argv[1] through atomic_writer, say so, then wait to
# be killed in the middle of the write.
KILLED_MID_WRITE = """
import sys, time
from pathlib import Path
from servicekit.files import atomic_writer
with atomic_writer(Path(sys.argv[1]) / "out.json") as stream:
    stream.write(b"half")
    stream.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def test_the_temp_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_WRITE, str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "writing\n"
        (left,) = temp_files(tmp_path)
        assert remove_stale_temp_files(target) == []  # its writer is still alive
    finally:
        child.kill()
        child.wait(timeout=30)
    assert temp_files(tmp_path) == [left]  # SIGKILL: nothing cleaned up after itself
    with atomic_writer(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"new"
    assert temp_files(tmp_path) == []


def test_a_temp_file_removed_before_its_writer_locked_it_is_replaced_by_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between mkstemp and flock another writer may take the new file for a dead writer's."""
    target = tmp_path / "out.json"
    real_mkstemp = tempfile.mkstemp
    created: list[str] = []

    def mkstemp_then_cleanup(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        created.append(name)
        if len(created) == 1:  # another writer's cleanup runs now, and finds it unlocked
            assert remove_stale_temp_files(target) == [Path(name)]
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_cleanup)
    with atomic_writer(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"new"
    assert len(created) == 2
    assert temp_files(tmp_path) == []


def test_a_temp_file_replaced_while_it_is_checked_is_not_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between opening a stale temp file and removing it, a new writer may have put its own file
    at that name: the lock checked was the old file's, so the new one must stay."""
    target = tmp_path / "out.json"
    stale = tmp_path / ".out.json.abc.tmp"
    stale.write_bytes(b"left by a killed run")
    fresh = tmp_path / "fresh"
    fresh.write_bytes(b"a live writer's")
    real_flock = files_module.fcntl.flock

    def flock_after_a_replace(fd: int, operation: int) -> None:
        os.replace(fresh, stale)  # a new writer's file takes the name
        real_flock(fd, operation)

    monkeypatch.setattr(files_module.fcntl, "flock", flock_after_a_replace)
    assert remove_stale_temp_files(target) == []
    assert stale.read_bytes() == b"a live writer's"


# -- The rename is the commit point: what fails after it is a warning, and the file stays.


def test_a_close_failing_after_the_rename_is_a_warning_naming_the_file_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close reports write-back errors on NFS, CIFS and FUSE mounts. Once the new file is in
    place its data were fsynced, and a caller told "failed" would undo its other files (the
    collector cut customers.csv while the new snapshot stayed published)."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    failed = fail_close_of(monkeypatch, target)
    with collecting_warnings() as warned, atomic_writer(target) as stream:
        stream.write(b"new")
    assert failed == [str(target)]  # the lock's descriptor, closed after the rename
    assert target.read_bytes() == b"new"
    assert warned == [
        f"cannot close {target} after it was written and put in place: Input/output error"
    ]
    assert temp_files(tmp_path) == []


def test_a_directory_sync_failing_after_the_rename_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def directory_fsync_fails(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", directory_fsync_fails)
    target = tmp_path / "out.json"
    with collecting_warnings() as warned, atomic_writer(target) as stream:
        stream.write(b"new")
    assert target.read_bytes() == b"new"
    assert warned == [
        f"cannot sync directory {tmp_path} after out.json was put in place: Input/output "
        "error; a power cut may undo the rename"
    ]


def test_a_directory_this_process_may_not_open_is_not_synced_and_not_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory with write and search permission but no read permission (mode 0333)."""
    real_open = os.open

    def no_reading_directories(path: object, flags: int, *args: int) -> int:
        if flags & os.O_DIRECTORY:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_reading_directories)
    with collecting_warnings() as warned:
        sync_directory(tmp_path)
    assert warned == []


def test_a_failed_write_reports_its_own_error_even_when_closing_fails_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the rename a failure undoes the write; a close failing on the way out must not
    take the place of the error that stopped it."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(files_module.os, "close", failing_close(os.close))
    with pytest.raises(ValueError, match="bad row"), atomic_writer(target) as stream:
        stream.write(b"half")
        raise ValueError("bad row")
    assert target.read_bytes() == b"old"
    assert temp_files(tmp_path) == []


def failing_close(real_close: Callable[[int], None]) -> Callable[[int], None]:
    def close(fd: int) -> None:
        real_close(fd)
        raise OSError(errno.EIO, "Input/output error")

    return close


@pytest.mark.parametrize("failing", ["dup", "fchmod"])
def test_a_write_that_fails_before_its_block_leaves_no_descriptor_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    def refuse(*_args: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    descriptors = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(files_module.os, failing, refuse)
    with pytest.raises(OSError, match="Too many open files"), atomic_writer(tmp_path / "x"):
        pass  # pragma: no cover - never reached
    assert len(os.listdir("/proc/self/fd")) == descriptors
    assert list(tmp_path.iterdir()) == []
