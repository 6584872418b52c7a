"""Whole files replaced atomically: mode 0644, the old file or the new one, never a temp left."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicekit.files import atomic_writer, remove_stale_temp_files


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
    assert sorted(remove_stale_temp_files(target)) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)
    assert target.read_bytes() == b"kept"
    assert (tmp_path / ".out.json.dir.tmp").is_dir()
    assert remove_stale_temp_files(target) == []


def test_remove_stale_temp_files_finds_the_temp_files_atomic_writer_makes(tmp_path: Path) -> None:
    """Which is why it may run only while no other run can write: it takes a live one too."""
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError), atomic_writer(target) as stream:
        stream.write(b"new")
        (found,) = remove_stale_temp_files(target)
        assert found.name.startswith(".out.json.")
    assert target.read_bytes() == b"old"
    assert temp_files(tmp_path) == []
