"""Checks of the repository itself: seed databases, ignore rules, pinned requirements."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.9/3.10 CI runs
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DATABASE = ROOT / "database"


def table_dump(path: Path, table: str) -> tuple[str, list[tuple[object, ...]]]:
    """The table's CREATE statement and all its rows, read without any chance of writing."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        (schema,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        rows = connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    connection.close()
    return schema, rows


@pytest.mark.parametrize(
    ("name", "table"), [("customers.db", "customers"), ("prefixes.db", "prefixes")]
)
def test_seed_script_reproduces_the_committed_databases(
    tmp_path: Path, name: str, table: str
) -> None:
    subprocess.run(
        [sys.executable, str(DATABASE / "seed.py"), "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert table_dump(tmp_path / name, table) == table_dump(DATABASE / name, table)


def test_customers_schema_is_the_exercises_and_rows_cover_the_hard_cases() -> None:
    schema, rows = table_dump(DATABASE / "customers.db", "customers")
    columns = [line.split()[0] for line in schema.splitlines()[1:-1]]
    assert columns == ["id", "name", "address", "email", "phone", "company", "job"]
    assert len(rows) >= 25
    values = [value for row in rows for value in row[1:]]
    text = [value for value in values if isinstance(value, str)]
    assert all("\n" in str(row[2]) for row in rows), "every address has two lines"
    assert any("," in value for value in text)
    assert any('"' in value for value in text)
    assert any(not value.isascii() for value in text)
    assert values.count(None) == 1


def test_prefixes_keep_the_exercises_five_rows_and_add_a_tree() -> None:
    schema, rows = table_dump(DATABASE / "prefixes.db", "prefixes")
    assert [line.split()[0] for line in schema.splitlines()[1:-1]] == ["id", "prefix"]
    assert rows[:5] == [(i, f"10.10.{i}.0/24") for i in range(1, 6)]
    prefixes = [str(prefix) for _, prefix in rows]
    assert len(prefixes) != len(set(prefixes)), "a duplicate is part of the sample"
    assert any(":" in prefix for prefix in prefixes), "an IPv6 tree is part of the sample"


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("output/customers_snapshot.csv", True),
        ("output/.collector.lock", True),
        ("output/.collector.state", True),
        ("output/customers.csv.torn", True),
        ("output/.collector.kept", True),
        ("output/.customers.csv.1234.tmp", True),
        ("output/.prefixes.json.1234.tmp", True),
        ("output/prefixes.html", True),
        ("node_modules/axe-core/axe.min.js", True),
        ("output/.prefixes.html.1234.tmp", True),
        ("output/customers.csv", False),
        ("output/prefixes.json", False),
        ("output/.gitkeep", False),
        ("ipam/coverage_results", False),
    ],
)
def test_git_ignores_exactly_the_local_artefacts(path: str, ignored: bool) -> None:
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
    )
    assert result.returncode in (0, 1), "git check-ignore failed"
    assert (result.returncode == 0) is ignored


def pins(requirements_file: Path) -> dict[str, Requirement]:
    lines = requirements_file.read_text(encoding="utf-8").splitlines()
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {requirement.name.lower(): requirement for requirement in requirements}


@pytest.mark.parametrize("service", ["collector", "ipam"])
def test_service_requirements_are_pinned_and_agree_with_pyproject(service: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [
        Requirement(text)
        for text in project["dependencies"] + project["optional-dependencies"]["test"]
    ]
    pinned = pins(ROOT / service / "requirements.txt")
    assert all(str(r.specifier).startswith("==") for r in pinned.values()), "pins only"
    assert "apscheduler" in pinned
    for requirement in declared:
        pin = pinned.get(requirement.name.lower())
        if pin is not None:
            version = str(pin.specifier).removeprefix("==")
            assert requirement.specifier.contains(version), f"{service}: {pin} vs {requirement}"


def test_committed_outputs_are_what_the_services_write_from_the_committed_databases(
    tmp_path: Path,
) -> None:
    """Running the stack on the shipped databases must leave `git status` clean."""
    minimal_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "collector", "--once", "--db", str(DATABASE / "customers.db"),
         "--output-dir", str(tmp_path), "--heartbeat", str(tmp_path / "heartbeat")],
        cwd=ROOT, env=minimal_env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "ipam", "--once", "--db", str(DATABASE / "prefixes.db"),
         "--output", str(tmp_path / "prefixes.json")],
        cwd=ROOT, env=minimal_env, check=True, capture_output=True,
    )  # fmt: skip
    for name in ("customers.csv", "prefixes.json"):
        assert (tmp_path / name).read_bytes() == (ROOT / "output" / name).read_bytes(), name
    snapshot = (tmp_path / "customers_snapshot.csv").read_bytes()
    assert snapshot == (ROOT / "output" / "customers.csv").read_bytes()


SHARED_RUN = 8  # lines: a longer run in both service folders belongs in servicekit/, once


def _runs_of_lines(service: str) -> dict[tuple[str, ...], str]:
    """Every run of SHARED_RUN consecutive non-blank lines in the service's code and tests."""
    runs: dict[tuple[str, ...], str] = {}
    for path in sorted((ROOT / service).rglob("*")):
        if path.suffix not in {".py", ".sh"} or "__pycache__" in path.parts:
            continue
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        lines = [line for line in lines if line]
        for start in range(len(lines) - SHARED_RUN + 1):
            runs.setdefault(tuple(lines[start : start + SHARED_RUN]), str(path.relative_to(ROOT)))
    return runs


def test_no_code_is_written_twice_across_the_two_services() -> None:
    collector, ipam = _runs_of_lines("collector"), _runs_of_lines("ipam")
    shared = [(collector[run], ipam[run], run[0]) for run in collector.keys() & ipam.keys()]
    assert shared == [], "the same lines in both services (move them to servicekit/)"


# The word "issue" or "case" followed by a number: a reader of the code cannot follow a tracker's
# number. Other projects' trackers (NetBox, Nautobot, podman) are cited with their project's name,
# which says where a fact comes from, and are allowed.
TRACKER_REFERENCE = re.compile(r"\b(?:issues?|case)\s+#?\d+", re.IGNORECASE)


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_code_tests_and_docs_cite_behaviour_not_tracker_numbers() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "*.py", "*.md", "*.sh", "*.js", "*.css", "*.html", "*.toml"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    cited = []
    for name in filter(None, tracked):
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1):
            match = TRACKER_REFERENCE.search(line)
            if match and not re.search(r"podman issues|NetBox|Nautobot", line, re.IGNORECASE):
                cited.append(f"{name}:{number}: {match.group()}")
    assert cited == [], "say what the text protects, not which issue asked for it"
