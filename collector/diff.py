"""The comparison of the table with customers.csv: which rows are new, changed or gone.

Pure bookkeeping on keys and fingerprints, no I/O. Keys decide what is new (and so appended);
fingerprints (CRC-32 of a record's bytes) only count rows changed since they were written.
"""

from __future__ import annotations

import operator
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat

from collector.csvfile import EncodedBatch, Key
from collector.state import WrittenRecords


@dataclass(frozen=True)
class BatchDiff:
    """How a batch of table rows compares with the records already in customers.csv."""

    new: list[int]  # positions in the batch of rows whose key is not in the file
    matched: list[int]  # positions in WrittenRecords of the keys the batch holds
    changed: int  # rows whose key is in the file but whose record there differs


def diff_batch(
    keys: Sequence[Key], fingerprints: Sequence[int], written: WrittenRecords
) -> BatchDiff:
    """Compare a batch with what is written: by key for new rows, by fingerprint for changes."""
    if not written:  # a new file: every row is new
        return BatchDiff(list(range(len(keys))), [], 0)
    # Written with map/compress rather than a loop: this runs for every row of the table.
    positions = list(map(written.positions.get, keys))
    if None in positions:
        is_written = list(map(operator.is_not, positions, repeat(None)))
        new = list(compress(range(len(keys)), map(operator.not_, is_written)))
        matched = list(compress(positions, is_written))
        fingerprints = list(compress(fingerprints, is_written))
    else:  # the usual batch: every key already written
        new, matched = [], positions
    stored = map(written.fingerprints.__getitem__, matched)
    return BatchDiff(new, matched, sum(map(operator.ne, stored, fingerprints)))


class Comparison:
    """Running totals over the batches: rows, changed rows, and the new records to append."""

    def __init__(self, written: WrittenRecords) -> None:
        self.written = written
        self.seen = bytearray(len(written))  # which written records the table still holds
        self.rows = 0
        self.changed = 0
        self.new_keys: list[Key] = []
        self.new_fingerprints = array("I")

    def add(self, batch: EncodedBatch) -> BatchDiff:
        fingerprints = batch.fingerprints
        diff = diff_batch(batch.keys, fingerprints, self.written)
        _mark(self.seen, diff.matched)
        if len(diff.new) == len(batch.keys):
            self.new_keys.extend(batch.keys)
            self.new_fingerprints.extend(fingerprints)
        else:
            self.new_keys.extend(batch.keys[index] for index in diff.new)
            self.new_fingerprints.extend(fingerprints[index] for index in diff.new)
        self.rows += len(batch.keys)
        self.changed += diff.changed
        return diff

    def deleted(self) -> int:
        """Distinct written keys gone from the table (only a key's first record is matched)."""
        return len(self.written.positions) - self.seen.count(1) if self.written else 0


def _mark(flags: bytearray, positions: Sequence[int]) -> None:
    """Set ``flags[p] = 1`` for every p, looping in C (a deque of length 0 just drains the map)."""
    deque(map(flags.__setitem__, positions, repeat(1)), maxlen=0)
