"""The CSV files on disk: encoding rows as bytes, and reading records back to find a torn tail.

The dialect is Python's ``csv`` default (comma, double quote, minimal quoting, CRLF), UTF-8
without a BOM, NULL as an empty field. ``encode_batch`` writes exactly what ``csv.writer`` would,
but from the bytes SQLite holds: TEXT goes to the file without being decoded and encoded again,
most of what a run costs on non-Latin text. TEXT that is not valid UTF-8 is written with U+FFFD for
the bad bytes, as ipam reads it, so one bad row never stops the export. A NUL is written as is,
like the csv module of Python 3.11+ (3.10's refuses to write it, 3.9's quotes it).
"""

from __future__ import annotations

import csv
import io
import zlib
from array import array
from collections.abc import Iterator, Sequence
from contextlib import suppress
from itertools import islice, zip_longest
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

from servicekit.runs import RunError

RECORD_END = b"\r\n"
# The bytes that make a field need quotes, as ints: ``44 in field`` is one memchr, six times
# faster than ``b"," in field`` and than a regular expression search.
_COMMA, _QUOTE, _CR, _LF = b',"\r\n'
# csv.reader refuses fields over 128 KiB by default; customers.csv holds whatever the table holds,
# so a long value must not pass for damage (which would fail every run, or cut a last record).
_FIELD_SIZE_LIMIT = 2**31 - 1


def _field(value: object) -> bytes | bytearray:
    """A value as ``csv.writer`` writes it: NULL empty, floats by repr, the rest by str."""
    if value is None:
        return b""
    if isinstance(value, bytearray):  # TEXT, already UTF-8
        return value
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()  # integers, and blobs as b'...'


def _is_utf8(data: bytes | bytearray) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def encode_column(values: Sequence[object]) -> tuple[Sequence[bytes | bytearray], list[int]]:
    """One column of a batch as CSV fields, and the positions of TEXT that was not valid UTF-8.
    Whole columns are checked at once (ASCII, valid UTF-8, anything to quote), so a value is
    looked at on its own only when its column needs it."""
    kinds = set(map(type, values))
    if kinds <= {int}:  # digits and a minus sign: ASCII, never quoted
        return list(map(b"%d".__mod__, values)), []
    fields: Sequence[bytes | bytearray]
    fields = (
        cast("Sequence[bytearray]", values) if kinds == {bytearray} else list(map(_field, values))
    )
    # Joined with NUL, which is ASCII and never quoted: half a character at the end of one field
    # and the rest at the start of the next must not pass for one valid character.
    joined = b"\0".join(fields)
    bad: list[int] = []
    if not joined.isascii() and not _is_utf8(joined):
        fields = list(fields)
        bad = [i for i, field in enumerate(fields) if not _is_utf8(field)]
        for i in bad:
            fields[i] = fields[i].decode("utf-8", "replace").encode()
        joined = b"\0".join(fields)
    return _quoted(fields, joined), bad


def _quoted(fields: Sequence[bytes | bytearray], joined: bytes) -> Sequence[bytes | bytearray]:
    """The fields, those holding a comma, a double quote or a line break in double quotes.
    ``joined`` (the column's fields end to end) tells which of the two comprehensions a column
    needs, or that it needs none: only a column holding a double quote pays for ``replace``."""
    if _QUOTE in joined:
        return [
            b'"%s"' % field.replace(b'"', b'""')
            if _COMMA in field or _QUOTE in field or _CR in field or _LF in field
            else field
            for field in fields
        ]
    if _COMMA in joined or _CR in joined or _LF in joined:
        return [
            b'"%s"' % field if _COMMA in field or _CR in field or _LF in field else field
            for field in fields
        ]
    return fields


class EncodedBatch(NamedTuple):
    """A batch of rows as CSV records (without the record end), their keys in the same order,
    and the keys of the rows whose TEXT was not valid UTF-8."""

    records: list[bytes]
    keys: array[int]
    repaired: list[int]

    @property
    def fingerprints(self) -> array[int]:
        return array("I", map(zlib.crc32, self.records))

    def data(self, positions: Sequence[int] | None = None) -> bytes:
        """The records (all of them, or those at ``positions``) as file content, CRLF-terminated."""
        chosen = self.records if positions is None else [self.records[p] for p in positions]
        return RECORD_END.join(chosen) + RECORD_END if chosen else b""


def encode_batch(rows: Sequence[Sequence[object]], key_position: int) -> EncodedBatch:
    """Encode rows as CSV records; their keys are the values of the INTEGER PRIMARY KEY column."""
    if not rows:
        return EncodedBatch([], array("q"), [])
    values = list(zip(*rows))
    try:
        keys = array("q", values[key_position])
    except TypeError:  # a WITHOUT ROWID table can hold text in an INTEGER PRIMARY KEY column
        raise RunError("the primary key column holds a value that is not an integer") from None
    return _encoded(values, keys)


def encode_read_back(
    records: Sequence[Sequence[str]], key_position: int, path: Path
) -> EncodedBatch:
    """Records read back from customers.csv, encoded again so that their fingerprints are the
    table's. A key must be written as ``str`` writes a 64-bit integer (``12``, never ``012`` or
    `` 12``): any other file is not one this service wrote."""
    texts = [record[key_position] for record in records]
    keys = array("q")
    with suppress(ValueError, OverflowError):  # keys then stop before the first text refused
        keys.extend(map(int, texts))
    written = list(map(str, keys))
    if written != texts:
        bad = next(text for text, key in zip_longest(texts, written) if text != key)
        raise RunError(
            f"{path} holds a record whose key {bad!r} is not an integer as this service writes "
            "one; it is left untouched (move it away to start a new file)"
        )
    values = [[bytearray(field, "utf-8") for field in column] for column in zip(*records)]
    return _encoded(values, keys)


def _encoded(values: Sequence[Sequence[object]], keys: array[int]) -> EncodedBatch:
    columns = [encode_column(column) for column in values]  # (fields, rows with bad UTF-8)
    # Never a blank line (csv.writer writes a lone empty field as ""): every record holds its key.
    records = list(map(b",".join, zip(*(fields for fields, _ in columns))))
    repaired = sorted({row for _, rows in columns for row in rows})
    return EncodedBatch(records, keys, [keys[row] for row in repaired])


def encode_header(header: Sequence[str]) -> bytes:
    """The header record with its record end (rare enough for the stdlib writer)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    return buffer.getvalue().encode()


# csv.reader before Python 3.11 refuses a NUL character, which the encoder writes as is: a line
# holding one is handed over with each NUL as a private-use pair, put back by ``restored``.
# A private-use _ESCAPE of the data itself becomes a pair too, so nothing is mistaken for a NUL.
_NUL, _ESCAPE = "\x00", "\ue000"
_HIDDEN_NUL, _HIDDEN_ESCAPE = _ESCAPE + "\ue002", _ESCAPE + "\ue001"


class _LineFeed:
    """Hands csv.reader one physical line at a time and counts the bytes handed out.

    csv.reader pulls exactly the lines of one record before yielding it, so after each record
    ``consumed`` is the byte offset where that record ends.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.consumed = 0
        self.last_line = b""
        self.hid = False  # whether NUL or _ESCAPE was hidden since ``restored`` last put it back

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.raw.readline()
        if not line:
            raise StopIteration
        self.consumed += len(line)
        self.last_line = line
        text = line.decode("utf-8")
        if _NUL in text or _ESCAPE in text:
            self.hid = True
            return text.replace(_ESCAPE, _HIDDEN_ESCAPE).replace(_NUL, _HIDDEN_NUL)
        return text

    def restored(self, fields: list[str]) -> list[str]:
        """A record's fields with whatever its lines had hidden put back."""
        if not self.hid:
            return fields
        self.hid = False
        return [
            field.replace(_HIDDEN_NUL, _NUL).replace(_HIDDEN_ESCAPE, _ESCAPE) for field in fields
        ]


class CsvScan:
    """Reads customers.csv record by record and finds where its last complete record ends.

    A run killed while appending leaves at most the beginning of one record after the last whole
    one. Anything wrong (a record not ended by CRLF, unbalanced quotes, bad UTF-8, the wrong number
    of fields) is such a torn tail when it reaches the end of the file: ``valid_end`` then stops
    before it. The same damage followed by more data, or a header other than ``header`` (checked
    before any record is yielded), is not a torn append: the scan raises RunError, never guesses.
    """

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.header = list(header)
        self.valid_end = 0

    def records(self) -> Iterator[list[str]]:
        """The data records (header checked, not yielded); sets ``valid_end`` when exhausted."""
        previous_limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
        try:
            with open(self.path, "rb") as raw:
                feed = _LineFeed(raw)
                reader = csv.reader(feed, strict=True)
                problem = _header_problem(reader, feed, self.header)
                if problem:
                    raise RunError(
                        f"{self.path} {problem}; it is left untouched "
                        "(move it away to start a new file)"
                    )
                self.valid_end = feed.consumed
                try:
                    for fields in reader:
                        if feed.last_line[-2:] != RECORD_END or len(fields) != len(self.header):
                            raise csv.Error("incomplete or wrong-sized record")
                        self.valid_end = feed.consumed
                        yield feed.restored(fields)
                except (csv.Error, UnicodeDecodeError) as error:
                    if raw.read(1):  # not a torn tail: refused, not cut
                        raise RunError(
                            f"{self.path} is damaged at byte {self.valid_end} ({error}) and more "
                            "data follows; it is left untouched"
                        ) from error
        finally:
            csv.field_size_limit(previous_limit)

    def batches(self, key_position: int, size: int) -> Iterator[EncodedBatch]:
        """The data records ``size`` at a time, encoded again by ``encode_read_back``."""
        records = self.records()
        while chunk := list(islice(records, size)):
            yield encode_read_back(chunk, key_position, self.path)


def _header_problem(reader: Iterator[list[str]], feed: _LineFeed, header: list[str]) -> str:
    """What is wrong with the first record of customers.csv, or "" when it is ``header``."""
    try:
        fields: list[str] | None = feed.restored(next(reader))
    except (StopIteration, csv.Error, UnicodeDecodeError):
        fields = None
    line = feed.last_line
    if line.startswith(b"\xef\xbb\xbf"):
        return "starts with a UTF-8 byte order mark (saved by an editor?)"
    if fields != header:
        return f"does not start with the expected header {','.join(header)}"
    if line.endswith(b"\n") and not line.endswith(RECORD_END):
        return "has lines ending with LF, not CRLF (converted?)"
    if not line.endswith(RECORD_END):
        return "holds the header without its line end (CRLF)"
    return ""
