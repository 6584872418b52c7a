"""``python -m ipam allocate`` under contention: 24 processes at once on one table, in WAL and in
rollback-journal mode, with a reader drawing the tree beside them. No two ever get the same
block, and together they get exactly the first free blocks of the table as it was."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ipam.free import FreeSpace
from ipam.hierarchy import build_hierarchy
from ipam.networks import network_key, network_text
from ipam.tests.helpers import REPO_ROOT, make_database

PROCESSES = 24
PARENT = "10.0.0.0/16"
# Used space scattered through the /16, so that the free /24s are not one run.
USED = [
    PARENT,
    "10.0.1.0/24",
    "10.0.2.128/25",
    "10.0.4.0/22",
    "10.0.9.64/26",
    "10.0.13.0/24",
    "10.0.13.0/24",  # a duplicate row
    "10.0.20.0/23",
    "10.0.33.7/32",
    "10.0.40.0/21",
    "10.0.128.0/17",
    "junk",  # an invalid row: ignored
]


def first_free(database: Path, count: int) -> list[str]:
    with sqlite3.connect(database) as connection:
        values = [row[0] for row in connection.execute("SELECT prefix FROM prefixes")]
    connection.close()
    root = network_key(PARENT)
    assert not isinstance(root, str)
    space = FreeSpace(build_hierarchy(values), root, 24, count)
    return [network_text(block) for block in space.blocks()]


def table(database: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, prefix FROM prefixes ORDER BY id").fetchall()
    connection.close()
    return rows


def contend(database: Path, count: int) -> tuple[list[subprocess.CompletedProcess[str]], int]:
    """Start every allocating process at once, with a reader drawing the tree until they are all
    done; their results, and how many times the reader drew the tree (every one exit 0)."""
    done = threading.Event()
    reader_runs: list[int] = []

    def read() -> None:
        while not done.is_set() or not reader_runs:
            reader = subprocess.run(
                [sys.executable, "-m", "ipam", "tree", "--db", str(database)],
                cwd=REPO_ROOT,
                capture_output=True,
                timeout=120,
                check=False,
            )
            assert reader.returncode == 0, reader.stderr
            reader_runs.append(reader.returncode)

    reader = threading.Thread(target=read)
    reader.start()
    command = [sys.executable, "-m", "ipam", "allocate", PARENT, "--length", "24"]
    processes = [
        subprocess.Popen(
            [*command, "--count", str(count), "--json", "--db", str(database)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    done.set()
    reader.join(timeout=300)
    return results, len(reader_runs)


def make_table(tmp_path: Path, journal_mode: str) -> Path:
    database = make_database(tmp_path / "prefixes.db", list(enumerate(USED, start=1)))
    with sqlite3.connect(database) as connection:
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
    connection.close()
    return database


def overlaps_only_ancestors(database: Path, new: set[str]) -> None:
    """No new block overlaps a row of the table other than itself and its ancestors."""
    rows = table(database)
    for prefix in new:
        block = ipaddress.ip_network(prefix)
        for _row_id, value in rows:
            if value in (prefix, "junk"):
                continue
            other = ipaddress.ip_network(value)
            inside = block != other and block.subnet_of(other)  # type: ignore[arg-type]
            assert not block.overlaps(other) or inside, (prefix, value)


@pytest.mark.parametrize("journal_mode", ["WAL", "DELETE"])
def test_every_caller_gets_its_own_blocks_the_first_free_ones(
    tmp_path: Path, journal_mode: str
) -> None:
    database = make_table(tmp_path, journal_mode)
    before = table(database)
    expected = first_free(database, 2 * PROCESSES)
    assert len(expected) == 2 * PROCESSES
    assert first_free(database, 2 * PROCESSES + 1)[-1] not in expected  # more were free

    results, reads = contend(database, 2)

    assert [(result.returncode, result.stderr) for result in results] == [(0, "")] * PROCESSES
    allocated = [json.loads(line) for result in results for line in result.stdout.splitlines()]
    prefixes = [item["prefix"] for item in allocated]
    assert len(prefixes) == 2 * PROCESSES
    assert sorted(prefixes, key=network_key) == expected  # distinct, and the first free ones
    after = table(database)
    assert after[: len(before)] == before
    assert sorted(after[len(before) :]) == sorted(
        (item["id"], item["prefix"]) for item in allocated
    )
    overlaps_only_ancestors(database, set(prefixes))
    assert reads >= 1
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0].upper() == journal_mode
    connection.close()


@pytest.mark.parametrize("journal_mode", ["WAL", "DELETE"])
def test_when_too_few_are_left_the_losers_exit_3_and_insert_nothing(
    tmp_path: Path, journal_mode: str
) -> None:
    database = make_table(tmp_path, journal_mode)
    everything = first_free(database, 10_000)
    # Leave 50 free /24s: 16 callers of 3 get theirs, 2 are left, 8 callers find too few.
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "INSERT INTO prefixes (prefix) VALUES (?)", [(prefix,) for prefix in everything[50:]]
        )
    connection.close()
    before = table(database)
    expected = first_free(database, 48)

    results, _reads = contend(database, 3)

    winners = [result for result in results if result.returncode == 0]
    losers = [result for result in results if result.returncode != 0]
    assert len(winners) == 16
    for loser in losers:
        assert (loser.returncode, loser.stdout) == (3, "")
        assert loser.stderr == (
            f"python -m ipam allocate: 2 free /24 in {PARENT}, 3 asked: nothing allocated\n"
        )
    prefixes = [
        json.loads(line)["prefix"] for result in winners for line in result.stdout.splitlines()
    ]
    assert sorted(prefixes, key=network_key) == expected
    after = table(database)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 48  # the losers inserted nothing
    assert first_free(database, 10) == everything[48:50]
