"""One run of the service: database -> closest parents -> prefixes.json, and what it did."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

from ipam.output import write_if_changed
from ipam.parents import find_closest_parents
from ipam.report import report_json
from ipam.store import ID_COLUMN, read_prefix_table

__all__ = ["RunSummary", "run_once"]


class RunSummary(NamedTuple):
    """What one run did, for the log line and for tests."""

    rows: int
    valid: int
    invalid_ids: list[object]  # the id of every row whose prefix is not a valid network
    with_parent: int
    written: bool
    seconds: float


def run_once(database: Path, output: Path) -> RunSummary:
    """Read the table, find every row's closest parent, write the JSON if it changed.

    Raises IpamError (nothing written, any existing output untouched) when the database,
    table, column or output path is unusable. Invalid prefixes are not errors: their rows are
    kept in the output with an ``error`` key, and their ids are returned.
    """
    started = time.monotonic()
    table = read_prefix_table(database)
    result = find_closest_parents(table.prefixes)
    written = write_if_changed(output, report_json(table, result.parents, result.errors))

    id_index = table.columns.index(ID_COLUMN)
    invalid_ids = [row[id_index] for row, error in zip(table.rows, result.errors) if error]
    return RunSummary(
        rows=len(table.rows),
        valid=len(table.rows) - len(invalid_ids),
        invalid_ids=invalid_ids,
        with_parent=len(result.parents) - result.parents.count(None),
        written=written,
        seconds=time.monotonic() - started,
    )
