"""What every view shares (ipam/view.py): the help every view starts from, how lines reach the
stream, the output errors (a full disk, a closed stdout) and a reader that
leaves early, in this process and then end to end, for each view run as a real process."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TextIO

import pytest

from ipam import free, tree
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.view import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    prefix_length,
    run_view,
    view_parser,
    whole_number,
    write_lines,
)

# Each view, with the arguments it needs to write something for a table of 10.x.y.0/25 rows.
VIEWS = {"tree": [], "free": ["10.0.0.0/8"]}


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


@pytest.mark.parametrize(
    ("view", "reader", "arguments"),
    [(free, "read_prefix_table", ["10.0.0.0/8"]), (tree, "read_tree", [])],
    ids=["free", "tree"],
)
def test_ctrl_c_is_a_quiet_exit_130(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    view: ModuleType,
    reader: str,
    arguments: list[str],
) -> None:
    def interrupted(database: Path) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(view, reader, interrupted)
    assert view.main(["--db", "whatever.db", *arguments]) == 130
    assert capsys.readouterr() == ("", "")


# -- The real processes


@pytest.mark.parametrize("command", VIEWS)
def test_process_output_closed_early_is_a_quiet_exit_141(tmp_path: Path, command: str) -> None:
    # Far more than a pipe's buffer, so the writer is still writing when the reader leaves.
    rows = [(row_id, f"10.{row_id >> 8 & 255}.{row_id & 255}.0/25") for row_id in range(20_000)]
    database = make_database(tmp_path / "big.db", rows)
    for json_lines in ([], ["--json"]):
        with subprocess.Popen(
            [sys.executable, "-m", "ipam", command, "--db", str(database), *VIEWS[command],
             *json_lines],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ) as process:  # fmt: skip
            assert process.stdout is not None and process.stderr is not None
            assert process.stdout.readline()  # like head -1
            process.stdout.close()
            stderr = process.stderr.read()
        assert (process.returncode, stderr) == (EXIT_BROKEN_PIPE, b"")


@pytest.mark.parametrize("command", VIEWS)
@pytest.mark.parametrize("json_lines", [[], ["--json"]])
def test_process_full_or_closed_stdout_is_one_line_and_exit_1(
    command: str, json_lines: list[str]
) -> None:
    """> /dev/full and >&- once gave a traceback: now one line and exit 1."""
    arguments = [sys.executable, "-m", "ipam", command, *json_lines, *VIEWS[command]]
    environment = {key: value for key, value in os.environ.items() if key != "IPAM_DB"}
    with open("/dev/full", "w", encoding="utf-8") as full:
        completed = subprocess.run(
            arguments, cwd=REPO_ROOT, env=environment, stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=60, check=False,
        )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr == (
        f"python -m ipam {command}: cannot write the output: No space left on device\n"
    )
    closed = subprocess.run(
        ["sh", "-c", '"$@" >&-', "sh", *arguments], cwd=REPO_ROOT, env=environment,
        stderr=subprocess.PIPE, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert closed.returncode == 1
    assert closed.stderr == f"python -m ipam {command}: cannot write the output: stdout is closed\n"


@pytest.mark.parametrize("text", ["\u0662\u0664", "1_0", " 24 ", "+24", "\uff12\uff14", "24.0"])
def test_lengths_and_counts_are_plain_decimal_digits(text: str) -> None:
    """int() takes most of these; the flags take what healthcheck.sh's rule does."""
    for argument_type in (prefix_length, whole_number):
        with pytest.raises(argparse.ArgumentTypeError):
            argument_type(text)
    assert (prefix_length("024"), whole_number("024")) == (24, 24)
