"""ipam's outputs never replace what it reads, each other, a device or a FIFO: a clash is refused
at start (exit 2, one line naming both flags, nothing written), a path that is not a regular
file fails the run before anything is written, and a killed writer's temp file never outlives a
steady run. The page's template files, when they cannot be read, are named."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ipam import page
from ipam.__main__ import main
from ipam.store import read_prefix_table
from ipam.tests.helpers import REPO_ROOT, failure, make_database
from servicekit.tests.test_reporting import readers_released

ROWS = [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("IPAM_HTML", "IPAM_OUTPUT", "IPAM_HEARTBEAT"):
        monkeypatch.delenv(name, raising=False)
    return make_database(tmp_path / "prefixes.db", ROWS)


def the_database(database: Path, spelling: str) -> str:
    """The database's file under another name: ``./D``, a symbolic link, a hard link."""
    if spelling == "symlink":
        (database.parent / "link.db").symlink_to(database.name)
        return "link.db"
    if spelling == "hard link":
        os.link(database, database.parent / "hard.db")
        return "hard.db"
    return {"same": str(database), "./D": f"./{database.name}"}[spelling]


@pytest.mark.parametrize("spelling", ["same", "./D", "symlink", "hard link"])
@pytest.mark.parametrize("flag", ["--html", "--output"])
def test_an_output_naming_the_database_is_refused_and_the_database_kept(
    database: Path, capsys: pytest.CaptureFixture[str], flag: str, spelling: str
) -> None:
    """The page (or the JSON) was renamed over the database, and the run said page=yes."""
    before = database.read_bytes()
    named = the_database(database, spelling)
    other = "--output" if flag == "--html" else "--html"
    other_path = "p.json" if flag == "--html" else "p.html"
    code = main(["--once", "--db", str(database), flag, named, other, other_path])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"python -m ipam: error: {flag} ({Path(named)}) and --db ({database}) name the same "
        f"file: the service reads --db and replaces {flag}; give them different paths"
    )
    assert database.read_bytes() == before
    assert len(read_prefix_table(database).rows) == 2  # still a database: tree reads it
    assert sorted(path.name for path in database.parent.iterdir() if "db" not in path.name) == []


def test_the_daemon_refuses_at_start(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("servicekit.daemon.run_daemon", None)  # called: a TypeError
    assert main(["--db", str(database), "--html", database.name]) == 2
    monkeypatch.setenv("IPAM_HEARTBEAT", "out.json")
    assert main(["--db", str(database), "--output", "./out.json"]) == 2


def test_html_equal_to_output_is_refused_from_a_flag_or_the_variable(
    database: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each overwrote the other on every run: the JSON file held HTML."""
    assert main(["--once", "--db", str(database), "--output", "p.json", "--html", "p.json"]) == 2
    monkeypatch.setenv("IPAM_HTML", "./p.json")
    assert main(["--once", "--db", str(database), "--output", "p.json"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "python -m ipam: error: --output (p.json) and --html (p.json) name the same file: each "
        "would overwrite the other; give them different paths",
        "python -m ipam: error: --output (p.json) and --html (p.json) name the same file: each "
        "would overwrite the other; give them different paths",
    ]
    assert not (database.parent / "p.json").exists()
    assert main(["--once", "--db", str(database), "--output", "p.json", "--no-html"]) == 0


def test_the_heartbeat_naming_an_output_and_the_page_naming_its_template_are_refused(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    once = ["--once", "--db", str(database), "--output", "p.json"]
    assert main([*once, "--heartbeat", "prefixes.html"]) == 2  # the page's default path
    assert main([*once, "--heartbeat", str(database)]) == 2
    assert main([*once, "--html", str(page.template_files()[2])]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(") and ")[1].split(" (")[0] for line in lines] == [
        "--heartbeat",
        "--db",
        "the page's template",
    ]


# -- Outputs that are not regular files: left alone, the run failed in one line


def test_a_fifo_as_the_page_fails_the_run_instead_of_hanging_it(tmp_path: Path) -> None:
    """The "is it current" check opened it for reading: the run never finished. The timeout
    turns a regression into a failure instead of a hung test run."""
    database = make_database(tmp_path / "prefixes.db", ROWS)
    os.mkfifo(tmp_path / "page.html")
    completed = subprocess.run(
        [sys.executable, "-m", "ipam", "--once", "--db", str(database), "--html", "page.html",
         "--output", "p.json"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True,
        text=True, timeout=20, check=False,
    )  # fmt: skip
    assert completed.returncode == 1
    assert failure(completed.stderr) == (
        "page.html is a FIFO (named pipe), not a regular file; it is left alone; --no-html "
        "(IPAM_HTML=off) writes no page"
    )
    assert (tmp_path / "page.html").is_fifo()
    assert not (tmp_path / "p.json").exists()  # refused before anything was written


def test_is_current_never_waits_on_a_fifo_put_there_after_the_check(tmp_path: Path) -> None:
    fifo = tmp_path / "page.html"
    os.mkfifo(fifo)
    with readers_released(fifo) as waited:
        assert not page.is_current(fifo, b"<!DOCTYPE html>")
    assert waited == []


def character_device(path: Path) -> Path:
    """A node for the null device, as /dev/null is (only root may make one)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("only root may make a device node")
    return path


@pytest.mark.parametrize("flag", ["--html", "--output"])
def test_a_device_is_left_alone_not_replaced_by_a_file(
    database: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """``--html /dev/null`` replaced the device node with a page (as root, the system's)."""
    device = character_device(database.parent / "null")
    other = {"--html": ["--output", "p.json"], "--output": ["--html", "p.html"]}[flag]
    assert main(["--once", "--db", str(database), flag, str(device), *other]) == 1
    hint = "; --no-html (IPAM_HTML=off) writes no page" if flag == "--html" else ""
    assert failure(capsys.readouterr().err) == (
        f"{device} is a character device, not a regular file; it is left alone{hint}"
    )
    assert stat.S_ISCHR(device.stat().st_mode)
    assert not (database.parent / other[1]).exists()


@pytest.mark.parametrize("kind", ["directory", "socket"])
def test_a_directory_or_a_socket_is_left_alone(
    database: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = database.parent / "p.html"
    if kind == "directory":
        path.mkdir()
    else:
        import socket  # noqa: PLC0415

        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
    assert main(["--once", "--db", str(database), "--output", "p.json", "--html", "p.html"]) == 1
    assert f"p.html is a {kind}, not a regular file" in failure(capsys.readouterr().err)


def test_an_unreadable_output_directory_is_named(
    database: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stat = Path.stat

    def failing_stat(self: Path, **kwargs: bool) -> os.stat_result:
        if self.name == "p.json":
            raise PermissionError(13, "Permission denied")
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", failing_stat)
    assert main(["--once", "--db", str(database), "--output", "p.json", "--no-html"]) == 1
    assert failure(capsys.readouterr().err) == "cannot read .: Permission denied"


# -- Temp files of killed page writers


def test_a_killed_writers_temp_file_goes_even_when_the_page_is_current(database: Path) -> None:
    """The clean-up ran only when the page was rewritten: a steady run kept it (17 MB at 1M)."""
    once = ["--once", "--db", str(database), "--output", "p.json", "--html", "p.html"]
    assert main(once) == 0
    stale = database.parent / ".p.html.killed.tmp"  # unlocked: its writer is gone
    stale.write_bytes(b"<!DOCTYPE html> half a page")
    assert main(once) == 0
    assert not stale.exists()


# -- The page's template, unreadable: named


STRACE = shutil.which("strace")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.parametrize("template", page.template_files(), ids=lambda path: path.name)
def test_an_unreadable_template_file_is_named_with_the_step(tmp_path: Path, template: Path) -> None:
    """EIO injected by strace into the read() of that one file (``-P``): the run said only
    ``OSError: [Errno 5] Input/output error``."""
    database = make_database(tmp_path / "prefixes.db", ROWS)
    completed = subprocess.run(
        [str(STRACE), "-qq", "-f", "-o", "/dev/null", "-P", str(template), "-e", "trace=read",
         "-e", "inject=read:error=EIO", sys.executable, "-m", "ipam", "--once", "--db",
         str(database), "--output", "p.json"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert failure(completed.stderr) == (
        f"cannot read the page's template {template}: Input/output error"
    )
    assert (tmp_path / "p.json").exists()  # the JSON came first, as always
    assert not (tmp_path / "prefixes.html").exists()
