"""One run of the service: database -> closest parents -> prefixes.json, and its log line."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import NamedTuple

from ipam.output import write_if_changed
from ipam.parents import find_closest_parents
from ipam.report import report_json
from ipam.store import ID_COLUMN, read_prefix_table

__all__ = ["RunSummary", "run_once"]

log = logging.getLogger("ipam")

INVALID_IDS_SHOWN = 5


class RunSummary(NamedTuple):
    """What one run did, for the log line and for tests."""

    rows: int
    valid: int
    invalid: int
    with_parent: int
    written: bool
    seconds: float

    def describe(self) -> str:
        """The one log line per run."""
        outcome = "written" if self.written else "unchanged"
        return (
            f"{self.rows} rows, {self.valid} valid, {self.invalid} invalid, "
            f"{self.with_parent} with a parent; output {outcome}; {self.seconds:.2f} s"
        )


def run_once(database: Path, output: Path) -> RunSummary:
    """Read the table, find every row's closest parent, write the JSON if it changed.

    Raises IpamError (nothing written, any existing output untouched) when the database,
    table, column or output path is unusable. Invalid prefixes are not errors: their rows are
    kept in the output with an ``error`` key, and their ids are logged.
    """
    started = time.monotonic()
    table = read_prefix_table(database)
    result = find_closest_parents(table.prefixes)
    written = write_if_changed(output, report_json(table, result.parents, result.errors))

    id_index = table.columns.index(ID_COLUMN)
    invalid_ids = [row[id_index] for row, error in zip(table.rows, result.errors) if error]
    if invalid_ids:
        log.warning("invalid prefixes in rows with id %s", _some_ids(invalid_ids))
    invalid = len(invalid_ids)
    return RunSummary(
        rows=len(table.rows),
        valid=len(table.rows) - invalid,
        invalid=invalid,
        with_parent=len(result.parents) - result.parents.count(None),
        written=written,
        seconds=time.monotonic() - started,
    )


def _some_ids(ids: list[object]) -> str:
    """'3, 7, 9' or '3, 7, 9, 12, 15 and 42 more': a bad table must not flood the log."""
    shown = ", ".join(str(row_id) for row_id in ids[:INVALID_IDS_SHOWN])
    hidden = len(ids) - INVALID_IDS_SHOWN
    return f"{shown} and {hidden} more" if hidden > 0 else shown
