"""The state file: what it stores comes back exactly, and anything unusable reads as no state."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import pytest

from collector.csvfile import Key
from collector.state import (
    FileIdentity,
    RunState,
    WrittenRecords,
    load_summary,
    load_written_records,
    save_state,
)

SUMMARY = RunState(
    database_sha256=None,
    header=("id", "occupation"),
    key_positions=(0,),
    customers_csv=FileIdentity(1, 2, 3, 4),
    customers_csv_sha256="ab" * 32,
    snapshot=FileIdentity(5, 6, 7, 8),
    rows=3,
    changed=1,
    deleted=2,
)


@pytest.mark.parametrize(
    "keys",
    [
        [3, -1, 2**63 - 1, -(2**63)],  # packed as 64-bit ints
        [1, 2**64],  # a decimal text key too large for 64 bits
        [7, "007", "line\nbreak", "", "é😀"],  # mixed
        ["a", "b"],
        [],
    ],
)
def test_keys_and_fingerprints_round_trip(tmp_path: Path, keys: list[Key]) -> None:
    path = tmp_path / ".collector.state"
    fingerprints = array("I", range(len(keys)))
    save_state(path, SUMMARY, WrittenRecords(list(keys), fingerprints))
    assert load_summary(path) == SUMMARY
    loaded = load_written_records(path)
    assert loaded is not None
    assert loaded.keys == keys
    assert [type(key) for key in loaded.keys] == [type(key) for key in keys]
    assert loaded.fingerprints == fingerprints
    assert loaded.positions == {key: index for index, key in reversed(list(enumerate(keys)))}


def test_positions_map_a_repeated_key_to_its_first_record_after_extending() -> None:
    written = WrittenRecords()
    written.extend(["a", "b"], [1, 2])
    assert written.positions == {"a": 0, "b": 1}
    written.extend(["a", "c"], [3, 4])
    assert written.positions == {"a": 0, "b": 1, "c": 3}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json\n",
        b'{"version": 0}\n',
        b'{"version": 1}\n',
        b"[1, 2]\n",  # valid JSON, not an object
        b'"text"\n',
    ],
)
def test_an_unusable_summary_is_no_state(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ".collector.state"
    path.write_bytes(content)
    assert load_summary(path) is None
    assert load_summary(tmp_path / "absent") is None


def test_records_that_do_not_add_up_are_no_state(tmp_path: Path) -> None:
    path = tmp_path / ".collector.state"
    save_state(path, SUMMARY, WrittenRecords([1, 2], array("I", [7, 8])))
    summary, records = path.read_bytes().splitlines()
    data = json.loads(records)
    data["fingerprints"] = data["fingerprints"][:8]  # one fingerprint for two keys
    path.write_bytes(summary + b"\n" + json.dumps(data).encode() + b"\n")
    assert load_written_records(path) is None
    path.write_bytes(summary + b"\n")
    assert load_written_records(path) is None
    for keys in ([[1], 2], [1.5, 2], {"a": 1}, "ab"):  # keys no run could have written
        line = json.dumps({"keys": keys, "fingerprints": "0700000008000000"}).encode()
        path.write_bytes(summary + b"\n" + line + b"\n")
        assert load_written_records(path) is None, keys
