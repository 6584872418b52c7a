"""The docs say what is true: the README's configuration table against the code and the Compose
file, and every relative link in README.md and docs/*.md against the files (after sqlite-utils's
tests/test_docs.py)."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

import collector.__main__
import ipam.__main__

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
TABLE_HEADER = "| service | flag | environment variable | default | meaning |"
SERVICES = {"collector": collector.__main__, "ipam": ipam.__main__}
# ${NAME}, ${NAME:-default}, ${NAME-default}: what docker-compose.yml and healthcheck.sh read.
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}")


class Row(NamedTuple):
    service: str
    flag: str
    variable: str
    default: str


def _cell(text: str) -> str:
    """A cell's value: the first `code` span when the cell starts with one, else its text."""
    text = text.strip()
    if text.startswith("`"):
        return text.split("`")[1]
    return text


def configuration_table() -> list[Row]:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert TABLE_HEADER in lines, f"README.md has no table starting {TABLE_HEADER!r}"
    rows = []
    for line in lines[lines.index(TABLE_HEADER) + 2 :]:
        if not line.startswith("|"):
            break
        cells = line.strip().strip("|").split("|")
        assert len(cells) == 5, f"not five cells: {line}"
        service, flag, variable, default, _meaning = cells
        rows.append(Row(service.strip(), _cell(flag), _cell(variable), _cell(default)))
    return rows


def _documented(service: str) -> dict[str, Row]:
    return {row.flag: row for row in configuration_table() if row.service == service}


def _variable_in_help(action: argparse.Action) -> str:
    """The variable a flag defaults from, as its help names it: ``(env NAME, default ...)``."""
    match = re.search(r"\benv ([A-Z_][A-Z0-9_]*)", action.help or "")
    return match.group(1) if match else ""


def _options(module: ModuleType) -> list[argparse.Action]:
    return [action for action in module.build_parser()._actions if action.dest != "help"]


def _clear_service_environment(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    for action in _options(module):
        if _variable_in_help(action):
            monkeypatch.delenv(_variable_in_help(action), raising=False)


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_lists_exactly_the_flags_and_variables_of_the_command_line(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = SERVICES[service]
    _clear_service_environment(monkeypatch, module)
    actual = {action.option_strings[-1]: _variable_in_help(action) for action in _options(module)}
    documented = {flag: row.variable for flag, row in _documented(service).items()}
    assert documented == actual


@pytest.mark.parametrize("service", SERVICES)
def test_each_variable_named_in_the_help_is_the_flags_default(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = SERVICES[service]
    for action in _options(module):
        if variable := _variable_in_help(action):
            monkeypatch.setenv(variable, "7")
            (rebuilt,) = [a for a in _options(module) if a.dest == action.dest]
            assert str(rebuilt.default) == "7", f"{action.option_strings} ignores {variable}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_gives_each_flags_default(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = SERVICES[service]
    _clear_service_environment(monkeypatch, module)
    constants = {name: value for name, value in vars(module).items() if name.startswith("DEFAULT_")}
    documented = _documented(service)
    for action in _options(module):
        default = action.default
        if default is None:  # resolved later, e.g. the daemon's heartbeat: DEFAULT_HEARTBEAT
            default = constants[f"DEFAULT_{action.dest.upper()}"]
        expected = "off" if default is False else str(default)
        assert documented[action.option_strings[-1]].default == expected, action.option_strings
    assert {str(value) for value in constants.values()} <= {
        row.default for row in documented.values()
    }, "a DEFAULT_* constant the table does not show"


def _variables_read_by(path: Path) -> dict[str, str]:
    """NAME -> default (empty when none) of every ${NAME...} the file reads."""
    return dict(VARIABLE.findall(path.read_text(encoding="utf-8")))


def _check_variables(read: dict[str, str], rows: list[Row]) -> None:
    documented = {row.variable: row.default for row in rows if row.variable}
    for name, default in read.items():
        assert name in documented, f"{name} is read but not in the README's table"
        if default:
            assert documented[name] == default, name
        else:
            assert documented[name].startswith("unset"), f"{name} has no default: say 'unset'"


def test_the_table_lists_exactly_the_variables_docker_compose_reads() -> None:
    read = _variables_read_by(ROOT / "docker-compose.yml")
    rows = configuration_table()
    _check_variables(read, rows)
    compose_rows = {row.variable for row in rows if row.service == "compose"}
    elsewhere = {row.variable for row in rows if row.service in {*SERVICES, "healthcheck"}}
    assert compose_rows == set(read) - elsewhere


def test_the_table_lists_exactly_the_variables_the_healthcheck_reads() -> None:
    read = _variables_read_by(ROOT / "servicekit" / "healthcheck.sh")
    rows = configuration_table()
    _check_variables(read, rows)
    assert {row.variable for row in rows if row.service == "healthcheck"} == set(read)


def test_every_row_belongs_to_a_known_source() -> None:
    assert {row.service for row in configuration_table()} == {*SERVICES, "compose", "healthcheck"}


# -- Links

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _relative_links() -> list[tuple[Path, str]]:
    links = []
    for page in [README, *DOCS]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                links.append((page, target))
    return links


@pytest.mark.parametrize(
    ("page", "target"),
    _relative_links(),
    ids=[f"{page.relative_to(ROOT)}:{target}" for page, target in _relative_links()],
)
def test_every_relative_link_points_at_a_file_that_exists(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
    assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
    if anchor:
        assert anchor in _anchors(resolved), f"{page.relative_to(ROOT)}: no heading #{anchor}"


def test_the_docs_are_there_and_the_readme_stays_short() -> None:
    assert {page.name for page in DOCS} >= {
        "design.md",
        "benchmarks.md",
        "troubleshooting.md",
        "requirements.md",
    }
    length = len(README.read_text(encoding="utf-8").splitlines())
    assert length <= 190, f"README.md has {length} lines: move the depth to docs/"


def test_the_readmes_tree_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    import ipam.tree  # noqa: PLC0415

    lines = README.read_text(encoding="utf-8").splitlines()
    (command,) = [line for line in lines if line.startswith("$ python -m ipam tree")]
    start = lines.index(command) + 1
    shown = lines[start : lines.index("```", start)]
    arguments = command.split()[5:]  # after "$ python -m ipam tree"
    assert ipam.tree.main(["--db", str(ROOT / "database" / "prefixes.db"), *arguments]) == 0
    assert capsys.readouterr().out.splitlines() == shown


def test_the_readmes_free_example_is_what_the_command_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ipam.free  # noqa: PLC0415

    text = " ".join(README.read_text(encoding="utf-8").split())  # the example spans a line break
    match = re.search(r"\(`free (\S+)`: ((?:`[^`]+`(?:, )?)+)\)", text)
    assert match, "README.md shows no `free PREFIX`: `block`, ... example"
    prefix, shown = match.groups()
    assert ipam.free.main(["--db", str(ROOT / "database" / "prefixes.db"), prefix]) == 0
    blocks = [line.split()[0] for line in capsys.readouterr().out.splitlines()[:-1]]
    assert blocks == re.findall(r"`([^`]+)`", shown)


def test_the_readmes_allocate_example_is_what_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a copy of the shipped database, as the README says: the shipped one is the exercise's."""
    import ipam.allocate  # noqa: PLC0415

    text = " ".join(README.read_text(encoding="utf-8").split())  # the example spans line breaks
    match = re.search(
        r"`cp database/prefixes\.db (\S+) && python -m ipam allocate ([^`]+)` prints `([^`]+)`",
        text,
    )
    assert match, "README.md shows no `cp ... && python -m ipam allocate ...` prints `...` example"
    copy, arguments, shown = match.groups()
    database = tmp_path / "copy.db"
    shutil.copyfile(ROOT / "database" / "prefixes.db", database)
    arguments = arguments.replace(copy, str(database))
    assert ipam.allocate.main(arguments.split()) == 0
    assert capsys.readouterr().out.split() == shown.split()
