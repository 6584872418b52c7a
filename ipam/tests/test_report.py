"""The JSON document is exactly ``json.dumps`` of the records, however the rows are chunked."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import ipam.report
from ipam.report import report_json
from ipam.service import run_once
from ipam.store import PrefixTable
from ipam.tests.helpers import add_row, make_database
from servicekit.runs import RunError


def one_dumps(table: PrefixTable, parents: list, errors: list) -> bytes:
    """The specification written the obvious way: one list of dicts, one json.dumps."""
    records = []
    for row, parent, error in zip(table.rows, parents, errors):
        record = dict(zip(table.columns, row))
        if error is not None:
            record["error"] = error
        record["parent_prefix"] = parent
        records.append(record)
    return json.dumps(records, default=bytes.hex).encode("ascii") + b"\n"


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 4, 7])
def test_chunked_output_is_byte_for_byte_one_json_dumps(rows, monkeypatch) -> None:
    monkeypatch.setattr(ipam.report, "ROWS_PER_CHUNK", 3)
    table = PrefixTable(
        ("id", "prefix", "note", "data"),
        [(row, f"10.{row}.0.0/16", f"é{row}\n", b"\x00\xff") for row in range(rows)],
    )
    parents = [None if row % 2 else "10.0.0.0/8" for row in range(rows)]
    errors = [None if row % 3 else "not a valid IP network: 'x'" for row in range(rows)]
    assert report_json(table, parents, errors) == one_dumps(table, parents, errors)


def test_a_column_named_like_an_added_key_is_refused() -> None:
    for column in ("parent_prefix", "error"):
        with pytest.raises(RunError, match=column):
            report_json(PrefixTable(("id", "prefix", column), []), [], [])


def strict_loads(text: str) -> object:
    """json.loads that refuses Infinity, -Infinity and NaN, which are not JSON."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_infinite_reals_from_sqlite_are_written_as_strings_and_the_file_is_strict_json(
    tmp_path: Path,
) -> None:
    # SQLite stores 9e999 as +inf; json.dumps would write the bare word Infinity.
    database = make_database(
        tmp_path / "prefixes.db", [], schema="id INTEGER PRIMARY KEY, prefix TEXT, score REAL"
    )
    add_row(database, "1, '10.0.0.0/8', 9e999")
    add_row(database, "2, '10.1.0.0/16', -9e999")
    add_row(database, "3, '10.2.0.0/16', 1.5")
    output = tmp_path / "prefixes.json"
    run_once(database, output)
    assert strict_loads(output.read_text()) == [
        {"id": 1, "prefix": "10.0.0.0/8", "score": "Infinity", "parent_prefix": None},
        {"id": 2, "prefix": "10.1.0.0/16", "score": "-Infinity", "parent_prefix": "10.0.0.0/8"},
        {"id": 3, "prefix": "10.2.0.0/16", "score": 1.5, "parent_prefix": "10.0.0.0/8"},
    ]


def test_only_non_finite_floats_change_and_other_chunks_stay_byte_for_byte(monkeypatch) -> None:
    monkeypatch.setattr(ipam.report, "ROWS_PER_CHUNK", 3)
    special = {4: math.inf, 5: -math.inf, 6: math.nan}
    rows = [(row, f"10.{row}.0.0/16", special.get(row, row / 4)) for row in range(10)]
    as_text = {4: "Infinity", 5: "-Infinity", 6: "NaN"}  # NaN cannot come from SQLite (NULL)
    expected_rows = [(row, prefix, as_text.get(row, score)) for row, prefix, score in rows]
    parents, errors = [None] * 10, [None] * 10
    columns = ("id", "prefix", "score")
    written = report_json(PrefixTable(columns, [*rows]), parents, errors)
    assert written == one_dumps(PrefixTable(columns, [*expected_rows]), parents, errors)
    strict_loads(written.decode("ascii"))


def test_a_non_finite_float_that_escapes_the_conversion_fails_loudly(monkeypatch) -> None:
    monkeypatch.setattr(ipam.report, "_finite_records", lambda records: records, raising=False)
    with pytest.raises(ValueError):
        report_json(
            PrefixTable(("id", "prefix", "score"), [(1, "10.0.0.0/8", math.inf)]), [None], [None]
        )
