"""One run as the operator sees it: whatever the service's run did or raised, as an outcome.

A run either returns a result, whose ``details()`` are the figures of its log line, or raises. A
``RunError`` is a failure the service explains in one line (a missing database, a damaged file);
``RunBusyError``, another run holding the lock; anything else is a bug or an OS error, named by
its type. None of them escapes: the daemon must outlive whatever one run hits.

What goes wrong once a run has published its output (a descriptor that will not close after its
data were fsynced and its file renamed into place) cannot be undone, so it fails nothing: the run
says it with ``warn``, and the warning goes to the log, before the run's line, in the service's
own name (``servicekit/reporting.py``), whichever service hit it in whichever shared module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_BUSY = "busy"  # another run held the lock: this one did nothing and reports nothing

IDS_SHOWN = 5

# The warnings of the run in progress in this thread (None: no run is collecting them).
_warnings: ContextVar[list[str] | None] = ContextVar("run_warnings", default=None)


class RunError(Exception):
    """A run cannot go on; the message is the one line shown to the operator."""


class RunBusyError(RunError):
    """Another run holds the lock: this run writes nothing."""


@contextmanager
def on_os_error(doing: str) -> Iterator[None]:
    """Report an OSError in the block as a RunError that says what was being done:
    ``cannot write output/customers_snapshot.csv: No space left on device``, where the bare
    error (``OSError: [Errno 28] No space left on device``) names neither the file nor the step."""
    try:
        yield
    except OSError as error:
        raise RunError(f"{doing}: {error.strerror or error}") from error


def warn(message: str) -> None:
    """Report, in one line naming the file and the step, an error that does not fail the run.

    Inside ``collecting_warnings`` (every run, every heartbeat write) it goes to the service's log
    through the run's outcome; outside it (a library caller, a test), to the ``servicekit`` logger.
    """
    collected = _warnings.get()
    if collected is None:
        logging.getLogger("servicekit").warning("%s", message)
    else:
        collected.append(message)


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """Collect what ``warn`` says in the block, in order, for the caller to log."""
    collected: list[str] = []
    token = _warnings.set(collected)
    try:
        yield collected
    finally:
        _warnings.reset(token)


class RunResult(Protocol):
    def details(self) -> dict[str, str]:
        """The figures of the run's log line, in order: ``{"rows": "5", ...}``."""
        ...


@dataclass(frozen=True)
class RunOutcome:
    """What one run did: its status and, for the log line and the heartbeat, figures or error."""

    status: str
    details: dict[str, str] = field(default_factory=dict)  # in log order: rows=5 duration=0.01s
    error: str = ""  # one line, for a failed or busy run
    warnings: tuple[str, ...] = ()  # what went wrong without failing it (see ``warn``)

    def summary(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.details.items())


def perform_run(run: Callable[[], RunResult]) -> RunOutcome:
    """Call ``run`` and turn what it returned or raised, and what it warned of, into an outcome;
    never raises."""
    started = time.monotonic()
    with collecting_warnings() as warned:
        try:
            details = run().details()
        except RunBusyError as busy:
            return RunOutcome(STATUS_BUSY, error=str(busy), warnings=tuple(warned))
        except RunError as failure:
            return RunOutcome(STATUS_FAILED, error=str(failure), warnings=tuple(warned))
        except Exception as failure:  # a bug or an OS error: say what it was, in one line
            error = " ".join(f"{type(failure).__name__}: {failure}".split())
            return RunOutcome(STATUS_FAILED, error=error, warnings=tuple(warned))
    duration = f"{time.monotonic() - started:.2f}s"
    return RunOutcome(STATUS_OK, {**details, "duration": duration}, warnings=tuple(warned))


def first_ids(ids: Sequence[object], shown: int = IDS_SHOWN) -> str:
    """'3,7,9' or '3,7,9,12,15,+42more': a bad table must not flood the log."""
    text = ",".join(map(str, ids[:shown]))
    return f"{text},+{len(ids) - shown}more" if len(ids) > shown else text
