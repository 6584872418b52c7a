"""The real servicekit/healthcheck.sh, run with ``sh``, against crafted heartbeat files for every
outcome."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from servicekit.reporting import format_heartbeat
from servicekit.runs import RunOutcome
from servicekit.tests.helpers import (
    CANNOT_SWITCH,
    CANNOT_SWITCH_REASON,
    REPO_ROOT,
    as_nobody,
    copy_readable,
    world_readable_directory,
)

SCRIPT = REPO_ROOT / "servicekit" / "healthcheck.sh"


def check(
    heartbeat: Path, *, script: Path = SCRIPT, nobody: bool = False, **env: str
) -> tuple[int, str]:
    command = ["sh", str(script), str(heartbeat)]
    if nobody:  # root reads any file: look as another user
        command = as_nobody(command)
    completed = subprocess.run(
        command,
        cwd=script.parent,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout  # Docker keeps this one line in the health log
    return completed.returncode, lines[0]


def beat(
    path: Path,
    *,
    status: str = "ok",
    success_age: int | None = 10,
    attempt_age: int = 5,
    interval: int = 300,
) -> Path:
    now = int(time.time())
    error = "" if status == "ok" else "database not found: /x\nsecond line"
    outcome = RunOutcome(status, {"rows": "3", "duration": "0.01s"}, error)
    success = None if success_age is None else now - success_age
    path.write_text(format_heartbeat(outcome, now - attempt_age, success, interval, None))
    return path


def test_a_fresh_successful_run_is_healthy(tmp_path: Path) -> None:
    code, line = check(beat(tmp_path / "hb"))
    assert code == 0
    assert line.startswith("healthy: last success 1")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"status": "failed"},
            r"did not succeed: status=failed database not found: /x\\nsecond line",
        ),
        ({"status": "anything"}, "did not succeed: status=anything"),
        ({"status": "failed", "success_age": None}, "did not succeed"),
        # The clock may tick between writing the heartbeat and the check: 371 s old or a bit more.
        ({"success_age": 371}, r"last success was 37[1-5]s ago, more than 360s"),
        # More than the grace (60 s) in the future: a clock step back larger than the grace.
        (
            {"success_age": -90, "attempt_age": -95},
            r"last attempt is [89]\ds in the future .*grace 60s",
        ),
        (
            {"success_age": -90},
            r"last success is [89]\ds in the future .*, more than the grace 60s",
        ),
        ({"success_age": None}, "malformed: last_success_epoch=''"),
    ],
)
def test_unhealthy_outcomes(tmp_path: Path, kwargs: dict[str, object], reason: str) -> None:
    code, line = check(beat(tmp_path / "hb", **kwargs))  # type: ignore[arg-type]
    assert code == 1
    assert line.startswith("unhealthy: ")
    assert re.search(reason, line), line


def test_the_limit_is_interval_plus_grace(tmp_path: Path) -> None:
    # A few seconds of slack on both sides so a slow test machine cannot flip the outcome.
    assert check(beat(tmp_path / "hb", success_age=55, interval=5))[0] == 0
    assert check(beat(tmp_path / "hb", success_age=75, interval=5))[0] == 1
    generous = check(
        beat(tmp_path / "hb", success_age=75, interval=5), HEALTHCHECK_GRACE_SECONDS="100"
    )
    assert generous[0] == 0
    for grace in ("1m", " 60", "+60", "6_0", "1e2", "\u0666\u0660", "1" * 19):
        code, line = check(beat(tmp_path / "hb"), HEALTHCHECK_GRACE_SECONDS=grace)
        assert (code, line) == (
            1,
            "unhealthy: HEALTHCHECK_GRACE_SECONDS must be whole seconds in decimal digits "
            f"(at most 18), not '{grace}'",
        )


def test_leading_zeros_are_decimal_as_in_the_services_intervals(tmp_path: Path) -> None:
    """COLLECTOR_INTERVAL_SECONDS=0300 is 300 s; HEALTHCHECK_GRACE_SECONDS=060 must be 60 s, not
    sh arithmetic's octal 48 (nor a refusal, which kept ipam from ever starting)."""
    old = beat(tmp_path / "hb", success_age=60, interval=5)
    assert check(old, HEALTHCHECK_GRACE_SECONDS="060")[0] == 0  # within 5 + 60, not 5 + 48
    assert check(beat(tmp_path / "hb", success_age=10), HEALTHCHECK_GRACE_SECONDS="09")[0] == 0
    assert check(beat(tmp_path / "hb", success_age=10), HEALTHCHECK_GRACE_SECONDS="000")[0] == 0
    now = int(time.time())
    path = tmp_path / "hb"
    path.write_text(  # 350 s old: within 0300 (300) + 60, not octal 192 + 60
        f"status=ok\nlast_attempt_epoch=0{now}\nlast_success_epoch=00{now - 350}\n"
        "interval_seconds=0300\n"
    )
    assert check(path)[0] == 0


def test_a_clock_step_back_within_the_grace_stays_healthy(tmp_path: Path) -> None:
    """NTP or a restored VM may set the clock back a few seconds between a run and the check."""
    code, line = check(beat(tmp_path / "hb", success_age=-30, attempt_age=-30))
    assert code == 0
    assert re.fullmatch(
        r"healthy: last success (29|30)s in the future, within the grace 60s "
        r"\(the clock went back\)",
        line,
    ), line
    assert check(beat(tmp_path / "hb", success_age=-1, attempt_age=-1))[0] == 0
    # The grace bounds it: with 10 s, a step of 30 s is too much.
    code, line = check(
        beat(tmp_path / "hb", success_age=-30, attempt_age=-30), HEALTHCHECK_GRACE_SECONDS="10"
    )
    assert code == 1
    assert "in the future" in line and "more than the grace 10s" in line


def test_a_missing_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    code, line = check(tmp_path / "absent")
    assert code == 1
    assert "no heartbeat at" in line


def test_an_unreadable_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    directory = tmp_path / "hb"
    directory.mkdir()
    code, line = check(directory)
    assert code == 1
    assert "not a readable file" in line


@pytest.mark.skipif(CANNOT_SWITCH, reason=CANNOT_SWITCH_REASON)
def test_a_heartbeat_without_read_permission_is_unhealthy() -> None:
    # nobody runs a copy of the script, in a directory it may enter: the checkout and pytest's
    # tmp_path may be where only their owner can go.
    with world_readable_directory() as directory:
        script = copy_readable(SCRIPT, directory)
        path = beat(directory / "hb")
        path.chmod(0o644)
        readable = check(path, script=script, nobody=True)
        path.chmod(0)
        unreadable = check(path, script=script, nobody=True)
    assert readable[0] == 0, readable  # the copy runs: the refusal below is the permission's
    assert unreadable[0] == 1
    assert "not a readable file" in unreadable[1]


@pytest.mark.parametrize(
    "content",
    [
        "",
        "garbage\n",
        "status=ok\n",
        "status=ok\nlast_attempt_epoch=12x\nlast_success_epoch=1\ninterval_seconds=300\n",
        "status=ok\nlast_attempt_epoch=1\nlast_success_epoch=1\ninterval_seconds=-5\n",
        "status=ok\nlast_attempt_epoch=1\nlast_success_epoch=1 \ninterval_seconds=300\n",
        "status=ok\nlast_attempt_epoch=1\nlast_success_epoch=1\ninterval_seconds=+300\n",
        "status=ok\nlast_attempt_epoch=1\nlast_success_epoch=1\ninterval_seconds=1234567890123456789\n",
        "status=ok\nlast_attempt_epoch=1\nlast_success_epoch=1\ninterval_seconds=001234567890123456789\n",
    ],
)
def test_a_malformed_heartbeat_is_unhealthy(tmp_path: Path, content: str) -> None:
    path = tmp_path / "hb"
    path.write_text(content)
    code, line = check(path)
    assert code == 1
    assert "malformed" in line


def test_a_hand_written_heartbeat_without_final_newline_is_read(tmp_path: Path) -> None:
    now = int(time.time())
    path = tmp_path / "hb"
    path.write_text(
        f"status=ok\nlast_attempt_epoch={now}\ninterval_seconds=300\nlast_success_epoch={now}"
    )
    assert check(path)[0] == 0


def test_no_heartbeat_argument_is_a_usage_error() -> None:
    completed = subprocess.run(
        ["sh", str(SCRIPT)], capture_output=True, text=True, timeout=10, check=False
    )
    assert (completed.returncode, completed.stdout) == (
        1,
        "unhealthy: usage: healthcheck.sh HEARTBEAT_FILE\n",
    )
