"""What a service may write over: never a file it reads, never another of its outputs.

Outputs are replaced whole (``servicekit/files.py``), so an output that names the database
renames a page over it, and two outputs that name one file overwrite each other on every run.
Both are configuration errors, refused at start, before anything is written. "The same file" is
the same inode when both exist (a hard link, a symbolic link, ``./D``), otherwise the same path
once ``.``, ``..`` and symbolic links are resolved (an output not written yet).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from servicekit.database import companion, shown

# SQLite's files beside the database: a page renamed over the journal would be "rolled back"
# into the database by the next writer.
DATABASE_COMPANIONS = ("-wal", "-shm", "-journal")


class NamedPath(NamedTuple):
    """A path and how the user named it, for the message: ``--html``, ``--db``, ..."""

    name: str
    path: Path


def database_files(database: Path, name: str = "--db") -> list[NamedPath]:
    """The database and the files SQLite keeps beside it, all read, never to be replaced."""
    return [
        NamedPath(name, database),
        *(NamedPath(f"{name}'s {suffix} file", companion(database, suffix)) for suffix in
          DATABASE_COMPANIONS),
    ]  # fmt: skip


def same_file(first: Path, second: Path) -> bool:
    """Whether the two paths name one file: one inode if both exist, else one resolved path."""
    try:
        return os.path.samestat(os.stat(first), os.stat(second))
    except OSError:  # one is not there (yet), or cannot be looked at: compare where they lead
        return os.path.realpath(first) == os.path.realpath(second)


def output_clash(inputs: Sequence[NamedPath], outputs: Sequence[NamedPath]) -> str | None:
    """The one line for the first output naming a file the service reads or another output
    names; None when every output is a file of its own."""
    for index, output in enumerate(outputs):
        for read in inputs:
            if same_file(output.path, read.path):
                return (
                    f"{output.name} ({shown(output.path)}) and {read.name} ({shown(read.path)}) "
                    f"name the same file: the service reads {read.name} and replaces "
                    f"{output.name}; give them different paths"
                )
        for other in outputs[index + 1 :]:
            if same_file(output.path, other.path):
                return (
                    f"{output.name} ({shown(output.path)}) and {other.name} "
                    f"({shown(other.path)}) name the same file: each would overwrite the other; "
                    "give them different paths"
                )
    return None
