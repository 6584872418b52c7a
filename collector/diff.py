"""The comparison of the table with customers.csv: which rows are new, changed or gone.

Pure bookkeeping on keys and fingerprints, no I/O. Keys decide what is new (and so appended);
fingerprints (CRC-32 of a record's bytes) only count rows changed since they were written.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress, islice
from operator import itemgetter, lt, ne
from typing import Union

from collector.csvfile import EncodedBatch, Key

SortedKeys = Union["array[int]", list[bytes]]


def _int64_array(keys: Sequence[Key]) -> array[int] | None:
    """The keys as an array of 64-bit ints, or None when one of them is not such an int."""
    try:
        return array("q", keys)  # type: ignore[arg-type]
    except (TypeError, OverflowError):
        return None


def _as_bytes(key: Key) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


class Written:
    """The keys of customers.csv, each once, with the fingerprint of its first record.

    Keys are sorted. Integer keys, nearly every table's, live in an array of 64-bit ints (12 bytes
    a key with its fingerprint, where a dictionary of a million int keys costs about 100 MB).
    Any other key makes every key its CSV text, in a sorted list.
    """

    def __init__(self, keys: SortedKeys, fingerprints: array[int]) -> None:
        self.keys = keys
        self.fingerprints = fingerprints
        self._index: dict[Key, int] | None = None

    @classmethod
    def from_records(cls, keys: Sequence[Key], fingerprints: Sequence[int]) -> Written:
        """From records in file order; a key written twice keeps its first record's fingerprint."""
        first = dict(zip(reversed(keys), reversed(fingerprints)))
        try:
            ordered: SortedKeys = array("q", sorted(first))  # type: ignore[type-var]
        except (TypeError, OverflowError):  # any other key: every key as its CSV text
            first = {_as_bytes(key): value for key, value in first.items()}
            ordered = sorted(first)  # type: ignore[arg-type]
        return cls(ordered, array("I", map(first.__getitem__, ordered)))

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, keys: Sequence[Key]) -> list[int | None]:
        """The position of each key in ``self.keys``, None for a key not written.

        The table is read in key order, so a batch's keys usually span a slice about a batch long;
        a dictionary of that slice is all a batch needs. A wider span uses one of every key.
        """
        if not keys:
            return []
        if isinstance(self.keys, list):
            keys = list(map(_as_bytes, keys))
        try:
            low = bisect_left(self.keys, min(keys))  # type: ignore[type-var]
            high = bisect_right(self.keys, max(keys))  # type: ignore[type-var]
        except TypeError:  # integer keys, and a text key that cannot be among them
            low, high = 0, len(self.keys)
        if high - low > 4 * len(keys) + 64:
            if self._index is None:
                self._index = dict(zip(self.keys, range(len(self.keys))))
            index = self._index
        else:
            index = dict(zip(self.keys[low:high], range(low, high)))
        return list(map(index.get, keys))

    def with_new(self, keys: Sequence[Key], fingerprints: Sequence[int]) -> Written:
        """These keys (none of them written yet, in any order) added to the written ones."""
        if not keys:
            return self
        new_keys = _int64_array(keys)
        if not isinstance(self.keys, array) or new_keys is None:
            return Written.from_records([*self.keys, *keys], [*self.fingerprints, *fingerprints])
        if _ascending(new_keys) and (not self.keys or self.keys[-1] < new_keys[0]):
            return Written(self.keys + new_keys, self.fingerprints + array("I", fingerprints))
        merged_keys, merged_fingerprints, start, previous = array("q"), array("I"), 0, None
        for key, fingerprint in sorted(zip(keys, fingerprints), key=itemgetter(0)):
            if key == previous:  # a whole-row key twice (no primary key): the first one counts
                continue
            at = bisect_left(self.keys, key, start)
            merged_keys += self.keys[start:at]
            merged_fingerprints += self.fingerprints[start:at]
            merged_keys.append(key)  # type: ignore[arg-type]
            merged_fingerprints.append(fingerprint)
            start, previous = at, key
        merged_keys += self.keys[start:]
        merged_fingerprints += self.fingerprints[start:]
        return Written(merged_keys, merged_fingerprints)


def _ascending(keys: Sequence[Key]) -> bool:
    return all(map(lt, keys, islice(keys, 1, None)))


class Comparison:
    """Running totals over the batches: rows, changed rows, and the new records to append."""

    def __init__(self, written: Written) -> None:
        self.written = written
        self.seen = bytearray(len(written))  # which written keys the table still holds
        self.rows = 0
        self.changed = 0
        self.new_keys: list[Key] = []
        self.new_fingerprints = array("I")

    def add(self, batch: EncodedBatch) -> list[int]:
        """Compare one batch; returns the positions in it of the rows to append."""
        keys, fingerprints = batch.keys, batch.fingerprints
        self.rows += len(keys)
        if not self.written:  # a new file: every row is new
            self.new_keys += keys
            self.new_fingerprints += array("I", fingerprints)
            return list(range(len(keys)))
        positions = self.written.lookup(keys)
        new = [index for index, position in enumerate(positions) if position is None]
        if new:
            self.new_keys += [keys[index] for index in new]
            self.new_fingerprints += array("I", [fingerprints[index] for index in new])
            found = [position is not None for position in positions]
            positions = list(compress(positions, found))
            fingerprints = list(compress(fingerprints, found))
        stored, seen = self.written.fingerprints, self.seen
        self.changed += sum(map(ne, map(stored.__getitem__, positions), fingerprints))  # type: ignore[arg-type]
        for position in positions:
            seen[position] = 1
        return new

    def deleted(self) -> int:
        """Written keys gone from the table."""
        return len(self.seen) - self.seen.count(1)

    def written_after(self) -> Written:
        """What customers.csv holds once this run's new rows are appended."""
        return self.written.with_new(self.new_keys, self.new_fingerprints)
