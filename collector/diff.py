"""The comparison of the table with customers.csv: which rows are new, changed or gone.

Pure bookkeeping on keys and fingerprints, no I/O. Keys decide what is new (and so appended);
fingerprints (CRC-32 of a record's bytes) only count rows changed since they were written.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_not, ne, not_

from collector.csvfile import EncodedBatch


@dataclass
class Written:
    """The keys of customers.csv, each once and sorted, with the fingerprint of its first record.

    Two arrays, 12 bytes a key, where a dictionary of a million int keys costs about 100 MB.
    """

    keys: array[int]
    fingerprints: array[int]

    @classmethod
    def from_records(cls, keys: Sequence[int], fingerprints: Sequence[int]) -> Written:
        """From records in file order; a key written twice keeps its first record's fingerprint."""
        first = dict(zip(reversed(keys), reversed(fingerprints)))
        ordered = sorted(first)
        return cls(array("q", ordered), array("I", map(first.__getitem__, ordered)))

    def with_new(self, keys: array[int], fingerprints: array[int]) -> Written:
        """These keys (ascending, none of them written yet) merged into the written ones: one
        bisection and two slices a new key. 10,000 new keys, half of them between a million
        written ones: 0.035 s, against 0.2 s for sorting them all again (from_records)."""
        merged_keys, merged_fingerprints = array("q"), array("I")
        start = 0
        # New keys past the last written one are appended as they are, without a bisection.
        inside = bisect_left(keys, self.keys[-1]) if self.keys else 0
        for key, fingerprint in zip(keys[:inside], fingerprints[:inside]):
            at = bisect_left(self.keys, key, start)
            merged_keys += self.keys[start:at]
            merged_keys.append(key)
            merged_fingerprints += self.fingerprints[start:at]
            merged_fingerprints.append(fingerprint)
            start = at
        merged_keys += self.keys[start:]
        merged_keys += keys[inside:]
        merged_fingerprints += self.fingerprints[start:]
        merged_fingerprints += fingerprints[inside:]
        return Written(merged_keys, merged_fingerprints)


MERGE_STEPS = 64  # runs a batch's merge may take before its keys are looked up one by one


class Comparison:
    """Running totals over the table's batches, read in key order: rows, changed rows, and the
    new records to append."""

    def __init__(self, written: Written) -> None:
        self.written = written
        self.seen = bytearray(len(written.keys))  # which written keys the table still holds
        self.rows = 0
        self.changed = 0
        self.new_keys = array("q")
        self.new_fingerprints = array("I")

    def add(self, batch: EncodedBatch) -> list[int]:
        """Compare one batch; returns the positions in it of the rows to append.

        The table is read in key order and the written keys are sorted, so this is a merge of two
        sorted lists: the batch's keys, and the slice of written keys that their range spans
        (found by bisection). Runs of keys both hold are found by comparing whole slices, and runs
        of new or gone keys skipped by bisection, in C; Python takes one step per run. Keys that
        alternate too often for that to pay (every other customer deleted) are looked up one by
        one instead, from where the merge stopped.
        """
        keys, fingerprints = batch.keys, batch.fingerprints
        self.rows += len(keys)
        if not keys:
            return []
        start = bisect_left(self.written.keys, keys[0])
        window = self.written.keys[start : bisect_right(self.written.keys, keys[-1])]
        new: list[int] = []
        row = column = 0  # the next key of the batch, and of the window
        for _ in range(MERGE_STEPS):
            # A run of keys already written: their fingerprints say which rows changed since.
            run = _common_run(keys, row, window, column)
            self._found(fingerprints[row : row + run], start + column, run)
            row, column = row + run, column + run
            if row == len(keys):  # any written keys left in the window are gone from the table
                break
            if column == len(window) or keys[row] < window[column]:
                # Keys not written yet, up to the next written one: their rows are appended.
                end = len(keys) if column == len(window) else bisect_left(keys, window[column], row)
                self.new_keys += keys[row:end]
                self.new_fingerprints += fingerprints[row:end]
                new += range(row, end)
                row = end
            else:
                column = bisect_left(window, keys[row], column)  # written keys the table lost
        else:
            new += self._look_up(keys, fingerprints, row, start + column, start + len(window))
        return new

    def _found(self, current: Sequence[int], position: int, run: int) -> None:
        """``run`` rows of the table found among the written keys from ``position`` on."""
        stored = self.written.fingerprints[position : position + run]
        if stored != current:
            self.changed += sum(map(ne, stored, current))
        self.seen[position : position + run] = b"\1" * run

    def _look_up(
        self, keys: array[int], fingerprints: array[int], row: int, low: int, high: int
    ) -> list[int]:
        """The rest of a batch, from ``row``, looked up among the written keys ``low:high``."""
        index = dict(zip(self.written.keys[low:high], range(low, high)))
        positions = list(map(index.get, keys[row:]))
        is_found = list(map(is_not, positions, repeat(None)))
        found: list[int] = list(compress(positions, is_found))  # type: ignore[arg-type]
        stored = map(self.written.fingerprints.__getitem__, found)
        self.changed += sum(map(ne, stored, compress(fingerprints[row:], is_found)))
        for position in found:
            self.seen[position] = 1
        is_new = list(map(not_, is_found))
        self.new_keys.extend(compress(keys[row:], is_new))
        self.new_fingerprints.extend(compress(fingerprints[row:], is_new))
        return list(compress(range(row, len(keys)), is_new))

    def deleted(self) -> int:
        """Written keys gone from the table."""
        return len(self.seen) - self.seen.count(1)

    def written_after(self) -> Written:
        """What customers.csv holds once this run's new rows are appended."""
        return self.written.with_new(self.new_keys, self.new_fingerprints)


def _common_run(a: array[int], i: int, b: array[int], j: int) -> int:
    """How many items from ``a[i]`` on equal those from ``b[j]`` on: doubling, then halving,
    the length of slices compared whole (a run of n costs O(n) in C and O(log n) in Python)."""
    limit = min(len(a) - i, len(b) - j)
    equal, step = 0, 1  # a[i : i + equal] == b[j : j + equal] holds
    while step <= limit and a[i : i + step] == b[j : j + step]:
        equal, step = step, step * 2
    unequal = min(step, limit + 1)  # the first length known not to hold (or past the limit)
    while unequal - equal > 1:
        middle = (equal + unequal) // 2
        if a[i : i + middle] == b[j : j + middle]:
            equal = middle
        else:
            unequal = middle
    return equal
