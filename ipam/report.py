"""Build ``prefixes.json``: one object per row, every stored column plus ``parent_prefix``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ipam.errors import IpamError
from ipam.store import PrefixTable

__all__ = ["ERROR_KEY", "PARENT_KEY", "report_json"]

PARENT_KEY = "parent_prefix"
ERROR_KEY = "error"


def report_json(
    table: PrefixTable, parents: Sequence[str | None], errors: Sequence[str | None]
) -> bytes:
    """The JSON document as bytes: the same table always gives the same bytes.

    Stored values are written as SQLite returned them (the ``prefix`` text is never rewritten).
    Keys keep the table's column order, then ``error`` (invalid rows only), then
    ``parent_prefix``. One C-accelerated ``json.dumps`` call over the whole list: per-row
    encoding or ``indent`` would cost more than finding the parents. The output is ASCII.
    """
    for reserved in (PARENT_KEY, ERROR_KEY):
        if reserved in table.columns:
            raise IpamError(f"the table has a column named {reserved!r}, which the output adds")
    columns = table.columns
    records = []
    for row, parent, error in zip(table.rows, parents, errors):
        record = dict(zip(columns, row))
        if error is not None:
            record[ERROR_KEY] = error
        record[PARENT_KEY] = parent
        records.append(record)
    return json.dumps(records, default=_blob_as_hex).encode("ascii") + b"\n"


def _blob_as_hex(value: object) -> str:
    """SQLite BLOBs have no JSON type: write them as hex text rather than fail the run."""
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")  # pragma: no cover
