"""One ipam run: database -> closest parents -> prefixes.json, and what it did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ipam.output import write_if_changed
from ipam.parents import find_closest_parents
from ipam.report import report_json
from ipam.store import read_prefix_table
from servicekit.runs import first_ids


@dataclass(frozen=True)
class RunResult:
    """What one run did, for the log line and for tests."""

    rows: int
    valid: int
    invalid_ids: list[object]  # the id of every row whose prefix is not a valid network
    with_parent: int
    written: bool  # False: prefixes.json already held these very bytes

    def details(self) -> dict[str, str]:
        details = {
            "rows": str(self.rows),
            "valid": str(self.valid),
            "invalid": str(len(self.invalid_ids)),
            "with_parent": str(self.with_parent),
            "written": "yes" if self.written else "no",
        }
        if self.invalid_ids:
            details["invalid_ids"] = first_ids(self.invalid_ids)
        return details


def run_once(database: Path, output: Path) -> RunResult:
    """Read the table, find every row's closest parent, write the JSON if it changed.

    Raises RunError (nothing written, any existing output untouched) when the database,
    table, column or output path is unusable. Invalid prefixes are not errors: their rows are
    kept in the output with an ``error`` key, and their ids are returned.
    """
    table = read_prefix_table(database)
    result = find_closest_parents(table.prefixes)
    written = write_if_changed(output, report_json(table, result.parents, result.errors))
    invalid_ids = [row_id for row_id, error in zip(table.ids, result.errors) if error]
    return RunResult(
        rows=len(table.rows),
        valid=len(table.rows) - len(invalid_ids),
        invalid_ids=invalid_ids,
        with_parent=len(result.parents) - result.parents.count(None),
        written=written,
    )
