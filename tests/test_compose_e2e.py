"""End-to-end test of the Docker Compose stack, driven like a user drives it.

It builds and runs the real stack (`docker compose` v2, else legacy `docker-compose`) in a temporary
copy of the repository under a unique project name, checks the seven promises of the Compose issue
in order, and always tears the stack down (`down -v --rmi local --remove-orphans`). In CI the base
images are offline stand-ins and COMPOSE_FILE adds a build override (see .ci/docker/setup.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("customers.csv", "customers_snapshot.csv", "prefixes.json")
# Short, so that a missing database turns the collector unhealthy within a minute or so.
COLLECTOR_INTERVAL_SECONDS = 2
# The uid:gid the containers run as when the test runs as root (CI): any non-root id will do.
NON_ROOT_ID = 1000
STOP_GRACE_SECONDS = 30  # docker-compose.yml's stop_grace_period
HEALTHY_WITHIN_SECONDS = 30


def _docker_engine_answers() -> str | None:
    """None when a Docker engine answers, else why not (the skip reason)."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        return f"no Docker engine answers (`docker info`: {info.stderr.strip()[:200]})"
    return None


def _compose_command() -> list[str] | None:
    """Compose v2 (`docker compose`) when present, else legacy `docker-compose`."""
    v2 = subprocess.run(
        ["docker", "compose", "version"], check=False, capture_output=True, timeout=30
    )
    if v2.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _parse_docker_time(value: str) -> datetime:
    """Docker's RFC 3339 timestamps carry nanoseconds, which datetime cannot hold."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    assert match, f"unexpected Docker timestamp {value!r}"
    seconds, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{seconds}.{(fraction or '0')[:6].ljust(6, '0')}{zone}")


def _copy_repository(destination: Path) -> None:
    """Tracked and untracked-but-not-ignored files: what a fresh clone plus local edits holds."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listing.returncode == 0:
        for name in filter(None, listing.stdout.decode().split("\0")):
            source = REPO / name
            if source.is_file():  # a tracked file may be deleted in the working tree
                (destination / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination / name)
    else:  # not a git checkout: copy everything but the usual litter
        shutil.copytree(
            REPO,
            destination,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".*_cache", "venv"),
        )


@dataclass
class Stack:
    """One Compose project in its own directory."""

    compose: list[str]
    directory: Path
    env: dict[str, str]

    def call(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.compose, *args],
            check=False,
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, *args: str, timeout: float = 120) -> str:
        """The command's output; fails the test with its output when it fails."""
        result = self.call(*args, timeout=timeout)
        assert result.returncode == 0, (
            f"`{' '.join(self.compose)} {' '.join(args)}` exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def container_id(self, service: str) -> str:
        return self.run("ps", "-q", service).strip()

    def logs(self, service: str = "") -> str:
        return self.run("logs", "--no-color", *([service] if service else []))


def _inspect(container: str) -> dict[str, Any]:
    result = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(result.stdout)[0]


def _wait_for(what: str, condition: Callable[[], bool], seconds: float) -> None:
    """Poll until the condition holds; fail with what was awaited when it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds:.0f} s waiting for: {what}")
        time.sleep(0.5)


def _health(container: str) -> str:
    return _inspect(container)["State"]["Health"]["Status"]


def _run_once_on_host(workdir: Path, output: Path) -> None:
    """What the services write in one run, computed by this Python on the host."""
    env = {
        **os.environ,
        "COLLECTOR_DB": str(workdir / "database" / "customers.db"),
        "COLLECTOR_OUTPUT_DIR": str(output),
        "COLLECTOR_HEARTBEAT": str(output / ".heartbeat"),
        "IPAM_DB": str(workdir / "database" / "prefixes.db"),
        "IPAM_OUTPUT": str(output / "prefixes.json"),
    }
    for service in ("collector", "ipam"):
        subprocess.run(
            [sys.executable, "-m", service, "--once"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )


# Run inside a container: what the process may do, as seen from within.
_PRIVILEGE_PROBE = """
import json, os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
try:
    open("/usr/e2e-probe", "w")
    root_writable = True
except OSError:
    root_writable = False
print(json.dumps({
    "uid": os.getuid(),
    "cap_eff": int(status["CapEff"], 16),
    "cap_bnd": int(status["CapBnd"], 16),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "root_writable": root_writable,
}))
"""


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    reason = _docker_engine_answers()
    compose = _compose_command() if reason is None else None
    if reason is None and compose is None:
        reason = "neither `docker compose` nor `docker-compose` is installed"
    if reason is not None:
        # CI sets this once it has started an engine: there a skip would hide a broken setup.
        if os.environ.get("E2E_REQUIRE_DOCKER") == "1":
            pytest.fail(f"E2E_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(reason)
    assert compose is not None

    workdir = tmp_path / "repo"
    _copy_repository(workdir)
    output = workdir / "output"
    for item in output.glob("*"):  # the committed outputs must appear anew
        if item.name != ".gitkeep":
            item.unlink()
    output.mkdir(exist_ok=True)
    if os.name != "posix":  # Docker Desktop on Windows: host file ownership does not apply
        uid = gid = NON_ROOT_ID
    elif os.getuid() == 0:
        # Root runs the containers as an ordinary user, who must be able to write where the
        # services write: output/, and ipam/ for the coverage command's coverage_results.
        uid = gid = NON_ROOT_ID
        for writable in (output, workdir / "ipam"):
            os.chown(writable, uid, gid)
    else:  # the documented way: the containers run as whoever runs the stack
        uid, gid = os.getuid(), os.getgid()

    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"e2e{uuid.uuid4().hex[:12]}",
        "APP_UID": str(uid),
        "APP_GID": str(gid),
        "COLLECTOR_INTERVAL_SECONDS": str(COLLECTOR_INTERVAL_SECONDS),
        "IPAM_INTERVAL_SECONDS": "300",
    }
    return Stack(compose=compose, directory=workdir, env=env)


def test_compose_stack_end_to_end(stack: Stack, tmp_path: Path) -> None:
    try:
        _check_the_stack(stack, tmp_path)
    except BaseException:
        print("---- compose ps ----", stack.call("ps").stdout, sep="\n")
        print(
            "---- compose logs ----",
            stack.call("logs", "--no-color", "--timestamps").stdout,
            sep="\n",
        )
        raise
    finally:
        stack.call("down", "-v", "--rmi", "local", "--remove-orphans", timeout=180)


def _check_the_stack(stack: Stack, tmp_path: Path) -> None:
    output = stack.directory / "output"
    began = time.monotonic()

    def lap(step: str) -> None:  # shown with `pytest -s`; where the minutes go
        print(f"e2e: {step} done at {time.monotonic() - began:.1f} s")

    # 1. up -d builds and starts; the collector turns healthy within 30 s; ipam's container
    #    started only after the collector's first passing health check.
    stack.run("build", timeout=900)
    stack.run("up", "-d", timeout=300)
    collector, ipam = stack.container_id("collector"), stack.container_id("ipam")
    assert collector and ipam, "both containers exist after `up -d`"
    collector_started = _parse_docker_time(_inspect(collector)["State"]["StartedAt"])
    _wait_for(
        "the collector to turn healthy",
        lambda: _health(collector) == "healthy",
        HEALTHY_WITHIN_SECONDS + 10,
    )
    # Docker keeps the last five probes; `up -d` returned right after the first passing one.
    probes = _inspect(collector)["State"]["Health"]["Log"]
    first_pass = min(_parse_docker_time(probe["End"]) for probe in probes if probe["ExitCode"] == 0)
    assert first_pass - collector_started <= timedelta(seconds=HEALTHY_WITHIN_SECONDS), (
        f"collector healthy {first_pass - collector_started} after it started"
    )
    ipam_started = _parse_docker_time(_inspect(ipam)["State"]["StartedAt"])
    assert ipam_started > first_pass, (
        f"ipam started at {ipam_started}, before the collector's first passing check "
        f"at {first_pass}"
    )
    lap("1. build, up, healthy, ipam after the collector")

    # 2. The outputs appear and equal what `--once` writes on the host from the same databases.
    _wait_for(
        "the three output files", lambda: all((output / name).is_file() for name in OUTPUTS), 30
    )
    expected = tmp_path / "expected"
    expected.mkdir()
    _run_once_on_host(stack.directory, expected)
    for name in OUTPUTS:
        assert (output / name).read_bytes() == (expected / name).read_bytes(), name
    lap("2. outputs equal --once on the host")

    # 3. The containers run Python 3.10 and 3.9.
    version = "import sys; print('%d.%d' % sys.version_info[:2])"
    assert stack.run("exec", "-T", "collector", "python", "-c", version).strip() == "3.10"
    assert stack.run("exec", "-T", "ipam", "python", "-c", version).strip() == "3.9"
    lap("3. Python versions")

    # The README's coverage command works in the ipam container, read-only root and all.
    results = stack.directory / "ipam" / "coverage_results"
    results.unlink(missing_ok=True)
    report = stack.run("exec", "-T", "ipam", "sh", "ipam/coverage.sh", timeout=300)
    assert "TOTAL" in report
    assert results.read_text() in report
    lap("coverage command in the ipam container")

    # 7. Hardening (checked while both run): no network, read-only root, no capabilities,
    #    no privilege gain, not root - in the configuration and as the process sees it.
    uid, gid = int(stack.env["APP_UID"]), int(stack.env["APP_GID"])
    for service, container in (("collector", collector), ("ipam", ipam)):
        host_config = _inspect(container)["HostConfig"]
        assert host_config["NetworkMode"] == "none", service
        assert host_config["ReadonlyRootfs"] is True, service
        assert host_config["CapDrop"] == ["ALL"], service
        assert not host_config["CapAdd"], service
        assert "no-new-privileges:true" in host_config["SecurityOpt"], service
        assert _inspect(container)["Config"]["User"] == f"{uid}:{gid}", service
        seen = json.loads(stack.run("exec", "-T", service, "python", "-c", _PRIVILEGE_PROBE))
        assert seen == {
            "uid": uid,
            "cap_eff": 0,
            "cap_bnd": 0,
            "no_new_privs": "1",
            "interfaces": ["lo"],
            "root_writable": False,
        }, service
    assert uid != 0
    if os.name == "posix":
        for name in OUTPUTS:
            assert (output / name).stat().st_uid == uid, f"{name} belongs to the containers' user"
    lap("7. hardening")

    # 4. An edit to the collector's source shows after `restart collector`, with the same image.
    marker = f"e2e-edit-{uuid.uuid4().hex}"
    image = _inspect(collector)["Image"]
    init = stack.directory / "collector" / "__init__.py"
    init.write_text(
        init.read_text() + f"\nimport sys as _e2e_sys\n_e2e_sys.stderr.write({marker!r} + '\\n')\n"
    )
    stack.run("restart", "collector")
    _wait_for("the edited source to run", lambda: marker in stack.logs("collector"), 30)
    assert stack.container_id("collector") == collector
    assert _inspect(collector)["Image"] == image, "no rebuild: the same image runs the edit"
    lap("4. edit shows after restart")

    # 5. A missing database turns the collector unhealthy; restoring it, healthy again.
    database = stack.directory / "database" / "customers.db"
    moved = database.with_name("customers.db.moved")
    _wait_for(
        "the collector to be healthy after its restart", lambda: _health(collector) == "healthy", 60
    )
    database.rename(moved)
    _wait_for(
        "the collector to turn unhealthy without its database",
        lambda: _health(collector) == "unhealthy",
        120,
    )
    moved.rename(database)
    _wait_for("the collector to turn healthy again", lambda: _health(collector) == "healthy", 60)
    lap("5. unhealthy without the database, healthy again")

    # 6. `stop` ends both services with exit code 0 inside the grace period (past it, Docker
    #    would SIGKILL them: exit code 137).
    stopping = time.monotonic()
    stack.run("stop", timeout=STOP_GRACE_SECONDS * 3)
    took = time.monotonic() - stopping
    for service, container in (("collector", collector), ("ipam", ipam)):
        state = _inspect(container)["State"]
        assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 0, False), (
            service,
            state,
        )
    assert took < STOP_GRACE_SECONDS, f"`stop` took {took:.1f} s"
    lap("6. stop with exit code 0")
