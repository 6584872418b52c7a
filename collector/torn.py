"""Keep a torn tail in customers.csv.torn exactly once, whatever step a crash stops.

Keeping a tail takes steps no single write makes atomic: append it to customers.csv.torn, fsync
that, sync the directory (a new file's name is durable only then), and only then cut it off
customers.csv. A run killed between two of them, or one that fails and cannot remove the
customers.csv.torn it created (the directory turned read-only), leaves the tail in both files,
and the next run once kept it a second time. So before the first step a run records in
``.collector.kept`` which tail it keeps (customers.csv's device and inode, the tail's offset,
length and CRC-32) and where (the size of customers.csv.torn before it). A run that finds that
very tail again resumes instead of starting anew: it appends what customers.csv.torn lacks of
the tail after the recorded offset, nothing when it holds it whole. The same bytes at the same
place of the same file are one tail, kept once.
"""

from __future__ import annotations

import json
import os
import zlib
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

from servicekit.files import atomic_writer, sync_directory
from servicekit.runs import on_os_error


class KeptTail(NamedTuple):
    """Which tail of customers.csv a run keeps, and where in customers.csv.torn it goes."""

    device: int
    inode: int
    offset: int  # where the tail starts in customers.csv: its last complete record's end
    length: int
    crc32: int
    torn_offset: int  # where it starts in customers.csv.torn: the file's size before it

    def same_tail(self, other: KeptTail) -> bool:
        return self[:5] == other[:5]


def keep_tail(
    torn: Path, record: Path, customers: os.stat_result, offset: int, tail: bytes
) -> int | None:
    """Make customers.csv.torn hold ``tail`` once, durably (file and directory entry), before
    customers.csv is cut; its size before (None: this call created it), for a failed run to cut
    it back to. A failed append takes back what it wrote."""
    doing = f"cannot keep the incomplete last record in {torn}"
    with on_os_error(doing):
        before = _size(torn)
    kept = KeptTail(customers.st_dev, customers.st_ino, offset, len(tail), zlib.crc32(tail), 0)
    start = _kept_already(record, kept, torn, before, tail)
    if start is None:  # a new tail: say where it goes before it goes there
        with on_os_error(f"cannot write {record}"):
            _save(record, kept._replace(torn_offset=before or 0))
        start = 0
    with on_os_error(doing):
        try:
            if start < len(tail):
                with open(torn, "ab") as stream:
                    stream.write(tail[start:])
                    stream.flush()
                    os.fsync(stream.fileno())
            sync_directory(torn.parent)  # a new file's name too is durable before the cut
        except BaseException:
            cut_back(torn, before)
            raise
    return before


def _kept_already(
    record: Path, kept: KeptTail, torn: Path, size: int | None, tail: bytes
) -> int | None:
    """How many bytes of ``tail`` an earlier run put in customers.csv.torn, as its record says;
    None when no record describes this tail, or the file is not as the record left it."""
    recorded = _load(record)
    if recorded is None or not recorded.same_tail(kept) or size is None:
        return None
    held = size - recorded.torn_offset
    if not 0 <= held <= len(tail):
        return None
    with on_os_error(f"cannot read {torn}"), open(torn, "rb") as stream:
        stream.seek(recorded.torn_offset)
        if stream.read(held) != tail[:held]:
            return None
    return held


def cut_back(path: Path, size: int | None) -> None:
    """Cut a file a run appended to back to ``size``; remove it if the run created it. Errors
    are left unsaid: the run has failed already, and says why."""
    with suppress(OSError):
        if size is None:
            path.unlink(missing_ok=True)
        else:
            os.truncate(path, size)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _save(record: Path, kept: KeptTail) -> None:
    with atomic_writer(record) as stream:
        stream.write(json.dumps(kept._asdict()).encode() + b"\n")


def _load(record: Path) -> KeptTail | None:
    """The record, or None when there is none or it cannot be read whole (then the tail is
    kept anew: at worst twice, never lost)."""
    try:
        with open(record, "rb") as stream:
            kept = KeptTail(**json.loads(stream.read()))
    except (OSError, ValueError, TypeError):
        return None
    return kept if all(type(value) is int for value in kept) else None
