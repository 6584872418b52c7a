"""What both services and the tree do with a database path that is no plain readable file, or
no UTF-8: the real commands, each under a timeout, so that a path that blocks fails the test
instead of hanging it."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicekit.tests.helpers import (
    CANNOT_SWITCH,
    CANNOT_SWITCH_REASON,
    REPO_ROOT,
    SWITCHES_USER,
    copy_readable,
    run_python_as_nobody,
    world_readable_directory,
)

# Each command, with the flags that point its other files into the working directory; only
# those whose package is here (the ipam container runs these tests with no collector/ mounted).
COMMANDS = {
    name: argv
    for name, argv in {
        "collector": ["collector", "--once", "--output-dir", "."],
        "ipam": ["ipam", "--once", "--output", "prefixes.json"],
        "tree": ["ipam", "tree"],
    }.items()
    if (REPO_ROOT / argv[0]).is_dir()
}
TIMEOUT = 60  # seconds: far more than a run takes; a blocked open never ends
NON_UTF8 = os.fsdecode(b"caf\xe9")  # "caf\udce9": how Python holds a name that is not UTF-8


def run_command(command: str, database: Path | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    module, *flags = COMMANDS[command]
    return subprocess.run(
        [sys.executable, "-m", module, *flags, "--db", os.fspath(database)],
        cwd=cwd,
        env={**_clean_environment(), "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=TIMEOUT,
        check=False,
    )


def _clean_environment() -> dict[str, str]:
    prefixes = ("COLLECTOR_", "IPAM_")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def last_line(completed: subprocess.CompletedProcess[str]) -> str:
    lines = completed.stderr.splitlines()
    assert lines, completed
    return lines[-1]


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path: a Unix socket's path may hold only 107 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="db-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_is_refused_at_once_not_read_forever(command: str, short_tmp: Path) -> None:
    fifo = short_tmp / "x.db"
    os.mkfifo(fifo)
    completed = run_command(command, fifo, short_tmp)  # TimeoutExpired if the open blocks
    assert completed.returncode == 1
    assert last_line(completed).endswith(
        f"database {fifo} is a FIFO (named pipe), not a SQLite database file"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_directory_a_socket_or_a_device_is_named_for_what_it_is(
    command: str, short_tmp: Path
) -> None:
    (short_tmp / "dir.db").mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(short_tmp / "sock.db"))
        for database, kind in (
            (short_tmp / "dir.db", "a directory"),
            (short_tmp / "sock.db", "a socket"),
            (Path(os.devnull), "a character device"),
        ):
            completed = run_command(command, database, short_tmp)
            assert completed.returncode == 1
            assert last_line(completed).endswith(
                f"database {database} is {kind}, not a SQLite database file"
            )
    finally:
        server.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_database_is_still_not_found(command: str, tmp_path: Path) -> None:
    completed = run_command(command, tmp_path / "none" / "x.db", tmp_path)
    assert completed.returncode == 1
    assert last_line(completed).endswith(f"database not found: {tmp_path / 'none' / 'x.db'}")


def non_utf8_checkout(tmp_path: Path) -> Path:
    """A directory named caf\\xe9 holding database/ with both databases, as in a checkout."""
    root = tmp_path / NON_UTF8
    (root / "database").mkdir(parents=True)
    for name in ("customers.db", "prefixes.db"):
        shutil.copyfile(REPO_ROOT / "database" / name, root / "database" / name)
    return root


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_under_a_directory_whose_name_is_not_utf8_is_read(
    command: str, tmp_path: Path
) -> None:
    root = non_utf8_checkout(tmp_path)
    name = "customers.db" if command == "collector" else "prefixes.db"
    for database in (root / "database" / name, Path("database") / name):  # absolute, relative
        completed = run_command(command, database, root)
        assert completed.returncode == 0, completed.stderr
        assert "Traceback" not in completed.stderr
    if command == "tree":
        assert "10.0.0.0/8" in completed.stdout
    else:
        assert " run ok: " in last_line(completed)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_message_naming_a_path_that_is_not_utf8_shows_its_bytes(
    command: str, tmp_path: Path
) -> None:
    root = non_utf8_checkout(tmp_path)
    completed = run_command(command, root / "database", root)
    assert completed.returncode == 1
    shown = str(root / "database").replace(NON_UTF8, "caf\\xe9")
    assert last_line(completed).endswith(
        f"database {shown} is a directory, not a SQLite database file"
    )


# Run as nobody: argv[1] the command's module and flags, joined by spaces; argv[2] the database.
RUN_AS_NOBODY = """
import runpy, sys
module, *flags = sys.argv[1].split()
sys.argv = [module, *flags, "--db", sys.argv[2]]
runpy.run_module(module, run_name="__main__")
"""


@pytest.mark.skipif(CANNOT_SWITCH, reason=CANNOT_SWITCH_REASON)
@pytest.mark.skipif(not SWITCHES_USER, reason="needs root, to make files another user may not read")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_or_wal_file_this_user_may_not_read_is_named_with_its_owner_and_mode(
    command: str,
) -> None:
    """SQLite says "unable to open database file"; the run must say which file, and why.

    Root ignores permissions, so nobody runs the command, from copies of the packages in a
    directory it may enter (the checkout and pytest's tmp_path may be out of its reach)."""
    with world_readable_directory() as directory:
        for package in {COMMANDS[command][0], "servicekit"}:
            copy_readable(REPO_ROOT / package, directory)
        directory.chmod(0o777)  # the outputs go here
        table = "customers" if command == "collector" else "prefixes"
        private = directory / "private.db"
        shutil.copyfile(REPO_ROOT / "database" / f"{table}.db", private)
        private.chmod(0o600)  # owned by root
        wal = directory / "wal.db"
        shutil.copyfile(REPO_ROOT / "database" / f"{table}.db", wal)
        wal.chmod(0o644)
        writer = sqlite3.connect(wal)
        try:
            writer.execute("PRAGMA journal_mode=WAL")
            writer.execute(f"DELETE FROM {table} WHERE id = 1")
            writer.commit()  # the open connection keeps wal.db-wal and wal.db-shm
            Path(f"{wal}-wal").chmod(0o600)
            Path(f"{wal}-shm").chmod(0o644)
            arguments = " ".join(COMMANDS[command])
            denied = run_python_as_nobody(directory, RUN_AS_NOBODY, arguments, str(private))
            wal_denied = run_python_as_nobody(directory, RUN_AS_NOBODY, arguments, str(wal))
            Path(f"{wal}-wal").chmod(0o644)
            wal_allowed = run_python_as_nobody(directory, RUN_AS_NOBODY, arguments, str(wal))
        finally:
            writer.close()
    who = "this process runs as uid 65534 gid 65534"
    assert denied.returncode == 1
    assert last_line(denied).endswith(
        f"cannot read database {private}: permission denied (owner uid 0, mode 0600; {who})"
    )
    assert wal_denied.returncode == 1
    assert last_line(wal_denied).endswith(
        f"cannot read database {wal}: permission denied on wal.db-wal (owner uid 0, mode 0600; "
        f"{who})"
    )
    assert wal_allowed.returncode == 0, wal_allowed.stderr  # the advice: let it read the -wal
