"""The comparison of table batches with the written keys, against a brute-force oracle."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from collector.csvfile import Key
from collector.diff import Comparison, Written

# Small ints collide often; huge ones do not fit 64 bits; text keys are never decimal integers.
keys = st.one_of(st.integers(-5, 40), st.integers(), st.binary(max_size=2).map(b"k".__add__))
records = st.lists(st.tuples(keys, st.integers(0, 3)), max_size=12)


@dataclass
class Batch:
    """The two things the comparison reads from an encoded batch."""

    keys: list[Key]
    fingerprints: list[int]


def first_records(pairs: list[tuple[Key, int]]) -> dict[Key, int]:
    first: dict[Key, int] = {}
    for key, fingerprint in pairs:
        first.setdefault(key, fingerprint)
    return first


def stored(written: Written) -> dict[Key, int]:
    return dict(zip(written.keys, written.fingerprints))


def as_stored(written: Written, pairs: dict[Key, int]) -> dict[Key, int]:
    """Keys as ``written`` holds them: all of them as CSV text once any is not a 64-bit int."""
    if isinstance(written.keys, list):
        return {(k if isinstance(k, bytes) else str(k).encode()): v for k, v in pairs.items()}
    return pairs


@given(file=records, table=st.lists(records, max_size=4))
def test_comparison_matches_a_brute_force_oracle(
    file: list[tuple[Key, int]], table: list[list[tuple[Key, int]]]
) -> None:
    """File records may repeat a key (the first record counts); the table comes in batches."""
    first = first_records(file)
    written = Written.from_records([k for k, _ in file], [f for _, f in file])
    assert stored(written) == as_stored(written, first)
    comparison = Comparison(written)
    new = []
    for pairs in table:
        batch = Batch([k for k, _ in pairs], [f for _, f in pairs])
        new += [pairs[i] for i in comparison.add(batch)]  # type: ignore[arg-type]
    rows = [pair for pairs in table for pair in pairs]
    assert new == [(key, fp) for key, fp in rows if key not in first]
    assert comparison.rows == len(rows)
    assert comparison.changed == sum(1 for key, fp in rows if key in first and first[key] != fp)
    assert comparison.deleted() == len(set(first) - {key for key, _ in rows})
    after = comparison.written_after()
    assert stored(after) == as_stored(after, first_records([*file, *new]))
    assert list(after.keys) == sorted(after.keys)


def test_integer_keys_stay_in_a_compact_array_and_new_ones_are_merged_in_order() -> None:
    written = Written.from_records([5, 1, 9, 1], [50, 10, 90, 11])
    assert (written.keys.typecode, list(written.keys)) == ("q", [1, 5, 9])  # type: ignore[union-attr]
    assert list(written.fingerprints) == [10, 50, 90]
    after = written.with_new([7, 0, 12, 7], [70, 0, 120, 71])
    assert list(after.keys) == [0, 1, 5, 7, 9, 12]
    assert list(after.fingerprints) == [0, 10, 50, 70, 90, 120]
    assert list(written.with_new([10, 11], [1, 2]).keys) == [1, 5, 9, 10, 11]
