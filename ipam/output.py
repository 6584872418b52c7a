"""Write prefixes.json atomically, and not at all when its content would not change."""

from __future__ import annotations

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
    try:
        with atomic_writer(path) as stream:
            stream.write(content)
    except OSError as error:
        raise RunError(f"cannot write output {path}: {error.strerror}") from error
    return True
