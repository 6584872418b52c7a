"""One run: database -> closest parents -> prefixes.json, and the figures of what it did."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import pytest

from ipam.service import RunResult, run_once
from ipam.tests.helpers import add_row, make_database
from servicekit.reporting import report
from servicekit.runs import RunError, perform_run
from servicekit.tests.helpers import fail_close_of


def test_the_exercises_five_siblings_are_all_kept_and_none_has_a_parent(tmp_path: Path) -> None:
    rows = [(row_id, f"10.10.{row_id}.0/24") for row_id in range(1, 6)]
    output = tmp_path / "prefixes.json"
    summary = run_once(make_database(tmp_path / "prefixes.db", rows), output)
    assert json.loads(output.read_text()) == [
        {"id": row_id, "prefix": prefix, "parent_prefix": None} for row_id, prefix in rows
    ]
    assert (summary.rows, summary.valid, summary.invalid_ids) == (5, 5, [])
    assert (summary.with_parent, summary.written) == (0, True)


def test_every_column_is_kept_in_id_order_and_parent_prefix_comes_last(tmp_path: Path) -> None:
    database = make_database(
        tmp_path / "prefixes.db",
        [
            (3, " 10.1.2.3/24", "office", b"\x01\xff"),
            (1, "10.0.0.0/8", 'héllo, "quoted"\nline', None),
            (2, "2001:DB8::/32", "v6", None),
            (4, "2001:db8:1::/48", "v6 child", None),
        ],
        schema="id INTEGER PRIMARY KEY, prefix TEXT, site TEXT, data BLOB",
    )
    output = tmp_path / "prefixes.json"
    run_once(database, output)
    records = json.loads(output.read_text())
    assert [list(record) for record in records] == [
        ["id", "prefix", "site", "data", "parent_prefix"]
    ] * 4
    assert records == [
        {"id": 1, "prefix": "10.0.0.0/8", "site": 'héllo, "quoted"\nline', "data": None,
         "parent_prefix": None},
        {"id": 2, "prefix": "2001:DB8::/32", "site": "v6", "data": None, "parent_prefix": None},
        {"id": 3, "prefix": " 10.1.2.3/24", "site": "office", "data": "01ff",
         "parent_prefix": "10.0.0.0/8"},
        {"id": 4, "prefix": "2001:db8:1::/48", "site": "v6 child", "data": None,
         "parent_prefix": "2001:db8::/32"},
    ]  # fmt: skip
    output.read_bytes().decode("ascii")  # ASCII only: non-ASCII text is escaped


def test_invalid_rows_are_kept_with_an_error_and_their_ids_returned(tmp_path: Path) -> None:
    rows = [(1, "10.0.0.0/8"), (2, "300.1.1.0/24"), (3, None), (4, "10.1.0.0/16"), (5, "")]
    rows += [(row_id, "not-a-prefix") for row_id in range(6, 14)]
    output = tmp_path / "prefixes.json"
    summary = run_once(make_database(tmp_path / "prefixes.db", rows), output)
    assert (summary.rows, summary.valid, summary.with_parent) == (13, 2, 1)
    assert summary.invalid_ids == [2, 3, 5, *range(6, 14)]
    records = json.loads(output.read_text())
    assert [record["id"] for record in records] == list(range(1, 14))
    assert "error" not in records[0] and "error" not in records[3]
    assert records[3]["parent_prefix"] == "10.0.0.0/8"
    for record in records[1:3] + records[4:]:
        assert record["parent_prefix"] is None
        assert isinstance(record["error"], str) and record["error"]
        assert list(record)[-2:] == ["error", "parent_prefix"]
    assert records[1]["prefix"] == "300.1.1.0/24"  # the stored value, untouched


def test_text_that_is_not_utf8_becomes_an_invalid_row_not_a_failed_run(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")])
    add_row(database, "3, CAST(X'31302EFF2E302E302F3136' AS TEXT)")  # b"10.\xff.0.0/16"
    output = tmp_path / "prefixes.json"
    assert run_once(database, output).invalid_ids == [3]
    records = json.loads(output.read_text())
    assert records[1]["parent_prefix"] == "10.0.0.0/8"
    assert (records[2]["prefix"], records[2]["parent_prefix"]) == ("10.\ufffd.0.0/16", None)


def test_the_same_table_gives_the_same_bytes_and_no_write(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")])
    output = tmp_path / "prefixes.json"
    assert run_once(database, output).written is True
    first = output.read_bytes()
    assert run_once(database, output).written is False
    assert output.read_bytes() == first
    add_row(database, "3, '10.1.1.0/24'")
    assert run_once(database, output).written is True
    assert json.loads(output.read_bytes())[-1]["parent_prefix"] == "10.1.0.0/16"


def test_an_unusable_table_or_output_raises_and_leaves_the_output_untouched(
    tmp_path: Path,
) -> None:
    output = tmp_path / "prefixes.json"
    output.write_text("previous")
    clash = make_database(
        tmp_path / "clash.db", [], schema="id INTEGER PRIMARY KEY, prefix TEXT, parent_prefix TEXT"
    )
    for database in (tmp_path / "missing.db", clash):
        with pytest.raises(RunError):
            run_once(database, output)
    with pytest.raises(RunError, match=r"^cannot "):
        run_once(make_database(tmp_path / "ok.db", [(1, "10.0.0.0/8")]), tmp_path / "no" / "x")
    assert output.read_text() == "previous"


# -- The run as the daemon and --once see it: through servicekit's perform_run


def test_a_successful_run_reports_its_figures_then_the_duration(tmp_path: Path) -> None:
    database = make_database(tmp_path / "p.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16"), (3, "bad")])
    run = partial(run_once, database, tmp_path / "p.json", tmp_path / "p.html")
    outcome = perform_run(run)
    assert outcome.status == "ok"
    assert outcome.summary().startswith(
        "rows=3 valid=2 invalid=1 with_parent=1 written=yes page=yes invalid_ids=3 duration="
    )
    again = perform_run(run)
    assert again.summary().startswith("rows=3 valid=2 invalid=1 with_parent=1 written=no page=no ")


def test_no_invalid_ids_figure_when_every_row_is_valid() -> None:
    result = RunResult(rows=2, valid=2, invalid_ids=[], with_parent=1, written=False)
    assert result.details() == {
        "rows": "2",
        "valid": "2",
        "invalid": "0",
        "with_parent": "1",
        "written": "no",
        "page": "off",
    }
    many = RunResult(rows=9, valid=2, invalid_ids=list(range(3, 10)), with_parent=0, written=True)
    assert many.details()["invalid_ids"] == "3,4,5,6,7,+2more"


def test_a_failed_run_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    outcome = perform_run(partial(run_once, tmp_path / "missing.db", tmp_path / "p.json"))
    assert (outcome.status, outcome.error, outcome.details) == (
        "failed",
        f"database not found: {tmp_path / 'missing.db'}",
        {},
    )
    assert list(tmp_path.iterdir()) == []


def test_zoned_ipv6_values_are_invalid_rows_never_merged_into_one_network(tmp_path: Path) -> None:
    """``fe80::%eth0/64`` and ``fe80::%eth1/64`` are different links' networks: a key without
    the zone would merge them (and make ``fe80::/64`` the parent of ``fe80::1%eth1``)."""
    rows = [(1, "fe80::%eth0/64"), (2, "fe80::%eth1/64"), (3, "fe80::1%eth1/128"), (4, "fe80::/64")]
    output = tmp_path / "prefixes.json"
    summary = run_once(make_database(tmp_path / "prefixes.db", rows), output)
    records = json.loads(output.read_text())
    assert [record["parent_prefix"] for record in records] == [None] * 4
    assert [record.get("error") for record in records] == [
        "not a valid IP network: zone id %eth0 (names a link of one host, not a network)",
        "not a valid IP network: zone id %eth1 (names a link of one host, not a network)",
        "not a valid IP network: zone id %eth1 (names a link of one host, not a network)",
        None,
    ]
    assert (summary.valid, summary.invalid_ids, summary.with_parent) == (1, [1, 2, 3], 0)


@pytest.mark.parametrize("closing", ["prefixes.json", "prefixes.html"])
def test_a_close_failing_after_an_output_is_in_place_is_a_warning_and_the_run_counts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    closing: str,
) -> None:
    """Once an output is renamed into place its data were fsynced: an EIO closing it (as NFS,
    CIFS and FUSE mounts report write-back errors) cannot take it back, so it fails nothing and
    is logged as a warning naming the file, in the format of every other line."""
    database = make_database(tmp_path / "p.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16")])
    failed = fail_close_of(monkeypatch, tmp_path / closing)
    outcome = perform_run(
        partial(run_once, database, tmp_path / "prefixes.json", tmp_path / "prefixes.html")
    )
    assert failed == [str(tmp_path / closing)]
    assert outcome.status == "ok"
    assert json.loads((tmp_path / "prefixes.json").read_text())[1]["parent_prefix"] == "10.0.0.0/8"
    assert (tmp_path / "prefixes.html").exists()
    caplog.set_level(logging.INFO, logger="ipam")
    report("ipam", outcome, None, 300)
    warning, line = caplog.records
    assert (warning.name, warning.levelname) == ("ipam", "WARNING")
    assert warning.getMessage() == (
        f"cannot close {tmp_path / closing} after it was written and put in place: "
        "Input/output error"
    )
    assert line.getMessage().startswith(
        "run ok: rows=2 valid=2 invalid=0 with_parent=1 written=yes page=yes "
    )
