"""The comparison of table batches with the written keys, against a brute-force oracle."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import diff
from collector.csvfile import EncodedBatch
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


# Behaviour no other test pinned down: worked examples whose every number is checked by hand.


def comparison_of(written_keys: list[int]) -> Comparison:
    """Written keys with fingerprint 10 times the key."""
    return Comparison(Written.from_records(written_keys, [key * 10 for key in written_keys]))


def batch_of(keys: list[int], changed: tuple[int, ...] = ()) -> EncodedBatch:
    """A batch whose rows carry the written fingerprints, except the keys in ``changed``."""
    prints = [key * 10 + (key in changed) for key in keys]
    return cast("EncodedBatch", Batch(array("q", keys), array("I", prints)))


def test_the_look_up_indexes_written_keys_from_where_the_batch_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No merge step at all: the whole batch is looked up among the written keys its range
    spans, which start at position 3 here (keys 1, 2 and 3 lie before the batch)."""
    monkeypatch.setattr(diff, "MERGE_STEPS", 0)
    comparison = comparison_of([1, 2, 3, 10, 11, 12, 20])
    assert comparison.add(batch_of([10, 11, 13], changed=(11,))) == [2]
    assert (comparison.rows, comparison.changed) == (3, 1)
    assert bytes(comparison.seen) == b"\0\0\0\1\1\0\0"
    assert comparison.add(batch_of([20, 21])) == [1]
    assert (comparison.rows, comparison.changed, comparison.deleted()) == (5, 1, 4)
    assert list(comparison.new_keys) == [13, 21]
    assert list(comparison.written_after().keys) == [1, 2, 3, 10, 11, 12, 13, 20, 21]


def test_the_look_up_goes_on_from_where_the_merge_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """One merge step takes the run 10, 11 and skips the lost key 12; keys 13, 14 and 20 are
    then looked up from row 2 among the written keys from position 6 on."""
    monkeypatch.setattr(diff, "MERGE_STEPS", 1)
    comparison = comparison_of([1, 2, 3, 10, 11, 12, 20, 30])
    assert comparison.add(batch_of([10, 11, 13, 14, 20], changed=(10, 20))) == [2, 3]
    assert (comparison.rows, comparison.changed, comparison.deleted()) == (5, 2, 5)
    assert bytes(comparison.seen) == b"\0\0\0\1\1\0\1\0"
    assert list(comparison.new_fingerprints) == [130, 140]


def test_changed_rows_are_counted_over_every_run_of_written_keys_in_a_batch() -> None:
    comparison = comparison_of([1, 2, 3, 5, 6, 7, 9])
    assert comparison.add(batch_of([1, 2, 3, 4, 5, 6, 7, 8], changed=(2, 6, 7))) == [3, 7]
    assert (comparison.changed, comparison.deleted()) == (3, 1)


def test_the_merge_answers_for_ordinary_batches_without_the_look_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The merge is the fast path; the look-up gives the same answers, so a merge switched off
    would hide behind it: here the look-up may not be called."""
    looked_up: list[int] = []
    look_up = Comparison._look_up

    def spy(self: Comparison, keys: array[int], *rest: int) -> list[int]:
        looked_up.append(len(keys))
        return look_up(self, keys, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Comparison, "_look_up", spy)
    # Per hundred: a run of written keys, one of keys the table lost, one of new keys: 30 steps.
    written = [key for key in range(0, 1000, 3) if key % 100 < 60]
    comparison = comparison_of(written)
    keys = [key for key in range(0, 1000, 3) if not 30 <= key % 100 < 40]
    new = [row for row, key in enumerate(keys) if key % 100 >= 60]
    assert comparison.add(batch_of(keys, changed=(6,))) == new
    lost = [key for key in written if key not in keys]
    assert (comparison.changed, comparison.deleted(), looked_up) == (1, len(lost), [])
    # Keys that alternate too often are looked up (after MERGE_STEPS runs), with the same result.
    alternating = comparison_of(list(range(0, 1000, 2)))
    assert alternating.add(batch_of(list(range(1000)))) == list(range(1, 1000, 2))
    assert (alternating.changed, alternating.deleted(), looked_up) == (0, 0, [1000])


@given(
    a=st.lists(st.integers(0, 2), max_size=40),
    b=st.lists(st.integers(0, 2), max_size=40),
    i=st.integers(0, 40),
    j=st.integers(0, 40),
)
def test_common_run_is_the_length_of_the_common_prefix(
    a: list[int], b: list[int], i: int, j: int
) -> None:
    """Its callers would make up for a run found too short with more merge steps (and in the
    end the look-up), so it is checked on its own, against a brute-force count."""
    i, j = min(i, len(a)), min(j, len(b))
    expected = 0
    while i + expected < len(a) and j + expected < len(b) and a[i + expected] == b[j + expected]:
        expected += 1
    assert diff._common_run(array("q", a), i, array("q", b), j) == expected


def test_common_run_finds_runs_as_long_as_what_is_left() -> None:
    run = array("q", range(100))
    for length in (1, 2, 3, 4, 7, 8, 9, 64, 100):
        assert diff._common_run(run, 100 - length, run, 100 - length) == length
        assert diff._common_run(run, 0, run[:length], 0) == length
