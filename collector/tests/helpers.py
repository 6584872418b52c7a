"""Fixtures built in the tests themselves: small SQLite databases and CSV readers."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

CUSTOMERS_SCHEMA = """CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name TEXT,
        address TEXT,
        email TEXT,
        phone TEXT,
        company TEXT,
        job TEXT
    )"""
HEADER = ["id", "name", "address", "email", "phone", "company", "occupation"]

Row = Sequence[object]

# Rows shaped like the exercise's, plus every awkward value a CSV must survive.
AWKWARD_ROWS: list[Row] = [
    (1, "Patrick Smith", "32390 Norris Falls\nSethland, NY 73456", "acasey@example.net",
     "(955)868-2264x2242", "Carlson, Good and Aguilar", "Sales professional, IT"),
    (2, "Zoë O'Connor", "Calle de Alcalá 1\r\nMadrid", "zoe@example.org", None,
     'The "Blue Door" Bakery', 'Chief "Happiness" Officer'),
    (3, "Nguyễn Thị Lan", "", "lan@example.com", "+1-770-843-0123", "Müller & Söhne GmbH", "Copy"),
    (4, " leading and trailing ", '"', ",", "\r", "\n", '""'),
    (5, "emoji 😀 and tab\there", "a,b\nc\"d", "x@example.com", "001-202-555-0143", "Initech", ""),
]  # fmt: skip


def as_sqlite(rows: Iterable[Row]) -> list[tuple[object, ...]]:
    """Rows as the collector reads them from SQLite: TEXT as UTF-8 bytearrays, the rest as is."""
    return [
        tuple(bytearray(value, "utf-8") if isinstance(value, str) else value for value in row)
        for row in rows
    ]


def make_database(
    path: Path, rows: Iterable[Row], schema: str = CUSTOMERS_SCHEMA, table: str = "customers"
) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute(schema)
        rows = list(rows)
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    connection.close()
    return path


def execute(path: Path, *statements: str, parameters: Sequence[object] = ()) -> None:
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement, parameters)
    connection.close()


def generated_rows(start: int, stop: int) -> list[Row]:
    """Exercise-shaped rows with ids start..stop-1 (deterministic)."""
    return [
        (
            i,
            f"Name {i}",
            f"{i} Main Street\nTown {i % 7}, ST {10000 + i}",
            f"user{i}@example.net",
            f"555-{i:07d}",
            "Carlson, Good and Aguilar" if i % 3 else 'The "Blue Door"',
            "Engineer, site" if i % 2 else "Copy",
        )
        for i in range(start, stop)
    ]


def csv_text(rows: Iterable[Row]) -> list[list[str]]:
    """What csv.reader gives back for rows written by csv.writer (NULL -> '')."""
    return [["" if value is None else str(value) for value in row] for row in rows]


def read_records(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def run_collector(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    """``python -m collector ARGS`` from the repository root, as the README says."""
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
