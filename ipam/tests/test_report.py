"""The JSON document is exactly ``json.dumps`` of the records, however the rows are chunked."""

from __future__ import annotations

import json

import pytest

import ipam.report
from ipam.errors import IpamError
from ipam.report import report_json
from ipam.store import PrefixTable


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
        with pytest.raises(IpamError, match=column):
            report_json(PrefixTable(("id", "prefix", column), []), [], [])
