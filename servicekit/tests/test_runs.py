"""One run as the operator sees it: whatever the service's run returned or raised, as an outcome."""

from __future__ import annotations

import errno
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from servicekit.runs import (
    STATUS_BUSY,
    STATUS_FAILED,
    STATUS_OK,
    RunBusyError,
    RunError,
    RunOutcome,
    first_ids,
    on_os_error,
    perform_run,
    warn,
)


@dataclass(frozen=True)
class Result:
    figures: dict[str, str]

    def details(self) -> dict[str, str]:
        return dict(self.figures)


def raising(error: BaseException) -> Result:
    raise error


def test_a_successful_run_reports_its_figures_in_order_then_its_duration() -> None:
    def run() -> Result:
        time.sleep(0.05)
        return Result({"rows": "3", "written": "yes", "invalid_ids": "2,5"})

    outcome = perform_run(run)
    assert (outcome.status, outcome.error) == (STATUS_OK, "")
    assert list(outcome.details) == ["rows", "written", "invalid_ids", "duration"]
    assert re.fullmatch(r"\d+\.\d\ds", outcome.details["duration"])
    assert 0.05 <= float(outcome.details["duration"][:-1]) < 5
    assert outcome.summary().startswith("rows=3 written=yes invalid_ids=2,5 duration=")


def test_a_run_error_is_a_failure_with_its_own_line() -> None:
    outcome = perform_run(lambda: raising(RunError("database not found: x.db")))
    assert outcome == RunOutcome(STATUS_FAILED, {}, "database not found: x.db")
    assert outcome.summary() == ""


def test_another_run_holding_the_lock_is_busy_not_failed() -> None:
    outcome = perform_run(lambda: raising(RunBusyError("another run holds the lock")))
    assert outcome == RunOutcome(STATUS_BUSY, {}, "another run holds the lock")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (RuntimeError("disk on fire"), "RuntimeError: disk on fire"),
        (RuntimeError("disk\n  on\tfire\n"), "RuntimeError: disk on fire"),
        (PermissionError(13, "Permission denied"), "PermissionError: [Errno 13] Permission denied"),
        (KeyError("id"), "KeyError: 'id'"),
        (ValueError(), "ValueError:"),
    ],
)
def test_an_unexpected_error_is_named_by_its_type_in_one_line(error: Exception, line: str) -> None:
    outcome = perform_run(lambda: raising(error))
    assert (outcome.status, outcome.error, outcome.details) == (STATUS_FAILED, line, {})


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), SystemExit(3)])
def test_ctrl_c_and_exit_are_not_swallowed(interruption: BaseException) -> None:
    with pytest.raises(type(interruption)):
        perform_run(lambda: raising(interruption))


def test_a_long_list_of_ids_is_cut_short() -> None:
    assert first_ids([]) == ""
    assert first_ids([3, 7]) == "3,7"
    assert first_ids(list(range(1, 6))) == "1,2,3,4,5"
    assert first_ids(list(range(1, 7))) == "1,2,3,4,5,+1more"
    assert first_ids(list(range(1, 49))) == "1,2,3,4,5,+43more"
    assert first_ids(["a", None, 2.5], shown=2) == "a,None,+1more"


def test_an_os_error_says_what_was_being_done_and_other_errors_pass() -> None:
    with pytest.raises(RunError) as caught, on_os_error("cannot write out/state"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value) == "cannot write out/state: No space left on device"
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(ValueError, match=r"^bug$"), on_os_error("cannot write out/state"):
        raise ValueError("bug")


def warning_then(result: Callable[[], Result], *messages: str) -> Callable[[], Result]:
    def run() -> Result:
        for message in messages:
            warn(message)
        return result()

    return run


@pytest.mark.parametrize(
    ("run", "status"),
    [
        (lambda: Result({"rows": "1"}), STATUS_OK),
        (lambda: raising(RunError("cannot write x")), STATUS_FAILED),
        (lambda: raising(RunBusyError("another run holds the lock")), STATUS_BUSY),
        (lambda: raising(RuntimeError("bug")), STATUS_FAILED),
    ],
)
def test_what_a_run_warns_of_comes_with_its_outcome_whatever_the_outcome(
    run: Callable[[], Result], status: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A close failing after a file was published is a warning: reporting logs it in the
    service's name, so both services log it alike."""
    outcome = perform_run(warning_then(run, "cannot close out/a: Input/output error", "second"))
    assert outcome.status == status
    assert outcome.warnings == ("cannot close out/a: Input/output error", "second")
    assert perform_run(run).warnings == ()  # one run's warnings are not the next one's
    assert caplog.records == []


def test_a_warning_outside_a_run_goes_to_the_servicekit_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    warn("cannot close out/a: Input/output error")
    (record,) = caplog.records
    assert (record.name, record.levelno) == ("servicekit", logging.WARNING)
    assert record.getMessage() == "cannot close out/a: Input/output error"
