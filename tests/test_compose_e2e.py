"""End-to-end test of the Docker Compose stack: the README's quick start, verbatim.

Each case is a fresh `git clone` of this repository (plus any uncommitted edits, so a developer
tests the working tree), run with `docker compose up -d --wait` and no APP_UID/APP_GID, as a new
user would: once in a clone owned by whoever runs the tests (root in CI) and once in a clone owned
by uid 1234, neither root nor the 1000 the images used to assume. The steps run in order on one
stack per clone; the stack is always torn down (`down -v --rmi local --remove-orphans`).

The Compose command is `docker compose` (v2) when installed, else `docker-compose` (1.29);
E2E_COMPOSE names one (CI runs both). In CI the base images are offline stand-ins and
COMPOSE_FILE adds a build override (see .ci/docker/setup.sh).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("customers.csv", "customers_snapshot.csv", "prefixes.json")
OTHER_OWNER = 1234  # neither root nor 1000
STOP_GRACE_SECONDS = 30  # docker-compose.yml's stop_grace_period
SERVICES = ("collector", "ipam")


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
    """E2E_COMPOSE if set, else Compose v2 (`docker compose`) when present, else docker-compose."""
    if os.environ.get("E2E_COMPOSE"):
        return shlex.split(os.environ["E2E_COMPOSE"])
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


@dataclass
class Stack:
    """One Compose project in its own clone, and what the steps measured on it."""

    compose: list[str]
    directory: Path
    env: dict[str, str]
    owner: tuple[int, int]
    figures: dict[str, float] = field(default_factory=dict)

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


def _is_healthy(container: str) -> bool:
    return _health(container) == "healthy"


def _clone(destination: Path) -> None:
    """`git clone` of this repository, then the working tree's uncommitted edits over it."""
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(destination)],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    )
    for name in filter(None, listing.stdout.decode().split("\0")):
        source, target = REPO / name, destination / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:  # deleted in the working tree
            target.unlink(missing_ok=True)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)


def _run_once_on_host(workdir: Path, output: Path) -> None:
    """What the services write in one run, computed by this Python on the host."""
    env = {
        **os.environ,
        "COLLECTOR_DB": str(workdir / "database" / "customers.db"),
        "COLLECTOR_OUTPUT_DIR": str(output),
        "IPAM_DB": str(workdir / "database" / "prefixes.db"),
        "IPAM_OUTPUT": str(output / "prefixes.json"),
    }
    for service in SERVICES:
        subprocess.run(
            [sys.executable, "-m", service, "--once"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )


# Read inside a container: every process's uid and capabilities, as the kernel reports them.
_PROCESSES_PROBE = """
import json, os
seen = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        lines = open(f"/proc/{pid}/status").read().splitlines()
        status = dict(line.split(":", 1) for line in lines)
        command = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode().strip()
    except OSError:
        continue
    seen.append({
        "pid": int(pid),
        "command": command,
        "uid": int(status["Uid"].split()[0]),
        "gid": int(status["Gid"].split()[0]),
        "groups": status["Groups"].split(),
        "cap_eff": status["CapEff"].strip(),
        "cap_bnd": status["CapBnd"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
    })
try:
    open("/usr/e2e-probe", "w")
    root_writable = True
except OSError:
    root_writable = False
print(json.dumps({"processes": seen, "interfaces": sorted(os.listdir("/sys/class/net")),
                  "root_writable": root_writable}))
"""

OWNERS = ["runner", "other-uid"]


@pytest.fixture(scope="class", params=OWNERS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    reason = _docker_engine_answers()
    compose = _compose_command() if reason is None else None
    if reason is None and compose is None:
        reason = "neither `docker compose` nor `docker-compose` is installed"
    if reason is None and request.param == "other-uid" and os.geteuid() != 0:
        pytest.skip("only root can make a clone owned by another uid")
    if reason is not None:
        # CI sets this once it has started an engine: there a skip would hide a broken setup.
        if os.environ.get("E2E_REQUIRE_DOCKER") == "1":
            pytest.fail(f"E2E_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(reason)
    assert compose is not None

    workdir = tmp_path_factory.mktemp(request.param) / "screening"
    _clone(workdir)
    owner = (os.getuid(), os.getgid())
    if request.param == "other-uid":
        # Its outputs removed too, so that every one of them is written by the stack.
        for name in OUTPUTS:
            (workdir / "output" / name).unlink(missing_ok=True)
        owner = (OTHER_OWNER, OTHER_OWNER)
        workdir.parent.chmod(0o755)
        _chown_tree(workdir, *owner)
    env = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    env["COMPOSE_PROJECT_NAME"] = f"e2e{uuid.uuid4().hex[:12]}"
    for variable in ("COLLECTOR_INTERVAL_SECONDS", "IPAM_INTERVAL_SECONDS"):
        env.pop(variable, None)  # the defaults: 300 s
    built = Stack(compose=compose, directory=workdir, env=env, owner=owner)
    yield built
    print(f"\ne2e figures ({request.param}, {' '.join(compose)}): {built.figures}")
    built.call("down", "-v", "--rmi", "local", "--remove-orphans", timeout=180)


@pytest.fixture(autouse=True)
def _show_the_stack_when_a_step_fails(
    request: pytest.FixtureRequest, stack: Stack
) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("---- compose ps ----", stack.call("ps").stdout, sep="\n")
        print("---- compose logs ----", stack.call("logs", "--no-color").stdout, sep="\n")


class TestQuickStart:
    """The README's commands, in order, on one stack per clone."""

    def test_up_wait_returns_once_both_services_are_healthy(self, stack: Stack) -> None:
        stack.run("build", timeout=900)
        started = time.monotonic()
        if stack.compose == ["docker-compose"]:  # 1.29 has no --wait: the same wait, by hand
            stack.run("up", "-d", timeout=300)
            for service in SERVICES:
                healthy = partial(_is_healthy, stack.container_id(service))
                _wait_for(f"{service} healthy", healthy, 90)
        else:
            stack.run("up", "-d", "--wait", timeout=300)
        stack.figures["up --wait, seconds"] = round(time.monotonic() - started, 1)
        for service in SERVICES:
            assert _health(stack.container_id(service)) == "healthy", service

    def test_ipam_started_only_after_the_collector_passed_its_check(self, stack: Stack) -> None:
        collector, ipam = stack.container_id("collector"), stack.container_id("ipam")
        # Docker keeps the last five probes; ipam was created after the first passing one.
        probes = _inspect(collector)["State"]["Health"]["Log"]
        first_pass = min(_parse_docker_time(p["End"]) for p in probes if p["ExitCode"] == 0)
        ipam_started = _parse_docker_time(_inspect(ipam)["State"]["StartedAt"])
        assert ipam_started > first_pass, f"ipam started {ipam_started}, check passed {first_pass}"

    def test_outputs_belong_to_the_clones_owner_and_equal_a_run_on_the_host(
        self, stack: Stack, tmp_path: Path
    ) -> None:
        output = stack.directory / "output"
        expected = tmp_path / "expected"
        expected.mkdir()
        _run_once_on_host(stack.directory, expected)
        for name in (*OUTPUTS, ".collector.state"):
            status = (output / name).stat()
            assert (status.st_uid, status.st_gid) == stack.owner, name
        for name in OUTPUTS:
            assert (output / name).read_bytes() == (expected / name).read_bytes(), name

    def test_the_page_is_written_beside_the_json_by_the_same_owner(self, stack: Stack) -> None:
        page = stack.directory / "output" / "prefixes.html"
        status = page.stat()
        assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (*stack.owner, 0o644)
        content = page.read_bytes()
        assert content.startswith(b"<!DOCTYPE html><!-- ipam ")
        assert b'"database": "database/prefixes.db"' in content and b'"rows": 28' in content

    def test_the_logs_hold_one_line_per_run_of_each_service(self, stack: Stack) -> None:
        for service in SERVICES:
            # Each line a service printed, behind its "name  | " (1.29 adds an "Attaching" line).
            lines = [line for line in stack.logs(service).splitlines() if " | " in line]
            assert len(lines) == 2, lines
            assert f"INFO {service}: started: " in lines[0]
            assert f"INFO {service}: run ok: rows=" in lines[1]

    def test_the_containers_run_python_3_10_and_3_9(self, stack: Stack) -> None:
        version = "import sys; print('%d.%d' % sys.version_info[:2])"
        assert stack.run("exec", "-T", "collector", "python", "-c", version).strip() == "3.10"
        assert stack.run("exec", "-T", "ipam", "python", "-c", version).strip() == "3.9"

    def test_each_daemon_runs_as_the_owner_with_no_capabilities_and_no_network(
        self, stack: Stack
    ) -> None:
        uid, gid = stack.owner
        for service in SERVICES:
            container = stack.container_id(service)
            host_config = _inspect(container)["HostConfig"]
            assert host_config["NetworkMode"] == "none", service
            assert host_config["ReadonlyRootfs"] is True, service
            assert host_config["CapDrop"] == ["ALL"], service
            assert sorted(host_config["CapAdd"]) == ["SETGID", "SETPCAP", "SETUID"], service
            assert "no-new-privileges:true" in host_config["SecurityOpt"], service
            seen = json.loads(stack.run("exec", "-T", service, "python", "-c", _PROCESSES_PROBE))
            assert seen["interfaces"] == ["lo"], service
            assert seen["root_writable"] is False, service
            (daemon,) = [process for process in seen["processes"] if process["pid"] == 1]
            stack.figures[f"{service} pid 1"] = daemon
            assert daemon["command"] == f"python -m {service}"
            assert (daemon["uid"], daemon["gid"], daemon["groups"]) == (uid, gid, [])
            assert (daemon["cap_eff"], daemon["cap_bnd"]) == ("0" * 16, "0" * 16)
            assert daemon["no_new_privs"] == "1"

    def test_both_run_the_one_servicekit_mounted_read_only(self, stack: Stack) -> None:
        """The shared code is the checkout's servicekit/, the same in both, and neither can
        change it."""
        for service in SERVICES:
            listed = stack.run("exec", "-T", service, "ls", "/app/servicekit").split()
            assert listed == sorted(
                path.name for path in (stack.directory / "servicekit").iterdir()
            )
            touch = stack.call("exec", "-T", service, "touch", "/app/servicekit/x")
            assert touch.returncode != 0 and "Read-only file system" in touch.stderr, service

    def test_allocate_in_the_stack_says_in_one_line_to_run_it_on_the_host(
        self, stack: Stack
    ) -> None:
        """database/ is mounted read-only: the one command that writes to it says so."""
        completed = stack.call(
            "exec", "-T", "ipam", "python", "-m", "ipam", "allocate", "10.10.0.0/16",
            "--length", "24",
        )  # fmt: skip
        assert completed.returncode == 1, completed.stderr
        (line,) = completed.stderr.splitlines()
        assert line.startswith("python -m ipam allocate: cannot write database "), line
        assert "is on a read-only file system" in line and "run allocate on the host" in line

    def test_the_coverage_command_works_and_its_results_belong_to_the_owner(
        self, stack: Stack
    ) -> None:
        results = stack.directory / "ipam" / "coverage_results"
        results.unlink()
        report = stack.run("exec", "-T", "ipam", "sh", "ipam/coverage.sh", timeout=300)
        assert "TOTAL" in report
        assert results.read_text() in report
        status = results.stat()
        assert (status.st_uid, status.st_gid) == stack.owner

    def test_an_edit_shows_after_a_restart_without_a_rebuild(self, stack: Stack) -> None:
        collector = stack.container_id("collector")
        image = _inspect(collector)["Image"]
        marker = f"e2e-edit-{uuid.uuid4().hex}"
        init = stack.directory / "collector" / "__init__.py"
        init.write_text(
            init.read_text()
            + f"\nimport sys as _e2e_sys\n_e2e_sys.stderr.write({marker!r} + '\\n')\n"
        )
        stack.run("restart", "collector")
        _wait_for("the edited source to run", lambda: marker in stack.logs("collector"), 30)
        assert stack.container_id("collector") == collector
        assert _inspect(collector)["Image"] == image, "no rebuild: the same image runs the edit"
        _wait_for("the collector healthy again", lambda: _health(collector) == "healthy", 60)

    def test_without_its_database_the_collector_turns_unhealthy_then_recovers_alone(
        self, stack: Stack
    ) -> None:
        collector = stack.container_id("collector")
        database = stack.directory / "database" / "customers.db"
        moved = database.with_name("customers.db.moved")
        database.rename(moved)
        stack.run("restart", "collector")
        _wait_for("the collector unhealthy", lambda: _health(collector) == "unhealthy", 120)
        restarts = _inspect(collector)["RestartCount"], _inspect(collector)["State"]["StartedAt"]
        moved.rename(database)
        back = time.monotonic()
        _wait_for("the collector healthy again", lambda: _health(collector) == "healthy", 60)
        stack.figures["database back to healthy, seconds"] = round(time.monotonic() - back, 1)
        assert (_inspect(collector)["RestartCount"], _inspect(collector)["State"]["StartedAt"]) == (
            restarts
        ), "recovered without a restart"
        failures = [line for line in stack.logs("collector").splitlines() if "run failed:" in line]
        assert failures and all("database not found" in line for line in failures)
        assert all(re.search(r"; retry at \S+Z \(in \d+s\)$", line) for line in failures)
        assert "Traceback" not in stack.logs("collector")

    def test_stop_exits_0_within_the_grace_period_and_down_leaves_nothing(
        self, stack: Stack
    ) -> None:
        containers = [stack.container_id(service) for service in SERVICES]
        stopping = time.monotonic()
        stack.run("stop", timeout=STOP_GRACE_SECONDS * 3)
        took = time.monotonic() - stopping
        for container in containers:
            state = _inspect(container)["State"]
            assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 0, False)
        assert took < STOP_GRACE_SECONDS, f"`stop` took {took:.1f} s (past the grace: SIGKILL)"
        stack.run("down", timeout=180)
        project = stack.env["COMPOSE_PROJECT_NAME"]
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert left.stdout.strip() == ""
