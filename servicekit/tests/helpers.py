"""Running something as another user, wherever the checkout lives.

Root ignores file permissions, so a test that needs to meet one (a heartbeat nobody may read, a
read-only directory) runs its command as ``nobody`` through ``setpriv``. The checkout may sit
where nobody cannot go (a clone in a 0700 directory, a 0750 home; pytest's own tmp_path is under
a 0700 directory too), so what the command runs is first copied into a fresh world-readable
temporary directory: the shell script, or the Python packages it imports. The interpreter itself
cannot be copied: when nobody cannot run it (a Python under /root), the test skips, saying so.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
SWITCHES_USER = os.geteuid() == 0  # root: commands run as nobody; anyone else: as themselves
CANNOT_SWITCH = SWITCHES_USER and shutil.which("setpriv") is None
CANNOT_SWITCH_REASON = "root ignores file permissions, and setpriv (util-linux) is not installed"


def as_nobody(command: list[str]) -> list[str]:
    """``command`` as uid and gid 65534 with no groups when run by root; unchanged otherwise."""
    if not SWITCHES_USER:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


@contextmanager
def world_readable_directory() -> Iterator[Path]:
    """A fresh temp directory, mode 0755, removed afterwards (whatever its mode by then)."""
    directory = Path(tempfile.mkdtemp(prefix="servicekit-tests-"))
    try:
        directory.chmod(0o755)
        yield directory
    finally:
        # A test may have left a directory in it read-only, which only root could empty.
        for path in [directory, *directory.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(directory)


def copy_readable(source: Path, directory: Path) -> Path:
    """Copy a file or a package (without tests and bytecode) into ``directory``, readable by all.

    Modes are set, not copied: a clone made under umask 077 holds 0600 files.
    """
    target = directory / source.name
    if source.is_file():
        shutil.copyfile(source, target)
        target.chmod(0o644)
        return target
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc"),
        copy_function=shutil.copyfile,
    )
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def python_as_nobody(directory: Path) -> list[str]:
    """The command that runs this interpreter as nobody, or a skip naming why it cannot."""
    command = as_nobody([sys.executable, "-c", "import sqlite3"])
    try:
        probe = subprocess.run(
            command, cwd=directory, capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as error:  # pragma: no cover - depends on where Python is installed
        pytest.skip(f"cannot run {sys.executable} as uid {NOBODY}: {error}")
    if probe.returncode != 0:  # pragma: no cover - depends on where Python is installed
        reason = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(
            f"this interpreter, {sys.executable} (really {os.path.realpath(sys.executable)}), "
            f"cannot be run as uid {NOBODY}, which cannot reach it: {reason}"
        )
    return as_nobody([sys.executable])


def run_python_as_nobody(
    directory: Path, code: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as nobody with only ``directory`` (the copied packages) on the path."""
    return subprocess.run(
        [*python_as_nobody(directory), "-c", code, *arguments],
        cwd=directory,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(directory),
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def opened_path(fd: int) -> str:
    """The path a descriptor of this process was opened at (after renames: where it is now)."""
    return os.readlink(f"/proc/self/fd/{fd}")


def fail_close_of(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """``os.close`` of a descriptor of ``path`` closes it, then fails with EIO, as close reports
    a write-back error on NFS, CIFS and FUSE mounts (the descriptor is gone all the same). The
    list names each descriptor it failed for."""
    real_close = os.close
    failed: list[str] = []

    def close(fd: int) -> None:
        try:
            where = opened_path(fd)
        except OSError:  # not open: the real close says so
            where = ""
        real_close(fd)
        if where == str(path):
            failed.append(where)
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "close", close)
    return failed
