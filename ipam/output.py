"""Write prefixes.json and prefixes.html atomically, and not at all when nothing would change."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from servicekit.files import atomic_writer, remove_stale_temp_files
from servicekit.runs import RunError


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` with ``content`` atomically; False (and no write) when already equal.

    Skipping an unchanged file keeps its mtime, so watchers and ``make``-style tools see no
    change when there is none. Temp files of killed runs are removed either way (a write does
    it in ``atomic_writer``).
    """
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            remove_stale_temp_files(path)
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise RunError(f"cannot read existing output {path}: {error.strerror}") from error
    write_pieces(path, [content])
    return True


def write_pieces(path: Path, pieces: Iterable[bytes]) -> None:
    """Replace ``path`` atomically with the pieces, written as they come (a big page is never
    one string in memory); RunError, and ``path`` untouched, when that fails."""
    try:
        with atomic_writer(path) as stream:
            for piece in pieces:
                stream.write(piece)
    except OSError as error:
        raise RunError(f"cannot write output {path}: {error.strerror}") from error
