"""The command line both services share, on a tiny service "svc": flags, their environment
variables, the interval's bounds, and the exit status of ``--once``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from servicekit import cli
from servicekit.cli import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    MAX_INTERVAL_SECONDS,
    Settings,
    decimal_digits,
    env_default,
    interval_seconds,
    run_service,
    service_parser,
)
from servicekit.paths import NamedPath
from servicekit.reporting import parse_heartbeat
from servicekit.runs import RunBusyError, RunError

SERVICE = "svc"
DEFAULT_DB = "data/svc.db"
DEFAULT_HEARTBEAT = "/tmp/svc.heartbeat"
VARIABLES = ("SVC_DB", "SVC_OUTPUT", "SVC_HEARTBEAT", "SVC_INTERVAL_SECONDS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SVC_* variable from outside, and the loggers configure_logging sets put back after."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
        for name in (SERVICE, "apscheduler")
    }
    yield
    for name, (handlers, level) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)


def parser() -> argparse.ArgumentParser:
    """What a service builds: the shared flags, plus its own output flag."""
    built = service_parser(
        SERVICE, "Test service.", database=DEFAULT_DB, heartbeat=DEFAULT_HEARTBEAT, exits="0 ok"
    )
    built.add_argument(
        "--output", type=Path, default=Path(env_default("SVC_OUTPUT", "out/svc.json"))
    )
    return built


def usage_error(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(arguments)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m svc ")
    assert "Traceback" not in err
    return err.splitlines()[-1]


# -- Flags, defaults and the environment


def test_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args([])
    assert (args.once, args.db, args.output) == (False, Path(DEFAULT_DB), Path("out/svc.json"))
    assert (args.heartbeat, args.interval_seconds) == (None, 300)  # heartbeat: see run_service
    parser().print_help()
    text = capsys.readouterr().out
    assert text.startswith("usage: python -m svc ")
    for variable in ("SVC_DB", "SVC_HEARTBEAT", "SVC_INTERVAL_SECONDS", DEFAULT_HEARTBEAT):
        assert variable in text
    assert "0 ok; 2 bad arguments" in text


def test_environment_variables_are_the_defaults_and_flags_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SVC_DB", "env.db")
    monkeypatch.setenv("SVC_OUTPUT", "env.json")
    monkeypatch.setenv("SVC_HEARTBEAT", "env.hb")
    monkeypatch.setenv("SVC_INTERVAL_SECONDS", "7")
    args = parser().parse_args([])
    assert (args.db, args.output, args.heartbeat, args.interval_seconds) == (
        Path("env.db"),
        Path("env.json"),
        Path("env.hb"),
        7,
    )
    flags = ["--db", "f.db", "--output", "f.json", "--heartbeat", "f.hb", "--interval-seconds", "9"]
    args = parser().parse_args(flags)
    assert (args.db, args.output, args.heartbeat, args.interval_seconds) == (
        Path("f.db"),
        Path("f.json"),
        Path("f.hb"),
        9,
    )


def test_empty_environment_variables_mean_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """``SVC_HEARTBEAT=`` in a .env file is "unset", never the path "." nor interval ''."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "")
    args = parser().parse_args([])
    assert (args.db, args.output, args.heartbeat, args.interval_seconds) == (
        Path(DEFAULT_DB),
        Path("out/svc.json"),
        None,
        300,
    )
    assert env_default("SVC_DB", "fallback") == "fallback"
    monkeypatch.setenv("SVC_DB", " ")
    assert env_default("SVC_DB", "fallback") == " "  # only empty means unset


@pytest.mark.parametrize("text", ["1", "300", "0300", "09", "0060", str(MAX_INTERVAL_SECONDS)])
def test_intervals_from_one_second_to_a_year_are_accepted(text: str) -> None:
    """Decimal digits, leading zeros allowed: the rule healthcheck.sh follows too."""
    assert interval_seconds(text) == int(text, 10)
    assert MAX_INTERVAL_SECONDS == 366 * 86400


# What int() would take but healthcheck.sh's rule does not: spaces, a sign, underscores, and
# digits of other scripts.
BAD_INTERVALS = ["0", "-1", "x", "", "7.5", "inf", str(366 * 86400 + 1), "300000000000"]
BAD_INTERVALS += [" 60 ", "+60", "6_0", "\u0663\u0660\u0660", "\uff16\uff10"]
BAD_INTERVALS += ["9" * 5000]  # more digits than int() converts from Python 3.11


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("0", 0), ("007", 7), ("24", 24), ("1" + "0" * 30, 10**30), (" 24 ", None)],
        *[("+1", None), ("1_0", None), ("\u0662\u0664", None), ("\uff12", None), ("", None)],
    ],
)
def test_decimal_digits_are_plain_ascii_digits_only(text: str, value: int | None) -> None:
    """What every number flag of both services takes: int() would take all of these."""
    assert decimal_digits(text) == value


@pytest.mark.parametrize("text", BAD_INTERVALS)
def test_a_bad_interval_flag_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    assert usage_error(capsys, "--interval-seconds", text) == (
        "python -m svc: error: argument --interval-seconds: must be a whole number of seconds "
        f"from 1 to {MAX_INTERVAL_SECONDS} (a year), in decimal digits, not {text!r}"
    )


@pytest.mark.parametrize("text", [text for text in BAD_INTERVALS if text])
def test_a_bad_interval_variable_is_the_same_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("SVC_INTERVAL_SECONDS", text)
    expected = (
        "python -m svc: error: environment variable SVC_INTERVAL_SECONDS: must be a whole "
        f"number of seconds from 1 to {MAX_INTERVAL_SECONDS} (a year), in decimal digits, "
        f"not {text!r}"
    )  # the variable, not the flag, which the user never typed
    assert usage_error(capsys) == expected
    assert usage_error(capsys, "--once") == expected  # --once checks it too


def test_a_flag_wins_over_a_bad_interval_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_INTERVAL_SECONDS", "0")
    assert parser().parse_args(["--interval-seconds", "5"]).interval_seconds == 5


# -- run_service --once: one run, reported, then its exit status


@dataclass(frozen=True)
class Result:
    def details(self) -> dict[str, str]:
        return {"rows": "4"}


class FakeRun:
    """A service's run_once: records its arguments, then returns or raises what it was given."""

    def __init__(self, outcome: BaseException | None = None) -> None:
        self.outcome = outcome
        self.calls: list[tuple[Path, Path]] = []

    def __call__(self, database: Path, output: Path) -> Result:
        self.calls.append((database, output))
        if self.outcome is not None:
            raise self.outcome
        return Result()


def once(run: FakeRun, *flags: str) -> int:
    args = parser().parse_args(["--once", "--db", "in.db", "--output", "out.json", *flags])
    return run_service(SERVICE, args, run, DEFAULT_HEARTBEAT)


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    (line,) = capsys.readouterr().err.splitlines()
    return line.split(" ", 1)[1]  # without the time


def test_once_ok_exits_0_with_one_line_naming_the_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = FakeRun()
    assert once(run) == EXIT_OK
    assert run.calls == [(Path("in.db"), Path("out.json"))]
    line = one_line(capsys)
    assert line.startswith("INFO svc: run ok: rows=4 duration=")
    assert "next_run" not in line  # --once: there is no next run


def test_once_failed_exits_1_with_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert once(FakeRun(RunError("database not found: in.db"))) == EXIT_FAILED
    assert one_line(capsys) == "ERROR svc: run failed: database not found: in.db"


def test_once_with_an_unexpected_error_exits_1_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert once(FakeRun(OSError(5, "Input/output error"))) == EXIT_FAILED
    assert one_line(capsys) == "ERROR svc: run failed: OSError: [Errno 5] Input/output error"


def test_once_busy_exits_75_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert once(FakeRun(RunBusyError("another svc run holds the lock"))) == EXIT_BUSY == 75
    assert one_line(capsys) == "WARNING svc: run skipped: another svc run holds the lock"


def test_ctrl_c_during_once_exits_130_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heartbeat = tmp_path / "hb"
    assert once(FakeRun(KeyboardInterrupt()), "--heartbeat", str(heartbeat)) == 130
    assert capsys.readouterr().err == ""  # no traceback, no log line
    assert not heartbeat.exists()


def test_once_writes_a_heartbeat_only_when_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manual --once beside the daemon must not touch the daemon's heartbeat."""
    daemons = tmp_path / "daemon.hb"
    args = parser().parse_args(["--once"])
    assert run_service(SERVICE, args, FakeRun(RunError("boom")), str(daemons)) == EXIT_FAILED
    assert not daemons.exists()
    assert once(FakeRun(), "--heartbeat", str(tmp_path / "named.hb")) == EXIT_OK
    beat = parse_heartbeat((tmp_path / "named.hb").read_text())
    assert (beat["status"], beat["rows"], beat["interval_seconds"]) == ("ok", "4", "300")
    monkeypatch.setenv("SVC_HEARTBEAT", str(tmp_path / "env.hb"))
    assert once(FakeRun(RunError("boom"))) == EXIT_FAILED
    beat = parse_heartbeat((tmp_path / "env.hb").read_text())
    assert (beat["status"], beat["error"]) == ("failed", "boom")
    capsys.readouterr()


def test_without_once_the_daemon_gets_the_settings_and_the_default_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def fake_run_daemon(service: str, run: partial[Result], settings: Settings) -> int:
        calls.append((service, run, settings))
        return 0

    monkeypatch.setattr("servicekit.daemon.run_daemon", fake_run_daemon)
    monkeypatch.setenv("SVC_INTERVAL_SECONDS", "7")
    run = FakeRun()
    args = parser().parse_args(["--db", "flag.db"])
    assert run_service(SERVICE, args, run, DEFAULT_HEARTBEAT) == 0
    ((service, bound, settings),) = calls
    assert service == SERVICE
    assert settings == Settings(Path("flag.db"), Path("out/svc.json"), Path(DEFAULT_HEARTBEAT), 7)
    assert bound() == Result()  # the service's run, bound to its database and output
    assert run.calls == [(Path("flag.db"), Path("out/svc.json"))]
    assert logging.getLogger(SERVICE).level == logging.INFO  # the daemon logs configured

    args = parser().parse_args(["--heartbeat", "named.hb"])
    assert run_service(SERVICE, args, run, DEFAULT_HEARTBEAT) == 0
    assert calls[-1][2].heartbeat == Path("named.hb")
    assert cli.DEFAULT_INTERVAL_SECONDS == "300"


def test_help_gives_the_description_and_each_option_in_whole_sentences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What --help says is the command's documentation: checked whole."""
    parser().print_help()
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    for sentence in (
        "Test service.",
        "run once and exit (0 ok; 2 bad arguments)",
        "SQLite database to read, opened read-only (env SVC_DB, default data/svc.db)",
        "heartbeat file the daemon writes after every run, read by healthcheck.sh (env "
        "SVC_HEARTBEAT, default /tmp/svc.heartbeat); --once writes one only when this flag or "
        "the variable names it, so a manual run never changes the daemon's health",
        "seconds between runs of the daemon (env SVC_INTERVAL_SECONDS, default 300)",
    ):
        assert sentence in text


# -- Outputs that clash: refused before any run, in one line, exit 2


def test_an_output_naming_the_database_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "in.db"
    database.write_bytes(b"kept")
    run = FakeRun()
    args = parser().parse_args(["--once", "--db", str(database)])
    (tmp_path / "sub").mkdir()
    outputs = [NamedPath("--output", tmp_path / "sub" / ".." / "in.db")]
    assert run_service(SERVICE, args, run, DEFAULT_HEARTBEAT, outputs=outputs) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"python -m svc: error: --output ({tmp_path}/sub/../in.db) and --db ")
    assert run.calls == []
    assert database.read_bytes() == b"kept"


def test_the_heartbeat_is_an_output_too_the_daemons_default_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon refuses at start: run_daemon is never called."""
    monkeypatch.setattr("servicekit.daemon.run_daemon", None)  # called: a TypeError
    run = FakeRun()
    json = NamedPath("--output", tmp_path / "out.json")
    named = parser().parse_args(["--heartbeat", str(json.path)])
    assert run_service(SERVICE, named, run, DEFAULT_HEARTBEAT, outputs=[json]) == EXIT_USAGE
    default = parser().parse_args([])
    database = parser().parse_args(["--db", DEFAULT_HEARTBEAT])
    assert run_service(SERVICE, default, run, str(json.path), outputs=[json]) == EXIT_USAGE
    assert run_service(SERVICE, database, run, DEFAULT_HEARTBEAT) == EXIT_USAGE
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(") and ")[1].split(" (")[0] for line in lines] == [
        "--heartbeat",
        "--heartbeat",
        "--db",
    ]
    assert run.calls == []
    # --once without a heartbeat named writes none, so none can clash
    once_args = parser().parse_args(["--once", "--db", str(tmp_path / "missing.db")])
    assert run_service(SERVICE, once_args, run, str(json.path), outputs=[json]) == EXIT_OK
