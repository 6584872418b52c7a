"""An output never names a file the service reads or another output: the same file however it is
spelt (a symbolic link, a hard link, ``./D``, a path not there yet), refused at start in one line
naming both flags, with exit status 2 and nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servicekit.paths import NamedPath, database_files, output_clash, same_file


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "d.db"
    path.write_bytes(b"SQLite format 3\0")
    return path


def spellings(database: Path) -> list[Path]:
    """The database's own file, named other ways than its path."""
    directory = database.parent
    (directory / "link.db").symlink_to(database.name)
    os.link(database, directory / "hard.db")
    (directory / "sub").mkdir()
    return [
        database,
        Path("./d.db"),
        Path("sub/../d.db"),
        directory / "link.db",
        directory / "hard.db",
        directory / "sub" / ".." / "link.db",
    ]


def test_same_file_sees_through_links_and_spellings(database: Path) -> None:
    for spelling in spellings(database):
        assert same_file(spelling, database), spelling
        assert same_file(database, spelling), spelling
    assert not same_file(database, database.parent / "other.db")


def test_a_path_not_there_yet_is_the_same_file_when_it_resolves_to_the_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    assert same_file(Path("alias/new.json"), tmp_path / "real" / "new.json")
    assert same_file(Path("./real/../real/new.json"), Path("real/new.json"))
    assert not same_file(Path("real/new.json"), Path("real/new.html"))
    (tmp_path / "real" / "new.json").touch()  # one there, the other spelt another way
    assert same_file(Path("alias/new.json"), Path("real/new.json"))


def test_an_output_naming_the_database_names_both_flags(database: Path) -> None:
    for spelling in spellings(database):
        clash = output_clash(database_files(database), [NamedPath("--html", spelling)])
        assert clash == (
            f"--html ({spelling}) and --db ({database}) name the same file: the service reads "
            "--db and replaces --html; give them different paths"
        )


def test_the_databases_journal_and_wal_files_are_inputs_too(database: Path) -> None:
    journal = Path(f"{database}-journal")
    clash = output_clash(database_files(database), [NamedPath("--output", journal)])
    assert clash is not None
    assert clash.startswith(f"--output ({journal}) and --db's -journal file ({journal}) ")


def test_two_outputs_naming_one_file_clash_and_distinct_files_do_not(database: Path) -> None:
    json = database.parent / "p.json"
    outputs = [
        NamedPath("--output", json),
        NamedPath("--html", database.parent / "p.html"),
        NamedPath("--heartbeat", Path("./p.json")),
    ]
    assert output_clash(database_files(database), outputs) == (
        f"--output ({json}) and --heartbeat (p.json) name the same file: each would overwrite "
        "the other; give them different paths"
    )
    assert output_clash(database_files(database), outputs[:2]) is None
    assert output_clash([], []) is None


def test_the_journal_of_a_database_reached_through_a_link_is_the_real_files(
    database: Path,
) -> None:
    """``--db link.db`` (link.db -> d.db): SQLite's journal is d.db-journal, beside the real file.
    A page written there was taken for a hot journal, and every later read failed."""
    link = database.parent / "link.db"
    link.symlink_to(database.name)
    journal = Path(f"{database}-journal")
    clash = output_clash(database_files(link), [NamedPath("--html", journal)])
    assert clash is not None
    assert clash.startswith(f"--html ({journal}) and --db's -journal file ({journal}) ")
