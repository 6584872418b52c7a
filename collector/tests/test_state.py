"""The state file: what it stores comes back exactly, and anything unusable reads as no state."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.diff import Written
from collector.source import DatabaseVersion, FileIdentity
from collector.state import RunState, load_summary, load_written, save_state

SUMMARY = RunState(
    database=DatabaseVersion(41, FileIdentity(9, 10, 11, 12)),
    header=("id", "occupation"),
    customers_csv=FileIdentity(1, 2, 3, 4),
    snapshot=FileIdentity(5, 6, 7, 8),
    rows=3,
    changed=1,
    deleted=2,
)


@pytest.mark.parametrize(
    "keys",
    [
        [3, -1, 2**63 - 1, -(2**63)],
        [5],
        [],
    ],
)
def test_keys_and_fingerprints_round_trip(tmp_path: Path, keys: list[int]) -> None:
    path = tmp_path / ".collector.state"
    written = Written.from_records(keys, list(range(len(keys))))
    save_state(path, SUMMARY, written)
    assert load_summary(path) == SUMMARY
    loaded = load_written(path)
    assert loaded is not None
    assert loaded.keys == written.keys
    assert loaded.fingerprints == written.fingerprints


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json\n",
        b'{"version": 0}\n',
        b'{"version": 2}\n',  # the SHA-256 state of earlier versions
        b'{"version": 3}\n',  # no checksum of the keys yet
        b'{"version": 4}\n',  # keys of any type, a JSON body for text keys
        b"[1, 2]\n",  # valid JSON, not an object
        b'"text"\n',
    ],
)
def test_an_unusable_summary_is_no_state(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ".collector.state"
    path.write_bytes(content)
    assert load_summary(path) is None
    assert load_written(path) is None
    assert load_summary(tmp_path / "absent") is None


def test_records_cut_short_or_followed_by_more_are_no_state(tmp_path: Path) -> None:
    path = tmp_path / ".collector.state"
    save_state(path, SUMMARY, Written.from_records([1, 2], [7, 8]))
    data = path.read_bytes()
    assert load_written(path) is not None
    for damaged in (data[:-3], data + b"x", data.splitlines(keepends=True)[0]):
        path.write_bytes(damaged)
        assert load_written(path) is None


def test_keys_altered_in_place_are_no_state(tmp_path: Path) -> None:
    """Same length, summary intact: only the checksum tells, and rows would look new."""
    path = tmp_path / ".collector.state"
    save_state(path, SUMMARY, Written.from_records([1, 2], [7, 8]))
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    assert load_summary(path) == SUMMARY
    assert load_written(path) is None
