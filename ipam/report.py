"""Build ``prefixes.json``: one object per row, every stored column plus ``parent_prefix``.

A REAL holding +inf or -inf (or NaN, though SQLite stores that as NULL) is written as the string
"Infinity", "-Infinity" or "NaN": json.dumps's bare ``Infinity`` is not JSON, and strict parsers
would refuse the whole file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from ipam.store import PrefixTable
from servicekit.runs import RunError

PARENT_KEY = "parent_prefix"
ERROR_KEY = "error"
# Records are encoded this many at a time, then the pieces joined: the same bytes as one
# ``json.dumps`` of the whole list, without a million dicts alive at once (~200 MB at 1M rows,
# and fresh memory costs page faults: on a small VM those cost as much as the encoding).
ROWS_PER_CHUNK = 10_000


def report_json(
    table: PrefixTable, parents: Sequence[str | None], errors: Sequence[str | None]
) -> bytes:
    """The JSON document as bytes: the same table always gives the same bytes.

    Stored values are written as SQLite returned them (the ``prefix`` text is never rewritten).
    Keys keep the table's column order, then ``error`` (invalid rows only), then
    ``parent_prefix``. C-accelerated ``JSONEncoder.encode`` calls, one per chunk of records:
    per-row encoding or ``indent`` would cost more than finding the parents. The output is
    ASCII, byte for byte what ``json.dumps(records)`` of all rows followed by a newline gives,
    non-finite floats aside (strings, see above).
    """
    for reserved in (PARENT_KEY, ERROR_KEY):
        if reserved in table.columns:
            raise RunError(f"the table has a column named {reserved!r}, which the output adds")
    columns, rows = table.columns, table.rows
    # json.dumps's own defaults, except allow_nan: a non-finite float that is not converted
    # below fails the run rather than write a file that is not JSON.
    encode = json.JSONEncoder(default=_blob_as_hex, allow_nan=False).encode
    pieces = [b"["]
    for start in range(0, len(rows), ROWS_PER_CHUNK):
        stop = start + ROWS_PER_CHUNK
        records = []
        for row, parent, error in zip(rows[start:stop], parents[start:stop], errors[start:stop]):
            record = dict(zip(columns, row))
            if error is not None:
                record[ERROR_KEY] = error
            record[PARENT_KEY] = parent
            records.append(record)
        if start:
            pieces.append(b", ")  # json.dumps's item separator, between the chunks too
        try:
            text = encode(records)
        except ValueError:  # a non-finite float: rare, so only then look at every value
            text = encode(_finite_records(records))
        pieces.append(text[1:-1].encode("ascii"))  # the records without [ and ]
    pieces.append(b"]\n")
    return b"".join(pieces)


def _finite_records(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """The records with every non-finite float replaced by its name as a JSON string."""
    return [{key: json_safe(value) for key, value in record.items()} for record in records]


def json_safe(value: object) -> object:
    """A stored value as the JSON written of it: BLOBs as hex text (SQLite BLOBs have no JSON
    type), non-finite REALs as the strings "Infinity", "-Infinity" and "NaN"; others as they
    are. Every ipam output writes stored values through it (``tree --json`` too)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    return value


def json_value(value: object) -> str:
    """One stored value as JSON text, by the rule of ``json_safe``."""
    return json.dumps(json_safe(value))


def _blob_as_hex(value: object) -> str:
    """The encoder's fallback for what JSON has no type for: only BLOBs come from SQLite."""
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")  # pragma: no cover
