"""The CSV files on disk: encoding rows, reading records back, and writing without tearing.

The dialect is Python's ``csv`` default (comma, double quote, minimal quoting, CRLF), UTF-8
without a BOM, NULL as an empty field. ``encode_batch`` produces exactly what ``csv.writer``
would, but works a column at a time: a column with no comma, quote or line break in a batch is
used as it is, and only the values that need quotes get them. That is what makes a first export
of a large table cost less than the stdlib writer's per-character work (the tests check it byte
for byte against ``csv.writer``). A NUL character is written as is, like the csv module of
Python 3.11+ (3.10's refuses to write it, 3.9's quotes it).
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union, cast

from collector.errors import HeaderMismatchError, MalformedCsvError

RECORD_END = b"\r\n"
# csv.reader refuses fields over 128 KiB by default; customers.csv holds whatever the table holds,
# so a long value must not pass for damage (which would fail every run, or cut a last record).
_FIELD_SIZE_LIMIT = 2**31 - 1


def _field_text(value: object) -> str:
    """A value as ``csv.writer`` writes it: NULL empty, floats by repr, the rest by str."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encode_column(values: Sequence[object]) -> Sequence[str]:
    """One column of a batch as CSV fields, quoting only the values that need it.

    Most columns hold no comma, quote or line break at all, which four scans of the joined column
    tell at C speed; only the other columns are looked at value by value.
    """
    try:
        texts = cast("Sequence[str]", values)
        joined = "".join(texts)
    except TypeError:  # not all text: integers, NULLs, floats, blobs
        if set(map(type, values)) <= {int}:  # digits and a minus sign never need quotes
            return list(map(str, values))
        texts = list(map(_field_text, values))
        joined = "".join(texts)
    if not any(char in joined for char in ',"\r\n'):
        return texts
    return [
        '"' + text.replace('"', '""') + '"'
        if ("," in text or '"' in text or "\n" in text or "\r" in text)
        else text
        for text in texts
    ]


Key = Union[int, str]


def _canonical_key(text: str) -> Key:
    try:
        number = int(text)
    except ValueError:
        return text
    return number if str(number) == text else text


def canonical_keys(texts: Sequence[str]) -> list[Key]:
    """Keys as the diff compares them: their CSV text, with decimal integers as ints.

    A text becomes an int only when ``str(int(text)) == text``, so two keys are equal exactly
    when their CSV texts are; ints just make the dictionary of a million written keys several
    times cheaper to build and search than the same keys as strings.
    """
    try:
        numbers = list(map(int, texts))
    except ValueError:
        return list(map(_canonical_key, texts))
    if list(map(str, numbers)) == list(texts):
        return numbers
    return list(map(_canonical_key, texts))


@dataclass(frozen=True)
class EncodedBatch:
    """A batch of rows as CSV records (UTF-8, without the record end) and their key texts."""

    records: list[bytes]
    keys: list[Key]

    @property
    def fingerprints(self) -> list[int]:
        return list(map(zlib.crc32, self.records))

    def data(self, positions: Sequence[int] | None = None) -> bytes:
        """The records (all of them, or those at ``positions``) as file content, CRLF-terminated."""
        chosen = self.records if positions is None else [self.records[p] for p in positions]
        return RECORD_END.join(chosen) + RECORD_END if chosen else b""


def encode_batch(rows: Sequence[Sequence[object]], key_positions: Sequence[int]) -> EncodedBatch:
    """Encode rows as CSV records and compute each row's key from the CSV text of its key fields.

    Keys are compared as CSV text because that is all customers.csv can tell us about a row it
    holds (see ``canonical_keys``); with no key columns the whole record is the key.
    """
    if not rows:
        return EncodedBatch([], [])
    values = list(zip(*rows))
    columns = [encode_column(column) for column in values]
    lines: Sequence[str] = list(map(",".join, zip(*columns)))
    if len(columns) == 1:  # csv.writer writes a lone empty field as "" so the line is not blank
        lines = [line or '""' for line in lines]
    if len(key_positions) == 1 and set(map(type, values[key_positions[0]])) <= {int}:
        keys: list[Key] = list(values[key_positions[0]])  # an INTEGER PRIMARY KEY: ints already
    elif not key_positions:
        keys = canonical_keys(lines)
    else:
        keys = canonical_keys(list(map(",".join, zip(*(columns[p] for p in key_positions)))))
    return EncodedBatch(list(map(str.encode, lines)), keys)


def encode_header(header: Sequence[str]) -> bytes:
    """The header record with its record end (rare enough for the stdlib writer)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    return buffer.getvalue().encode()


class _LineFeed:
    """Hands csv.reader one physical line at a time and counts the bytes handed out.

    csv.reader pulls exactly the lines of one record before yielding it, so after each record
    ``consumed`` is the byte offset where that record ends.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.consumed = 0
        self.last_line = b""

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.raw.readline()
        if not line:
            raise StopIteration
        self.consumed += len(line)
        self.last_line = line
        return line.decode("utf-8")

    def at_end(self) -> bool:
        return self.raw.read(1) == b""


class CsvScan:
    """Reads customers.csv record by record and finds where its last complete record ends.

    A run killed while appending leaves at most the beginning of one record after the last whole
    one. Anything wrong with the file (a record not ended by CRLF, unbalanced quotes, bad UTF-8, the
    wrong number of fields) is such a torn tail when it reaches the end of the file: ``valid_end``
    then stops before it. The same damage followed by more data is not a torn append, and the scan
    raises MalformedCsvError instead of guessing.
    """

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.header = list(header)
        self.valid_end = 0
        self.size = 0

    def records(self) -> Iterator[list[str]]:
        """The data records (header checked, not yielded); sets ``valid_end`` when exhausted."""
        previous_limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
        try:
            yield from self._records()
        finally:
            csv.field_size_limit(previous_limit)

    def _records(self) -> Iterator[list[str]]:
        with open(self.path, "rb") as raw:
            self.size = os.fstat(raw.fileno()).st_size
            feed = _LineFeed(raw)
            reader = csv.reader(feed, strict=True)
            if _first_record(reader, feed) != self.header:
                raise HeaderMismatchError(header_mismatch_message(self.path, self.header))
            self.valid_end = feed.consumed
            while True:
                start = feed.consumed
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as error:
                    self._torn_tail_or_raise(feed, start, f"{error}")
                    return
                if not feed.last_line.endswith(RECORD_END) or len(fields) != len(self.header):
                    self._torn_tail_or_raise(feed, start, "incomplete or wrong-sized record")
                    return
                self.valid_end = feed.consumed
                yield fields

    def _torn_tail_or_raise(self, feed: _LineFeed, start: int, problem: str) -> None:
        if not feed.at_end():
            raise MalformedCsvError(
                f"{self.path} is damaged at byte {start} ({problem}) and more data follows; "
                "it is left untouched"
            )
        self.valid_end = start


def header_mismatch_message(path: Path, header: Sequence[str]) -> str:
    return (
        f"{path} does not start with the expected header {','.join(header)}; "
        "it is left untouched (move it away to start a new file)"
    )


def _first_record(reader: Iterator[list[str]], feed: _LineFeed) -> list[str] | None:
    try:
        fields = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError):
        return None
    return fields if feed.last_line.endswith(RECORD_END) else None


def read_header(path: Path) -> list[str] | None:
    """The first record of ``path`` if it is a complete CRLF-terminated record, else None."""
    with open(path, "rb") as raw:
        feed = _LineFeed(raw)
        return _first_record(csv.reader(feed, strict=True), feed)
