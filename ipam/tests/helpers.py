"""What several ipam test modules need: a prefixes database and the cause in a failed run's line."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "id INTEGER PRIMARY KEY, prefix TEXT"


def make_database(path: Path, rows: Sequence[tuple[object, ...]], schema: str = SCHEMA) -> Path:
    """A ``prefixes`` table with ``schema`` holding ``rows`` (whole rows, id first)."""
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE prefixes ({schema})")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO prefixes VALUES ({marks})", rows)
    connection.close()
    return path


def add_row(database: Path, sql_values: str) -> None:
    """Insert one row given as SQL, e.g. ``"3, '10.1.1.0/24'"``."""
    with sqlite3.connect(database) as connection:
        connection.execute(f"INSERT INTO prefixes VALUES ({sql_values})")
    connection.close()


def failure(err: str) -> str:
    """The cause in the one line a failed run logs (and the check that it is one line)."""
    (line,) = err.splitlines()
    _time, rest = line.split(" ", 1)
    assert rest.startswith("ERROR ipam: run failed: "), line
    return rest[len("ERROR ipam: run failed: ") :]
