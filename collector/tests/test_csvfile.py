"""The CSV layer: byte-for-byte csv.writer output, records read back, torn tails found."""

from __future__ import annotations

import csv
import io
import re
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import csvfile
from collector.csvfile import (
    CsvScan,
    encode_batch,
    encode_column,
    encode_header,
    encode_read_back,
)
from collector.tests.helpers import AWKWARD_ROWS, HEADER, as_sqlite
from servicekit.runs import RunError

# Text biased towards the characters that decide quoting, plus anything Unicode. NUL only where
# the stdlib writer agrees on it (3.11+; 3.10 refuses to write it, 3.9 quotes it).
NUL_AS_IS = sys.version_info >= (3, 11)
awkward_text: st.SearchStrategy[str] = st.text(
    alphabet=st.one_of(st.sampled_from(',"\r\n \x00aZé😀'), st.characters(codec="utf-8")),
    max_size=12,
).filter(lambda text: NUL_AS_IS or "\x00" not in text)
# TEXT that is not valid UTF-8: bytes SQLite hands over as they are, beside the characters that
# decide quoting. The reference (csv.writer) gets it decoded with U+FFFD for the bad bytes.
bad_utf8 = st.lists(
    st.sampled_from([b",", b'"', b"\r\n", b"a", "é".encode(), b"\xff", b"\xe6\x97", b"\x80"]),
    min_size=1,
    max_size=5,
).map(lambda parts: BadText(b"".join(parts)))
value = st.one_of(
    st.none(),
    awkward_text,
    bad_utf8,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.binary(max_size=4),
)


class BadText(bytes):
    """A TEXT value given as raw bytes (perhaps not UTF-8), not a BLOB."""


def from_sqlite(value: object) -> object:
    """The value the collector reads: TEXT as a bytearray of its bytes, the rest as is."""
    if isinstance(value, BadText):
        return bytearray(value)
    return bytearray(value, "utf-8") if isinstance(value, str) else value


def for_csv_writer(value: object) -> object:
    return value.decode("utf-8", "replace") if isinstance(value, BadText) else value


def stdlib_csv(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[object, ...]]:
    width = draw(st.integers(min_value=1, max_value=5))
    return draw(st.lists(st.tuples(*[value] * width), max_size=8))


@given(tables())
@settings(max_examples=400, deadline=None)
def test_encoding_is_byte_for_byte_what_csv_writer_writes(rows: list[tuple[object, ...]]) -> None:
    """Any mix of NULL, TEXT (with NUL, bad UTF-8), INTEGER, REAL and BLOB, one to five columns
    after the key."""
    sqlite_rows = [(key, *map(from_sqlite, row)) for key, row in enumerate(rows)]
    expected = [(key, *map(for_csv_writer, row)) for key, row in enumerate(rows)]
    assert encode_batch(sqlite_rows, 0).data() == stdlib_csv(expected)


# csv.reader before Python 3.11 refuses NUL characters, so the round trip leaves them out.
readable_text: st.SearchStrategy[str] = awkward_text.filter(lambda text: "\x00" not in text)


def test_a_character_split_across_two_rows_is_bad_text_in_both() -> None:
    # Joined end to end, b"A\xc3" and b"\xa9B" would read as the valid "A\u00e9B".
    fields, bad = encode_column([bytearray(b"A\xc3"), bytearray(b"\xa9B"), bytearray(b"ok")])
    assert list(fields) == ["A\ufffd".encode(), "\ufffdB".encode(), b"ok"]
    assert bad == [0, 1]


def test_nul_is_written_as_is_on_every_python() -> None:
    assert encode_column([bytearray(b"a\x00b"), bytearray(b"c")]) == ([b"a\x00b", b"c"], [])


@given(st.lists(readable_text, min_size=1, max_size=20))
def test_encoding_round_trips_through_csv_reader(texts: list[str]) -> None:
    rows = [(index, text, text) for index, text in enumerate(texts)]
    data = encode_batch(as_sqlite(rows), 0).data().decode()
    assert list(csv.reader(io.StringIO(data, newline=""))) == [
        [str(index), text, text] for index, text, _ in rows
    ]


def test_awkward_values_round_trip_and_null_becomes_empty() -> None:
    data = encode_batch(as_sqlite(AWKWARD_ROWS), 0).data()
    assert data == stdlib_csv(AWKWARD_ROWS)
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert records[1][4] == ""  # the NULL phone
    assert records[0][2] == "32390 Norris Falls\nSethland, NY 73456"
    assert records[1][2] == "Calle de Alcalá 1\r\nMadrid"
    assert records[3] == [str(v) for v in AWKWARD_ROWS[3]]


def test_quoting_is_minimal() -> None:
    texts = ["plain", "with space", "a,b", 'q"q', "l\nl", "c\rr", ""]
    fields, _ = encode_column([bytearray(text, "utf-8") for text in texts])
    assert fields == [b"plain", b"with space", b'"a,b"', b'"q""q"', b'"l\nl"', b'"c\rr"', b""]
    assert encode_column([1, -2, 3]) == ([b"1", b"-2", b"3"], [])
    blob = b"a,b"  # written as csv.writer writes it, str(blob), quoted for its comma
    assert encode_column([None, 1.5, bytearray(b"x"), blob]) == (
        [b"", b"1.5", b"x", b"\"b'a,b'\""],
        [],
    )


def test_keys_are_the_integer_primary_key_and_fingerprints_the_records_crc32() -> None:
    rows = as_sqlite([("a,b", 7, "x"), ("c", -2, "y")])
    batch = encode_batch(rows, 1)
    assert list(batch.keys) == [7, -2]
    assert list(batch.fingerprints) == [zlib.crc32(record) for record in batch.records]
    assert batch.records == [b'"a,b",7,x', b"c,-2,y"]


def test_a_key_that_is_not_an_integer_is_one_clear_error() -> None:
    # A WITHOUT ROWID table can hold text in its INTEGER PRIMARY KEY column.
    with pytest.raises(RunError, match="not an integer"):
        encode_batch([(bytearray(b"x"), 1)], 0)


def test_records_read_back_are_encoded_as_the_table_would_be(tmp_path: Path) -> None:
    read_back = encode_read_back([["1", "a,b"], ["-20", ""]], 0, tmp_path / "c.csv")
    table = encode_batch([(1, bytearray(b"a,b")), (-20, None)], 0)
    assert (read_back.records, list(read_back.keys)) == (table.records, list(table.keys))


@pytest.mark.parametrize("key", ["012", " 1", "1_0", "\u0663", "x", "", "99999999999999999999"])
def test_a_key_read_back_not_written_as_an_integer_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(RunError, match=f"key {re.escape(repr(key))} is not an integer"):
        encode_read_back([["1", "a"], [key, "b"]], 0, tmp_path / "c.csv")


def test_header_record() -> None:
    assert encode_header(HEADER) == b"id,name,address,email,phone,company,occupation\r\n"
    assert encode_header(["a,b", "c"]) == b'"a,b",c\r\n'


def write_csv(path: Path, rows: Sequence[Sequence[object]]) -> bytes:
    data = encode_header(HEADER) + encode_batch(as_sqlite(rows), 0).data()
    path.write_bytes(data)
    return data


def scan(path: Path) -> tuple[list[list[str]], CsvScan]:
    scanner = CsvScan(path, HEADER)
    return list(scanner.records()), scanner


def test_scan_reads_every_record_of_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    data = write_csv(path, AWKWARD_ROWS)
    records, scanner = scan(path)
    assert records == [["" if v is None else str(v) for v in row] for row in AWKWARD_ROWS]
    assert scanner.valid_end == len(data)


# NUL, and the private-use characters the scan hides it with, beside those that decide quoting.
nul_text = st.text(alphabet=st.sampled_from(',"\r\n a\x00\ue000\ue001\ue002'), max_size=8)


@given(st.lists(st.tuples(nul_text, nul_text), min_size=1, max_size=6))
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_scan_reads_back_nul_on_every_python(tmp_path: Path, texts: list[tuple[str, str]]) -> None:
    """csv.reader before 3.11 refuses NUL, which the encoder writes as is: the scan must not."""
    rows = [(index, *pair) for index, pair in enumerate(texts)]
    path = tmp_path / "nul.csv"
    path.write_bytes(encode_header(["id", "a", "b"]) + encode_batch(as_sqlite(rows), 0).data())
    scanner = CsvScan(path, ["id", "a", "b"])
    assert list(scanner.records()) == [[str(index), a, b] for index, a, b in rows]
    assert scanner.valid_end == path.stat().st_size


@given(cut=st.integers(min_value=0, max_value=10_000), garbage=st.sampled_from([b"", b"\xc3"]))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_torn_tail_at_any_offset_ends_at_the_last_complete_record(
    tmp_path: Path, cut: int, garbage: bytes
) -> None:
    """Cut the file anywhere after the header: exactly the records wholly before the cut survive."""
    path = tmp_path / "torn.csv"
    header = encode_header(HEADER)
    records = encode_batch(as_sqlite(AWKWARD_ROWS), 0).records
    ends = []
    data = header
    for record in records:
        data += record + b"\r\n"
        ends.append(len(data))
    cut = len(header) + cut % (len(data) - len(header) + 1)
    path.write_bytes(data[:cut] + (garbage if cut < len(data) else b""))
    survivors, scanner = scan(path)
    complete = [end for end in ends if end <= cut]
    assert scanner.valid_end == (complete[-1] if complete else len(header))
    assert len(survivors) == len(complete)
    assert survivors == [
        ["" if v is None else str(v) for v in row] for row in AWKWARD_ROWS[: len(complete)]
    ]


@pytest.mark.parametrize(
    "damage",
    [b'9,"unterminated,x,y,z,w,v\r\n', b"9,too,few\r\n", b"9,a,b,c,d,e,f\n", b"\xff\xfe,a\r\n"],
)
def test_damage_followed_by_more_records_is_refused_not_truncated(
    tmp_path: Path, damage: bytes
) -> None:
    path = tmp_path / "customers.csv"
    good = write_csv(path, AWKWARD_ROWS[:2])
    tail = encode_batch(as_sqlite(AWKWARD_ROWS[2:]), 0).data()
    path.write_bytes(good + damage + tail)
    with pytest.raises(RunError, match="damaged at byte"):
        scan(path)


@pytest.mark.parametrize(
    "last", [b"9,a,b,c,d,e,f", b"9,a,b\r\n", b"9,a,b,c,d,e,f\n", b'9,"a\r\n', b"9,\xc3"]
)
def test_damage_that_reaches_the_end_is_a_torn_tail(tmp_path: Path, last: bytes) -> None:
    path = tmp_path / "customers.csv"
    good = write_csv(path, AWKWARD_ROWS)
    path.write_bytes(good + last)
    records, scanner = scan(path)
    assert len(records) == len(AWKWARD_ROWS)
    assert scanner.valid_end == len(good)


HEADER_LINE = b"id,name,address,email,phone,company,occupation"


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"id,name\r\n", "does not start with the expected header"),
        (b"id,name,address,email,phone,company,job\r\n", "does not start with the expected header"),
        (HEADER[0].encode(), "does not start with the expected header"),
        (b"\xef\xbb\xbf" + HEADER_LINE + b"\r\n", "starts with a UTF-8 byte order mark"),
        (HEADER_LINE, "holds the header without its line end"),
        (HEADER_LINE + b"\n1,a,b,c,d,e,f\n", "has lines ending with LF, not CRLF"),
    ],
)
def test_a_header_that_is_not_ours_is_refused_naming_the_cause(
    tmp_path: Path, content: bytes, cause: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    with pytest.raises(RunError, match=re.escape(cause)):
        scan(path)


def test_text_that_is_not_utf8_gets_u_fffd_for_the_bad_bytes_and_its_key_is_reported() -> None:
    rows = [
        (1, bytearray(b"ok")),
        (2, bytearray(b"caf\xe9, \xff\xfe")),
        (3, bytearray("日本".encode())),
    ]
    batch = encode_batch(rows, 0)
    assert batch.data() == '1,ok\r\n2,"caf\ufffd, \ufffd\ufffd"\r\n3,日本\r\n'.encode()
    assert batch.repaired == [2]


# Behaviour no other test pinned down: each test fails when a mutation of the code survives.

BAD_QUOTING = b'9,"a"b,c,d,e,f,g\r\n'  # text after a closing quote: no csv.writer writes that


def test_bad_quoting_followed_by_more_records_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    good = write_csv(path, AWKWARD_ROWS[:2])
    path.write_bytes(good + BAD_QUOTING + encode_batch(as_sqlite(AWKWARD_ROWS[2:]), 0).data())
    with pytest.raises(RunError, match=f"damaged at byte {len(good)} "):
        scan(path)


def test_bad_quoting_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    good = write_csv(path, AWKWARD_ROWS)
    path.write_bytes(good + BAD_QUOTING)
    records, scanner = scan(path)
    assert (len(records), scanner.valid_end) == (len(AWKWARD_ROWS), len(good))


def test_the_scan_hands_csv_reader_no_nul_as_python_3_10_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.10's csv.reader (the collector image's) refuses a line holding NUL; 3.11's
    takes it. The reader here refuses it as 3.10's does, on every Python, so that the hiding
    is checked wherever the tests run, not only under 3.10."""
    reader = csv.reader

    def reader_of_python_3_10(lines: Iterable[str], *, strict: bool) -> Iterator[list[str]]:
        def refusing_nul() -> Iterator[str]:
            for line in lines:
                if "\x00" in line:
                    raise csv.Error("line contains NUL")
                yield line

        return reader(refusing_nul(), strict=strict)

    monkeypatch.setattr(csv, "reader", reader_of_python_3_10)
    texts = ["a\x00b", "\x00", "\ue000\x00", "\ue000\ue002", "\ue000\ue001,\r\n\x00\x00"]
    rows = [(index, text, "x" + text) for index, text in enumerate(texts)]
    path = tmp_path / "nul.csv"
    path.write_bytes(encode_header(["id", "a", "b"]) + encode_batch(as_sqlite(rows), 0).data())
    scanner = CsvScan(path, ["id", "a", "b"])
    assert list(scanner.records()) == [[str(index), a, b] for index, a, b in rows]
    assert scanner.valid_end == path.stat().st_size
    header_with_nul = tmp_path / "header.csv"
    header_with_nul.write_bytes(b"id,a\x00\r\n1,\x00\r\n")  # 3.10's csv.writer refuses NUL
    assert list(CsvScan(header_with_nul, ["id", "a\x00"]).records()) == [["1", "\x00"]]


def test_no_rows_encode_to_an_empty_batch() -> None:
    batch = encode_batch([], 0)
    assert (batch.keys.typecode, batch.data(), list(batch.fingerprints)) == ("q", b"", [])
    assert (batch.records, batch.keys, batch.repaired) == ([], array("q"), [])


def test_the_scan_hands_out_batches_of_the_size_asked_for(tmp_path: Path) -> None:
    """customers.csv is read back a batch at a time, never whole into memory."""
    path = tmp_path / "customers.csv"
    write_csv(path, AWKWARD_ROWS)
    sizes = [len(batch.records) for batch in CsvScan(path, HEADER).batches(0, 2)]
    assert sizes == [2, 2, 1]


def test_a_bad_key_in_a_batch_read_back_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(write_csv(path, AWKWARD_ROWS[:1]) + b"x1,a,b,c,d,e,f\r\n")
    with pytest.raises(RunError) as refused:
        list(CsvScan(path, HEADER).batches(0, 10))
    assert str(refused.value) == (
        f"{path} holds a record whose key 'x1' is not an integer as this service writes one; "
        "it is left untouched (move it away to start a new file)"
    )


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", f"does not start with the expected header {','.join(HEADER)}"),
        (b"id,name\r\n", f"does not start with the expected header {','.join(HEADER)}"),
        (
            b"\xef\xbb\xbf" + HEADER_LINE + b"\r\n",
            "starts with a UTF-8 byte order mark (saved by an editor?)",
        ),
        (HEADER_LINE, "holds the header without its line end (CRLF)"),
        (HEADER_LINE + b"\n", "has lines ending with LF, not CRLF (converted?)"),
    ],
)
def test_a_refused_file_is_one_whole_sentence(tmp_path: Path, content: bytes, cause: str) -> None:
    """The operator reads these in the log: the whole line is checked, not only its cause."""
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    with pytest.raises(RunError) as refused:
        scan(path)
    assert str(refused.value) == (
        f"{path} {cause}; it is left untouched (move it away to start a new file)"
    )


def test_damage_before_more_data_is_one_whole_sentence(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    good = write_csv(path, AWKWARD_ROWS[:1])
    path.write_bytes(good + b"9,too,few\r\n1,a,b,c,d,e,f\r\n")
    with pytest.raises(RunError) as refused:
        scan(path)
    assert str(refused.value) == (
        f"{path} is damaged at byte {len(good)} (incomplete or wrong-sized record) and more "
        "data follows; it is left untouched"
    )


def test_a_key_that_is_not_an_integer_is_refused_in_one_whole_sentence() -> None:
    with pytest.raises(RunError) as refused:
        encode_batch([(bytearray(b"x"), 1)], 0)
    assert str(refused.value) == "the primary key column holds a value that is not an integer"


def test_whole_columns_take_the_fast_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column of integers, or of TEXT only, is encoded without a call per value, and an ASCII
    column is not checked for UTF-8: the slow ways give the same bytes, so a fast path switched
    off would hide behind them."""
    per_value: list[object] = []
    utf8_checks: list[bytes | bytearray] = []
    field, is_utf8 = csvfile._field, csvfile._is_utf8

    def counted_field(value: object) -> bytes | bytearray:
        per_value.append(value)
        return field(value)

    def counted_is_utf8(data: bytes | bytearray) -> bool:
        utf8_checks.append(data)
        return is_utf8(data)

    monkeypatch.setattr(csvfile, "_field", counted_field)
    monkeypatch.setattr(csvfile, "_is_utf8", counted_is_utf8)
    assert encode_column([1, -2, 30]) == ([b"1", b"-2", b"30"], [])
    assert encode_column([bytearray(b"a,b"), bytearray(b"c")]) == ([b'"a,b"', b"c"], [])
    assert (per_value, utf8_checks) == ([], [])
    assert encode_column([bytearray("é".encode()), None]) == (["é".encode(), b""], [])
    assert (per_value, utf8_checks) == ([bytearray("é".encode()), None], ["é\0".encode()])
