"""What every view shares (ipam/view.py), in this process: the output errors of issue 18 case 8
(a full disk, a closed stdout), which the subprocess tests of tree and free show end to end."""

from __future__ import annotations

import sys
from typing import TextIO

import pytest

from ipam.view import EXIT_FAILED, EXIT_OK, run_view, write_lines


def show_many_lines(stdout: TextIO) -> int:
    write_lines((f"line {number}" for number in range(10_000)), stdout)
    return EXIT_OK


def test_a_full_disk_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        monkeypatch.setattr(sys, "stdout", full)
        assert run_view("python -m ipam test", show_many_lines) == EXIT_FAILED
        full.write("what is left goes to /dev/null now, and can no longer fail")
        full.flush()
    assert capsys.readouterr().err == (
        "python -m ipam test: cannot write the output: No space left on device\n"
    )


def test_a_closed_stdout_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def never_called(stdout: TextIO) -> int:
        raise AssertionError("nothing is read when nothing can be written")

    monkeypatch.setattr(sys, "stdout", None)  # what Python sets when it starts with fd 1 closed
    assert run_view("python -m ipam test", never_called) == EXIT_FAILED
    assert (
        capsys.readouterr().err
        == "python -m ipam test: cannot write the output: stdout is closed\n"
    )


def test_a_stdout_open_only_for_reading_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with open("/dev/null", encoding="utf-8") as read_only:  # like 1</dev/null
        monkeypatch.setattr(sys, "stdout", read_only)
        assert run_view("python -m ipam test", show_many_lines) == EXIT_FAILED
    assert capsys.readouterr().err.startswith("python -m ipam test: cannot write the output: ")
