"""The comparison of table batches with the written keys, against a brute-force oracle."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import diff
from collector.diff import Comparison, Written

# Small keys collide often; the extremes are what a 64-bit INTEGER PRIMARY KEY can hold.
keys = st.one_of(st.integers(-5, 40), st.integers(-(2**63), 2**63 - 1))
file_records = st.lists(st.tuples(keys, st.integers(0, 3)), max_size=24)


@dataclass
class Batch:
    """The two things the comparison reads from an encoded batch."""

    keys: array[int]
    fingerprints: array[int]


@st.composite
def tables(draw: st.DrawFn) -> list[list[tuple[int, int]]]:
    """The table as the collector reads it: unique keys in ascending order, cut into batches."""
    rows = sorted(draw(st.dictionaries(keys, st.integers(0, 3), max_size=24)).items())
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=3)))
    bounds = [0, *cuts, len(rows)]
    return [rows[start:stop] for start, stop in zip(bounds, bounds[1:])]


def first_records(pairs: list[tuple[int, int]]) -> dict[int, int]:
    first: dict[int, int] = {}
    for key, fingerprint in pairs:
        first.setdefault(key, fingerprint)
    return first


def stored(written: Written) -> dict[int, int]:
    return dict(zip(written.keys, written.fingerprints))


@pytest.mark.parametrize("merge_steps", [0, 1, 2, diff.MERGE_STEPS])
@given(file=file_records, table=tables())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_comparison_matches_a_brute_force_oracle(
    monkeypatch: pytest.MonkeyPatch,
    merge_steps: int,
    file: list[tuple[int, int]],
    table: list[list[tuple[int, int]]],
) -> None:
    """File records may repeat a key, in any order (the first record counts). However many steps
    the merge takes before the rest of a batch is looked up, the result is the same."""
    monkeypatch.setattr(diff, "MERGE_STEPS", merge_steps)
    first = first_records(file)
    written = Written.from_records([k for k, _ in file], [f for _, f in file])
    assert stored(written) == first
    comparison = Comparison(written)
    new = []
    for pairs in table:
        batch = Batch(array("q", [k for k, _ in pairs]), array("I", [f for _, f in pairs]))
        new += [pairs[i] for i in comparison.add(batch)]  # type: ignore[arg-type]
    rows = [pair for pairs in table for pair in pairs]
    assert new == [(key, fp) for key, fp in rows if key not in first]
    assert comparison.rows == len(rows)
    assert comparison.changed == sum(1 for key, fp in rows if key in first and first[key] != fp)
    assert comparison.deleted() == len(set(first) - {key for key, _ in rows})
    after = comparison.written_after()
    assert stored(after) == first_records([*file, *new])
    assert list(after.keys) == sorted(after.keys)


def test_keys_stay_in_compact_arrays_and_new_ones_are_merged_in_order() -> None:
    written = Written.from_records([5, 1, 9, 1], [50, 10, 90, 11])
    assert (written.keys.typecode, list(written.keys)) == ("q", [1, 5, 9])
    assert list(written.fingerprints) == [10, 50, 90]
    after = written.with_new(array("q", [0, 7, 12]), array("I", [0, 70, 120]))
    assert list(after.keys) == [0, 1, 5, 7, 9, 12]
    assert list(after.fingerprints) == [0, 10, 50, 70, 90, 120]
    above = written.with_new(array("q", [10, 11]), array("I", [1, 2]))
    assert list(above.keys) == [1, 5, 9, 10, 11]
    assert list(above.fingerprints) == [10, 50, 90, 1, 2]
