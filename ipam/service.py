"""One ipam run: database -> closest parents -> prefixes.json and prefixes.html, and what it did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ipam import page
from ipam.hierarchy import Hierarchy, build_hierarchy
from ipam.output import write_if_changed, write_pieces
from ipam.parents import closest_parents
from ipam.report import report_json
from ipam.store import PrefixTable, read_prefix_table
from servicekit.files import not_a_regular_file, remove_stale_temp_files
from servicekit.runs import RunError, first_ids, on_os_error


@dataclass(frozen=True)
class RunResult:
    """What one run did, for the log line and for tests."""

    rows: int
    valid: int
    invalid_ids: list[object]  # the id of every row whose prefix is not a valid network
    with_parent: int
    written: bool  # False: prefixes.json already held these very bytes
    page: str = "off"  # prefixes.html: "yes" written, "no" already current, "off" not asked for

    def details(self) -> dict[str, str]:
        details = {
            "rows": str(self.rows),
            "valid": str(self.valid),
            "invalid": str(len(self.invalid_ids)),
            "with_parent": str(self.with_parent),
            "written": "yes" if self.written else "no",
            "page": self.page,
        }
        if self.invalid_ids:
            details["invalid_ids"] = first_ids(self.invalid_ids)
        return details


def run_once(database: Path, output: Path, html: Path | None = None) -> RunResult:
    """Read the table, find every row's closest parent, write the JSON if it changed, and the
    page at ``html`` (None: no page) if it is missing or shows other data or another version.

    Raises RunError (nothing written, any existing output untouched) when the database,
    table, column or output path is unusable. Invalid prefixes are not errors: their rows are
    kept in the output with an ``error`` key, and their ids are returned.
    """
    _refuse_unless_regular(output)
    if html is not None:
        _refuse_unless_regular(html, page=True)
    table = read_prefix_table(database)
    hierarchy = build_hierarchy(table.prefixes)  # one walk for the JSON and the page
    result = closest_parents(hierarchy)
    json_bytes = report_json(table, result.parents, result.errors)
    written = write_if_changed(output, json_bytes)
    invalid_ids = [table.ids[row] for row in hierarchy.invalid_rows]
    valid = len(table.rows) - len(invalid_ids)
    page_state = "off"
    if html is not None:
        written_page = _write_page(html, json_bytes, database, table, hierarchy)
        page_state = "yes" if written_page else "no"
    return RunResult(
        rows=len(table.rows),
        valid=valid,
        invalid_ids=invalid_ids,
        with_parent=len(result.parents) - result.parents.count(None),
        written=written,
        page=page_state,
    )


def _refuse_unless_regular(path: Path, page: bool = False) -> None:
    """A RunError, before anything is written, when ``path`` is there but not a regular file: a
    device is not the run's to replace (``--html /dev/null`` replaced the device node), and
    reading a FIFO to compare waits for a writer, forever."""
    with on_os_error(f"cannot read {path.parent}"):
        kind = not_a_regular_file(path)
    if kind is not None:
        hint = "; --no-html (IPAM_HTML=off) writes no page" if page else ""
        raise RunError(f"{path} is {kind}, not a regular file; it is left alone{hint}")


def _write_page(
    path: Path, json_bytes: bytes, database: Path, table: PrefixTable, hierarchy: Hierarchy
) -> bool:
    """Write the page unless the one at ``path`` already shows this data (False then)."""
    template = page.read_template()
    stamp = page.page_stamp(template, json_bytes, str(database))
    if page.is_current(path, stamp):
        with on_os_error(f"cannot remove the temp files a killed run left for {path}"):
            remove_stale_temp_files(path)  # a write does it too, in atomic_writer
        return False
    invalid = hierarchy.invalid(table.ids, table.prefixes)
    header = {
        "database": str(database),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "rows": len(table.rows),
        "valid": len(table.rows) - len(invalid),
        "invalid": len(invalid),
    }
    sorted_ids = hierarchy.sorted_ids(table.ids)
    data = page.PageData(header, hierarchy.keys, hierarchy.parents, sorted_ids, invalid)
    write_pieces(path, page.page_pieces(template, stamp, data))
    return True
