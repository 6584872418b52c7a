"""What every view shares (ipam/view.py), in this process: the output errors of issue 18 case 8
(a full disk, a closed stdout), which the subprocess tests of tree and free show end to end; the
help every view starts from; how lines reach the stream."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import TextIO

import pytest

from ipam.view import EXIT_FAILED, EXIT_OK, run_view, view_parser, write_lines


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


def test_the_help_of_a_view_gives_its_description_and_the_db_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IPAM_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapped
    text = " ".join(view_parser("tree", "Show the prefixes as a tree.").format_help().split())
    assert text.startswith("usage: python -m ipam tree [-h] [--db DB] ")
    assert "Show the prefixes as a tree." in text
    assert (
        "--db DB SQLite database with the prefixes table (env IPAM_DB, default "
        "database/prefixes.db)"
    ) in text


def test_lines_reach_the_stream_while_later_ones_are_still_being_made() -> None:
    stream = io.StringIO()
    written_before: list[int] = []  # lines on the stream when each line was asked for

    def lines() -> Iterator[str]:
        for number in range(10_000):
            written_before.append(stream.getvalue().count("\n"))
            yield f"line {number}"

    write_lines(lines(), stream)
    assert stream.getvalue() == "".join(f"line {number}\n" for number in range(10_000))
    # A view's output shows up as it is made (| head, a terminal), not all at the end.
    assert written_before[-1] > 0


def test_a_character_the_output_cannot_encode_is_escaped_and_the_others_kept() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    write_lines(["café €", "plain"], stream)
    stream.seek(0)
    assert stream.buffer.read() == b"caf\xe9 \\u20ac\nplain\n"  # é is latin-1; € is not
