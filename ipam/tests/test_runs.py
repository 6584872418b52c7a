"""One run as the operator sees it: the report's outcome, its figures and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipam.runs import Settings, perform_run, some_ids
from ipam.tests.helpers import make_database


def test_a_successful_run_reports_its_figures(tmp_path: Path) -> None:
    database = make_database(tmp_path / "p.db", [(1, "10.0.0.0/8"), (2, "10.1.0.0/16"), (3, "bad")])
    settings = Settings(database, tmp_path / "p.json", None, 300)
    outcome = perform_run(settings)
    assert outcome.status == "ok"
    assert outcome.summary().startswith(
        "rows=3 valid=2 invalid=1 with_parent=1 written=yes duration="
    )
    assert outcome.details["invalid_ids"] == "3"
    assert perform_run(settings).details["written"] == "no"


def test_a_failed_run_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    outcome = perform_run(Settings(tmp_path / "missing.db", tmp_path / "p.json", None, 300))
    assert (outcome.status, outcome.error) == (
        "failed",
        f"database not found: {tmp_path / 'missing.db'}",
    )
    assert not (tmp_path / "missing.db").exists()


def test_an_unexpected_error_is_named_by_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("ipam.runs.run_once", explode)
    outcome = perform_run(Settings(tmp_path / "p.db", tmp_path / "p.json", None, 300))
    assert (outcome.status, outcome.error) == ("failed", "RuntimeError: disk on fire")


def test_a_long_list_of_invalid_ids_is_cut_short() -> None:
    assert some_ids([3, 7]) == "3,7"
    assert some_ids(list(range(1, 6))) == "1,2,3,4,5"
    assert some_ids(list(range(1, 49))) == "1,2,3,4,5,+43more"
