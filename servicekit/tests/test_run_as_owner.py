"""servicekit/run-as-owner.sh, the start-up step of both containers, run for real on this machine.

Switching user takes root: the tests that switch are skipped for anyone else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicekit.tests.helpers import (
    CANNOT_SWITCH,
    CANNOT_SWITCH_REASON,
    REPO_ROOT,
    copy_readable,
    world_readable_directory,
)

SCRIPT = REPO_ROOT / "servicekit" / "run-as-owner.sh"
# What the switched process sees: its ids, groups and capability sets (plain sh: the command
# must not depend on this Python, which the other user may not be able to load).
PROBE = 'echo "$(id -u) $(id -g) [$(id -G)]"; grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status'
NO_CAPABILITIES = "0" * 16

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="switching user takes root and setpriv"
)


@pytest.fixture
def owned_directory() -> Iterator[Path]:
    """A directory owned by 1234:2345, outside pytest's tmp_path, which only root may enter."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        directory.chmod(0o755)
        if os.geteuid() == 0:
            try:
                os.chown(directory, 1234, 2345)
            except PermissionError:  # root without CAP_CHOWN: inside the ipam container
                pytest.skip("root here cannot give a directory away (no CAP_CHOWN)")
        yield directory


def run(directory: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), str(directory), *command],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def probe(directory: Path, **env: str) -> dict[str, object]:
    completed = run(directory, "sh", "-c", PROBE, **env)
    assert completed.returncode == 0, completed.stderr
    ids, *capabilities = completed.stdout.splitlines()
    uid, gid, groups = ids.split(" ", 2)
    seen: dict[str, object] = {"uid": int(uid), "gid": int(gid), "groups": groups}
    for line in capabilities:
        name, value = line.split(":")
        seen[name.lower().replace("cap", "cap_")] = value.strip()
    return seen


@needs_root
def test_the_command_runs_as_the_directorys_owner_with_no_capabilities(
    owned_directory: Path,
) -> None:
    assert probe(owned_directory) == {
        "uid": 1234,
        "gid": 2345,
        "groups": "[2345]",  # the primary group only: no supplementary groups
        "cap_eff": NO_CAPABILITIES,
        "cap_bnd": NO_CAPABILITIES,
        "cap_prm": NO_CAPABILITIES,
    }


@needs_root
def test_a_root_owned_directory_keeps_root_but_drops_every_capability() -> None:
    with tempfile.TemporaryDirectory() as name:
        seen = probe(Path(name))
    assert (seen["uid"], seen["gid"]) == (0, 0)
    assert (seen["cap_eff"], seen["cap_bnd"], seen["cap_prm"]) == (NO_CAPABILITIES,) * 3


@needs_root
def test_app_uid_and_app_gid_win_over_the_owner(owned_directory: Path) -> None:
    seen = probe(owned_directory, APP_UID="4321", APP_GID="5432")
    assert (seen["uid"], seen["gid"]) == (4321, 5432)


@needs_root
def test_the_largest_id_and_leading_zeros_are_accepted(owned_directory: Path) -> None:
    seen = probe(owned_directory, APP_UID="4294967294", APP_GID="0005432")
    assert (seen["uid"], seen["gid"]) == (4294967294, 5432)


@needs_root
@pytest.mark.parametrize(
    ("uid", "gid"),
    [
        ("me", "5"),
        ("5", "-1"),
        ("1 2", "3"),
        # (uid_t)-1: setpriv would leave the id unchanged, and the daemon would stay root.
        ("4294967295", "5"),
        ("5", "4294967295"),
        # Beyond 32 bits: setpriv would wrap them around to another id.
        ("4294967296", "5"),
        ("99999999999", "5"),
        ("5", "18446744073709551615"),
        ("5", "000000000004294967296"),
    ],
)
def test_ids_that_are_not_valid_ids_are_one_clear_line(
    owned_directory: Path, uid: str, gid: str
) -> None:
    completed = run(owned_directory, "sh", "-c", "echo ran as $(id -u)", APP_UID=uid, APP_GID=gid)
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        "run-as-owner: APP_UID and APP_GID must be numeric ids from 0 to 4294967294, "
        f"not '{uid}' and '{gid}'\n"
    )


@needs_root
def test_without_the_capabilities_to_switch_it_says_so_in_one_line(owned_directory: Path) -> None:
    # Root whose bounding set lacks CAP_SETUID: what a container without cap_add looks like.
    completed = subprocess.run(
        ["setpriv", "--bounding-set=-setuid", "--inh-caps=-all", "sh", str(SCRIPT),
         str(owned_directory), "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr == (
        "run-as-owner: cannot switch to uid 1234 gid 2345: "
        "the container needs cap_add SETUID, SETGID, SETPCAP\n"
    )


def test_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    completed = run(tmp_path / "absent", "true")
    if os.geteuid() != 0:  # not root: nothing to switch, the command just runs
        assert completed.returncode == 0
        return
    assert completed.returncode == 1
    assert completed.stderr == f"run-as-owner: cannot read the owner of {tmp_path / 'absent'}\n"


def test_too_few_arguments_is_a_usage_line() -> None:
    completed = subprocess.run(
        ["sh", str(SCRIPT), "/tmp"], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 1
    assert (
        completed.stderr == "run-as-owner: usage: run-as-owner.sh DIRECTORY COMMAND [ARGUMENT...]\n"
    )


@pytest.mark.skipif(CANNOT_SWITCH, reason=CANNOT_SWITCH_REASON)
def test_started_as_another_user_the_command_just_runs(owned_directory: Path) -> None:
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=4321", "--regid=4321", "--clear-groups"]
    else:
        command = []
    # uid 4321 runs a copy of the script: the checkout may be where only its owner can go.
    with world_readable_directory() as directory:
        script = copy_readable(SCRIPT, directory)
        completed = subprocess.run(
            [*command, "sh", str(script), str(owned_directory), "id", "-u"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ("4321" if os.geteuid() == 0 else str(os.geteuid()))
