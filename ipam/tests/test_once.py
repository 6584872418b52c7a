"""``python -m ipam --once`` on real temporary SQLite databases."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import ipam.store
from ipam.__main__ import DEFAULT_HEARTBEAT, main
from ipam.runs import Settings, perform_run

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_database(
    path: Path, rows: list[tuple], schema: str = "id INTEGER PRIMARY KEY, prefix TEXT"
):
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE prefixes ({schema})")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO prefixes VALUES ({marks})", rows)
    connection.close()
    return path


def failure(err: str) -> str:
    """The cause in the one line a failed run logs."""
    (line,) = err.splitlines()
    _time, rest = line.split(" ", 1)
    assert rest.startswith("ERROR ipam: run failed: "), line
    return rest[len("ERROR ipam: run failed: ") :]


def run(database: Path, output: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--once", "--db", str(database), "--output", str(output)])
    return code, capsys.readouterr().err


def test_exercise_table_every_row_kept_and_the_five_siblings_have_no_parent(tmp_path, capsys):
    rows = [(row_id, f"10.10.{row_id}.0/24") for row_id in range(1, 6)]
    database = make_database(tmp_path / "prefixes.db", rows)
    output = tmp_path / "prefixes.json"
    code, _ = run(database, output, capsys)
    assert code == 0
    assert json.loads(output.read_text()) == [
        {"id": row_id, "prefix": prefix, "parent_prefix": None} for row_id, prefix in rows
    ]
    assert stat.S_IMODE(output.stat().st_mode) == 0o644


def test_rows_sorted_by_id_with_every_column_and_the_stored_text(tmp_path, capsys):
    database = make_database(
        tmp_path / "prefixes.db",
        [
            (3, " 10.1.2.3/24", "office", 1.5, None, b"\x01\xff"),
            (1, "10.0.0.0/8", 'héllo, "quoted"\nline', 2, "x", None),
            (2, "2001:DB8::/32", "v6", 0, None, None),
            (4, "2001:db8:1::/48", "v6 child", 0, None, None),
        ],
        schema="id INTEGER PRIMARY KEY, prefix TEXT, site TEXT, weight REAL, note, data BLOB",
    )
    output = tmp_path / "prefixes.json"
    assert run(database, output, capsys)[0] == 0
    assert json.loads(output.read_text()) == [
        {
            "id": 1,
            "prefix": "10.0.0.0/8",
            "site": 'héllo, "quoted"\nline',
            "weight": 2,
            "note": "x",
            "data": None,
            "parent_prefix": None,
        },
        {
            "id": 2,
            "prefix": "2001:DB8::/32",
            "site": "v6",
            "weight": 0,
            "note": None,
            "data": None,
            "parent_prefix": None,
        },
        {
            "id": 3,
            "prefix": " 10.1.2.3/24",
            "site": "office",
            "weight": 1.5,
            "note": None,
            "data": "01ff",
            "parent_prefix": "10.0.0.0/8",
        },
        {
            "id": 4,
            "prefix": "2001:db8:1::/48",
            "site": "v6 child",
            "weight": 0,
            "note": None,
            "data": None,
            "parent_prefix": "2001:db8::/32",
        },
    ]
    assert list(json.loads(output.read_text())[0]) == [
        "id",
        "prefix",
        "site",
        "weight",
        "note",
        "data",
        "parent_prefix",
    ]
    output.read_bytes().decode("ascii")  # ASCII only: non-ASCII text is escaped


def test_invalid_rows_are_kept_with_an_error_and_logged_by_id(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="ipam")
    rows = [(1, "10.0.0.0/8"), (2, "300.1.1.0/24"), (3, None), (4, "10.1.0.0/16"), (5, "")]
    rows += [(row_id, "not-a-prefix") for row_id in range(6, 14)]
    database = make_database(tmp_path / "prefixes.db", rows)
    output = tmp_path / "prefixes.json"
    code, _ = run(database, output, capsys)
    log = caplog.text
    assert code == 0
    records = json.loads(output.read_text())
    assert [record["id"] for record in records] == list(range(1, 14))
    assert "error" not in records[0] and "error" not in records[3]
    assert records[3]["parent_prefix"] == "10.0.0.0/8"
    for record in records[1:3] + records[4:]:
        assert record["parent_prefix"] is None
        assert isinstance(record["error"], str) and record["error"]
        assert list(record)[-2:] == ["error", "parent_prefix"]
    assert records[1]["prefix"] == "300.1.1.0/24"  # the stored value, untouched
    assert "run ok: rows=13 valid=2 invalid=11 with_parent=1 written=yes" in log
    assert " invalid_ids=2,3,5,6,7,+6more" in log


def test_same_table_same_bytes_and_an_unchanged_file_is_not_rewritten(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="ipam")
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")])
    output = tmp_path / "prefixes.json"
    assert run(database, output, capsys)[0] == 0
    first = output.read_bytes()
    os.utime(output, (1_000_000_000, 1_000_000_000))
    caplog.clear()
    code, _ = run(database, output, capsys)
    assert code == 0
    assert " written=no " in caplog.text
    assert output.stat().st_mtime == 1_000_000_000
    assert output.read_bytes() == first
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO prefixes VALUES (3, '10.1.1.0/24')")
    connection.close()
    assert run(database, output, capsys)[0] == 0
    assert output.stat().st_mtime != 1_000_000_000
    assert json.loads(output.read_bytes())[-1]["parent_prefix"] == "10.1.0.0/16"
    assert [path.name for path in tmp_path.iterdir()] != []
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


def test_a_file_of_the_same_size_but_other_content_is_replaced(tmp_path, capsys):
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    output = tmp_path / "prefixes.json"
    assert run(database, output, capsys)[0] == 0
    good = output.read_bytes()
    output.write_bytes(b"x" * len(good))
    assert run(database, output, capsys)[0] == 0
    assert output.read_bytes() == good


def test_missing_database_is_an_error_and_is_not_created(tmp_path, capsys):
    database = tmp_path / "no-such.db"
    output = tmp_path / "prefixes.json"
    output.write_text("previous")
    code, err = run(database, output, capsys)
    assert code == 1
    assert failure(err) == f"database not found: {database}"
    assert not database.exists()
    assert output.read_text() == "previous"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (None, "no table 'prefixes'"),
        ("id INTEGER PRIMARY KEY, cidr TEXT", "has no 'prefix' column"),
        ("rowname TEXT, prefix TEXT", "has no 'id' column"),
        ("id INTEGER PRIMARY KEY, prefix TEXT, parent_prefix TEXT", "column named 'parent_prefix'"),
    ],
)
def test_missing_table_or_column_is_one_clear_line(tmp_path, capsys, schema, message):
    database = tmp_path / "prefixes.db"
    if schema is None:
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE other (id INTEGER)")
        connection.close()
    else:
        make_database(database, [], schema=schema)
    output = tmp_path / "prefixes.json"
    output.write_text("previous")
    code, err = run(database, output, capsys)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert output.read_text() == "previous"


def test_text_that_is_not_utf8_is_kept_with_replacement_characters(tmp_path, capsys):
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")])
    with sqlite3.connect(database) as connection:
        bad_utf8 = "CAST(X'31302EFF2E302E302F3136' AS TEXT)"  # b"10.\xff.0.0/16"
        connection.execute(f"INSERT INTO prefixes VALUES (3, {bad_utf8})")
    connection.close()
    output = tmp_path / "prefixes.json"
    assert run(database, output, capsys)[0] == 0
    records = json.loads(output.read_text())
    assert records[1]["parent_prefix"] == "10.0.0.0/8"
    assert records[2]["prefix"] == "10.\ufffd.0.0/16"
    assert records[2]["parent_prefix"] is None
    assert "error" in records[2]


def test_other_read_errors_are_one_clear_line(tmp_path, capsys, monkeypatch):
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])

    def failing_read(connection: sqlite3.Connection) -> list:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ipam.store, "_all_rows", failing_read)
    code, err = run(database, tmp_path / "out.json", capsys)
    assert code == 1
    assert err.strip().endswith("disk I/O error")
    assert failure(err).startswith("cannot read table 'prefixes'")


def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path, capsys):
    database = tmp_path / "prefixes.db"
    database.write_text("this is not SQLite " * 100)
    code, err = run(database, tmp_path / "out.json", capsys)
    assert code == 1
    assert failure(err).startswith("cannot read table 'prefixes'")
    assert len(err.strip().splitlines()) == 1


def test_paths_with_uri_characters_work(tmp_path, capsys):
    folder = tmp_path / "odd ?#% name"
    folder.mkdir()
    database = make_database(folder / "p?x#1.db", [(1, "10.0.0.0/8")])
    assert run(database, folder / "out.json", capsys)[0] == 0
    assert json.loads((folder / "out.json").read_text())[0]["prefix"] == "10.0.0.0/8"


@pytest.mark.parametrize(
    "where", ["missing-directory", "parent-is-a-file", "target-is-a-directory"]
)
def test_unwritable_output_is_an_error_and_leaves_nothing_behind(tmp_path, capsys, where):
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    output = {
        "missing-directory": tmp_path / "missing" / "prefixes.json",
        "parent-is-a-file": blocker / "prefixes.json",
        "target-is-a-directory": tmp_path / "a-directory",
    }[where]
    if where == "target-is-a-directory":
        output.mkdir()
    code, err = run(database, output, capsys)
    assert code == 1
    assert failure(err).startswith("cannot ")
    assert str(output) in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
    if where == "target-is-a-directory":
        assert list(output.iterdir()) == []


def test_replace_failure_removes_the_temp_file(tmp_path, capsys, monkeypatch):
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])

    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    code, err = run(database, tmp_path / "prefixes.json", capsys)
    assert code == 1
    assert "Permission denied" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["prefixes.db"]


def test_environment_variables_are_the_defaults(tmp_path):
    database = make_database(tmp_path / "env.db", [(1, "10.0.0.0/8"), (2, "10.2.0.0/16")])
    output = tmp_path / "env.json"
    environment = {**os.environ, "IPAM_DB": str(database), "IPAM_OUTPUT": str(output)}
    completed = subprocess.run(
        [sys.executable, "-m", "ipam", "--once"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(output.read_text())[1]["parent_prefix"] == "10.0.0.0/8"
    assert "run ok: rows=2 valid=2 invalid=0 with_parent=1 written=yes" in completed.stderr


def test_defaults_are_relative_to_the_working_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "database").mkdir()
    (tmp_path / "output").mkdir()
    make_database(tmp_path / "database" / "prefixes.db", [(1, "10.0.0.0/8")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IPAM_DB", raising=False)
    monkeypatch.delenv("IPAM_OUTPUT", raising=False)
    assert main(["--once"]) == 0
    assert json.loads((tmp_path / "output" / "prefixes.json").read_text())[0]["id"] == 1


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--db", "--output", "--interval-seconds", "--once", "IPAM_DB", "IPAM_OUTPUT"):
        assert option in text
    assert "IPAM_INTERVAL_SECONDS" in text


@pytest.mark.parametrize("interval", ["0", "-5", "soon", "nan", "inf", "7.5"])
def test_bad_interval_is_refused(interval, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--interval-seconds", interval])
    assert exit_info.value.code == 2
    assert "must be a whole number of seconds above 0" in capsys.readouterr().err


def test_without_once_the_daemon_gets_the_flags_and_environment(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("ipam.daemon.run_daemon", lambda *arguments: calls.append(arguments) or 0)
    monkeypatch.setenv("IPAM_INTERVAL_SECONDS", "7")
    monkeypatch.setenv("IPAM_OUTPUT", str(tmp_path / "env.json"))
    monkeypatch.delenv("IPAM_HEARTBEAT", raising=False)
    assert main(["--db", str(tmp_path / "flag.db")]) == 0
    ((perform, interval, heartbeat, description),) = calls
    expected = Settings(tmp_path / "flag.db", tmp_path / "env.json", Path(DEFAULT_HEARTBEAT), 7)
    assert perform.func is perform_run
    assert perform.args == (expected,)
    assert (interval, heartbeat) == (7, Path(DEFAULT_HEARTBEAT))
    assert description == f"{tmp_path / 'flag.db'} -> {tmp_path / 'env.json'}"
