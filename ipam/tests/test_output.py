"""Writing prefixes.json: atomically, mode 0644, and not at all when the bytes would not change."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ipam.output import write_if_changed
from servicekit.runs import RunError


def test_a_new_file_is_written_with_mode_0644_and_no_temp_file_left(tmp_path: Path) -> None:
    target = tmp_path / "prefixes.json"
    assert write_if_changed(target, b"[]\n") is True
    assert target.read_bytes() == b"[]\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [path.name for path in tmp_path.iterdir()] == ["prefixes.json"]


def test_the_same_bytes_leave_the_file_alone_and_its_mtime_kept(tmp_path: Path) -> None:
    target = tmp_path / "prefixes.json"
    write_if_changed(target, b"[1]\n")
    os.utime(target, (1_000_000_000, 1_000_000_000))
    assert write_if_changed(target, b"[1]\n") is False
    assert target.stat().st_mtime == 1_000_000_000
    assert write_if_changed(target, b"[1, 2]\n") is True
    assert target.stat().st_mtime != 1_000_000_000


def test_a_file_of_the_same_size_but_other_content_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "prefixes.json"
    target.write_bytes(b"x" * 4)
    assert write_if_changed(target, b"[1]\n") is True
    assert target.read_bytes() == b"[1]\n"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing-directory", "cannot write {}: No such file or directory"),
        ("parent-is-a-file", "cannot read {}: Not a directory"),
        ("target-is-a-directory", "cannot write {}: Is a directory"),
    ],
)
def test_an_unwritable_target_is_an_error_naming_it_and_leaves_nothing_behind(
    tmp_path: Path, where: str, message: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    target = {
        "missing-directory": tmp_path / "missing" / "prefixes.json",
        "parent-is-a-file": blocker / "prefixes.json",
        "target-is-a-directory": tmp_path / "a-directory",
    }[where]
    if where == "target-is-a-directory":
        target.mkdir()
    with pytest.raises(RunError) as raised:
        write_if_changed(target, b"[]\n")
    assert str(raised.value) == message.format(target)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
    if where == "target-is-a-directory":
        assert list(target.iterdir()) == []


def test_a_failed_replace_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(RunError, match="Permission denied"):
        write_if_changed(tmp_path / "prefixes.json", b"[]\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"[1]\n", b"[1, 2]\n"], ids=["unchanged", "changed"])
def test_temp_files_a_killed_run_left_are_removed_whether_or_not_the_file_changes(
    tmp_path: Path, content: bytes
) -> None:
    """A run killed mid-write leaves ``.prefixes.json.*.tmp``, up to a whole output in size;
    the next run removes it, also when it has nothing new to write."""
    target = tmp_path / "prefixes.json"
    write_if_changed(target, b"[1]\n")
    left = [tmp_path / ".prefixes.json.k1ll3d.tmp", tmp_path / ".prefixes.json.0ld.tmp"]
    for path in left:
        path.write_bytes(b"[1, 2, 3")  # no writer holds its lock: the writer is gone
    other = tmp_path / ".other.json.k1ll3d.tmp"
    other.write_bytes(b"")
    write_if_changed(target, content)
    assert target.read_bytes() == content
    assert sorted(path.name for path in tmp_path.iterdir()) == [other.name, "prefixes.json"]
