"""Write prefixes.json and prefixes.html atomically, and not at all when nothing would change."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from servicekit.files import atomic_writer, remove_stale_temp_files
from servicekit.runs import on_os_error


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` with ``content`` atomically; False (and no write) when already equal.

    Skipping an unchanged file keeps its mtime, so watchers and ``make``-style tools see no
    change when there is none. Temp files of killed runs are removed either way (a write does
    it in ``atomic_writer``).
    """
    with on_os_error(f"cannot read {path}"):
        try:
            if path.stat().st_size == len(content) and path.read_bytes() == content:
                remove_stale_temp_files(path)
                return False
        except FileNotFoundError:
            pass
    write_pieces(path, [content])
    return True


def write_pieces(path: Path, pieces: Iterable[bytes]) -> None:
    """Replace ``path`` atomically with the pieces, written as they come (a big page is never
    one string in memory); a RunError naming the file, and ``path`` untouched, when that fails."""
    with on_os_error(f"cannot write {path}"), atomic_writer(path) as stream:
        for piece in pieces:
            stream.write(piece)
