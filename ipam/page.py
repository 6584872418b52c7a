"""``prefixes.html``: the prefix tree as one self-contained page, opened offline from ``file://``.

The page is a view of the same walk as ``prefixes.json`` and ``python -m ipam tree``: this module
turns its sorted keys and parent positions into compact columns, and the page's own script
(``page.js``, beside this file with ``page.html`` and ``page.css``, read at run time: no build
step) derives the rest in the browser.

The data is one JSON object in a ``<script type="application/json">``, one entry per node (a
distinct valid network) in key order, which is preorder (IPv4 before IPv6):

- ``l``: the prefix length, one byte a node, the whole column in base64;
- ``u``: how many levels up from the node before the parent is (0: the node before is the
  parent; a root climbs past the top, one more than the node before's depth), one byte a node
  in base64 too;
- ``a``: the network address minus the parent's (a root's: minus 0), counted in blocks of the
  node's size (the difference is always a multiple of it): a number, or a ``0x`` hex string
  past 2**53 (IPv6 only; the browser makes BigInts of IPv6 addresses when it needs them);
- ``i``: the ids, a number for the usual one integer id, else a list of the stored values.

From those the page derives parent, depth, children, utilization, free blocks and the search.
Every stored value reaches the page as JSON text, escaped so that nothing in it can end the
script element (``<``, ``>``, ``&``, U+2028 and U+2029 become ``\\u`` escapes), and the page inserts
it with ``textContent`` only: database text is never markup.

No I/O but ``read_template`` and ``is_current``: the service writes the pieces
(``ipam/service.py``).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import stat
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, compress, islice, repeat
from operator import ne, sub
from pathlib import Path
from typing import NamedTuple

from ipam.networks import IPV6_BIT, LENGTH_BITS, LENGTH_MASK
from ipam.report import json_safe
from servicekit.runs import on_os_error

FILE_NAME = "prefixes.html"
_HERE = Path(__file__).resolve().parent
_ADDRESS_BITS = ((1 << 128) - 1) << LENGTH_BITS  # a key without its version bit
_NODES_PER_CHUNK = 50_000  # the columns are encoded this many nodes at a time (memory)
_SAFE_INT = 1 << 53  # beyond that an id is not exact as a JavaScript number: sent as text
# What may not appear raw inside a <script> element's JSON (json.dumps already escapes every
# other non-ASCII character): "</script>", "<!--" and the line separators a parser may trip on.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class Template(NamedTuple):
    """The page's own files: ``page.html`` cut at its three slots, ``page.css``, ``page.js``."""

    parts: tuple[str, str, str, str]  # the HTML before the style, data, script, and after
    style: bytes
    script: bytes
    version: str  # a digest of all three files: a page from another version is rewritten


def read_template() -> Template:
    """The page's files, read from beside this module (mounted source, no build step); a
    RunError naming the file that cannot be read."""
    raw_html, style, script = map(_read_template_file, template_files())
    html = raw_html.decode("utf-8")
    before_style, rest = html.split("/*STYLE*/")
    before_data, rest = rest.split("/*DATA*/")
    before_script, after_script = rest.split("/*SCRIPT*/")
    version = hashlib.sha256(b"\0".join([raw_html, style, script])).hexdigest()[:16]
    return Template(
        (before_style, before_data, before_script, after_script), style, script, version
    )


def template_files() -> tuple[Path, Path, Path]:
    """``page.html``, ``page.css`` and ``page.js``: read by every run that writes a page."""
    return (_HERE / "page.html", _HERE / "page.css", _HERE / "page.js")


def _read_template_file(path: Path) -> bytes:
    with on_os_error(f"cannot read the page's template {path}"):
        return path.read_bytes()


def page_stamp(template: Template, json_bytes: bytes, database: str) -> bytes:
    """The page's first line: which template, which data, which database it shows.

    A run writes the page only when this line differs from the existing page's (``is_current``):
    a steady run, with an unchanged ``prefixes.json``, reads one line and writes nothing.
    """
    data = hashlib.sha256(json_bytes)  # not json_bytes + ...: a copy of a file of 100 MB
    data.update(b"\0" + database.encode("utf-8", "surrogateescape"))
    return f"<!DOCTYPE html><!-- ipam {template.version} {data.hexdigest()[:32]} -->\n".encode()


def is_current(path: Path, stamp: bytes) -> bool:
    """True when the page at ``path`` starts with ``stamp``; False when missing or different.

    Opened without blocking and read only if it is a regular file: opening a FIFO for reading
    waits for a writer, forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as page:
            return stat.S_ISREG(os.fstat(fd).st_mode) and page.read(len(stamp)) == stamp
    except OSError:
        return False


class PageData(NamedTuple):
    """What the page shows, as the engine's walk gives it."""

    header: dict[str, object]  # database, time, rows, valid, invalid
    keys: Sequence[int]  # the valid rows' network keys, sorted; duplicates next to each other
    parents: Sequence[int]  # the sorted position of each position's closest parent, -1: none
    ids: Sequence[object]  # the id of the row at each sorted position
    invalid_rows: Sequence[tuple[object, object, str]]  # id, stored value, reason


def page_pieces(template: Template, stamp: bytes, data: PageData) -> Iterator[bytes]:
    """The page, in pieces to write one after another (never one string of the whole page)."""
    before_style, before_data, before_script, after_script = template.parts
    yield stamp
    yield before_style.encode()
    yield template.style
    yield before_data.encode()
    yield from _data_pieces(data)
    yield before_script.encode()
    yield template.script
    yield after_script.encode()


def _data_pieces(data: PageData) -> Iterator[bytes]:
    """The JSON object, script-safe, column by column and (numbers) chunk by chunk."""
    nodes = _Nodes(data.keys, data.parents, data.ids)
    meta = {
        **data.header,
        "networks": len(nodes.firsts),
        "ipv4": nodes.ipv4,
        # Python 3.13 writes IPv4-mapped IPv6 networks as ::ffff:1.2.3.4, older ones in hex:
        # the page writes them as the tree of this very run does.
        "dotted_mapped": "." in str(ipaddress.IPv6Address("::ffff:1.2.3.4")),
        "invalid_rows": [
            [_stored(row_id), _stored(value), error] for row_id, value, error in data.invalid_rows
        ],
    }
    yield _script_safe(json.dumps(meta))[:-1].encode("ascii")  # without its closing brace
    # The one-byte columns whole, in base64 (script-safe): the browser decodes a Uint8Array
    # natively where a JSON array costs a number parsed per node and twice the bytes.
    for name, values in (("l", nodes.lengths()), ("u", nodes.rises())):
        yield f', "{name}": "'.encode() + base64.b64encode(bytes(values)) + b'"'
    columns = (
        ("a", nodes.address_offsets),
        ("i", nodes.ids),
    )
    # Chunks never straddle the IPv4/IPv6 boundary: a chunk's addresses are all of one kind.
    count = len(nodes.firsts)
    starts = sorted({*range(0, count, _NODES_PER_CHUNK), nodes.ipv4} - {count})
    chunks = [range(start, stop) for start, stop in zip(starts, [*starts[1:], count])]
    for name, column in columns:
        yield f', "{name}": ['.encode()
        for index, chunk in enumerate(chunks):
            if index:
                yield b","
            yield ",".join(column(chunk)).encode("ascii")  # already script-safe
        yield b"]"
    yield b"}"


class _Nodes:
    """The columns of the nodes (distinct networks), from the sorted positions of the rows.

    Built with ``map`` and ``compress`` where it can be (a million nodes are a million Python
    steps otherwise: the page may cost the run at most half again its time), and a chunk of
    nodes at a time beyond the few lists every column needs (memory).
    """

    def __init__(self, keys: Sequence[int], parents: Sequence[int], ids: Sequence[object]) -> None:
        self._ids = ids
        positions = len(keys)
        # A node starts where the key differs from the one before (True, counted as 1).
        starts = [True, *map(ne, islice(keys, 1, None), keys)] if positions else []
        self.firsts = list(compress(range(positions), starts))
        self.first_keys = list(map(keys.__getitem__, self.firsts))
        self.ipv4 = bisect_left(self.first_keys, IPV6_BIT)
        self._first_parents = list(map(parents.__getitem__, self.firsts))  # positions, or -1
        # The node of each position (parents are first positions): the starts up to it, less 1.
        self._node_of = list(islice(accumulate(starts, initial=-1), 1, None))
        self._depths: list[int] = []  # each node's, from its parent's (parents come first)
        depths, node_of = self._depths, self._node_of
        for parent in self._first_parents:
            depths.append(depths[node_of[parent]] + 1 if parent >= 0 else 0)
        # Most tables have one integer id per row, each small enough for a JavaScript number.
        self._plain_ids = all(type(value) is int for value in ids) and (
            not ids or (min(ids) > -_SAFE_INT and max(ids) < _SAFE_INT)  # type: ignore[type-var,operator]
        )

    def _parent_nodes(self, chunk: range) -> list[int]:
        """The parent node of each node of the chunk; -1 for a root."""
        node_of = self._node_of
        parents = self._first_parents[chunk.start : chunk.stop]
        return [node_of[parent] if parent >= 0 else -1 for parent in parents]

    def lengths(self) -> Iterable[int]:
        return map(LENGTH_MASK.__and__, self.first_keys)

    def rises(self) -> Iterable[int]:
        """How many levels up from the node before each node its parent is: 0 when that node is
        the parent, one more than the node before's depth for a root (past the top); at most
        129, as depths go from 0 to 128.

        Small whatever the table (the "how many nodes back" of a level of 500,000 children
        took 7 digits each), and the browser finds the parent with a stack of ancestors.
        """
        depths = self._depths
        return (before + 1 - level for before, level in zip([-1, *depths], depths))

    def address_offsets(self, chunk: range) -> list[str]:
        """Each node's address minus its parent's, in blocks of the node's own size: a number,
        or for IPv6 past 2**53 a hex string.

        The keys of a node and its parent hold the same version bit and a shorter length byte
        for the parent, so their difference shifted past the length byte is the difference of
        their addresses, a multiple of the node's size: counted in those, a child of a chain
        is 0 or 1, not 29 hex digits.
        """
        first_keys = self.first_keys
        width = LENGTH_BITS + (32 if chunk.start < self.ipv4 else 128)
        offsets = [
            (key - first_keys[parent] if parent >= 0 else key & _ADDRESS_BITS)
            >> (width - (key & LENGTH_MASK))
            for key, parent in zip(first_keys[chunk.start : chunk.stop], self._parent_nodes(chunk))
        ]
        if chunk.start < self.ipv4:  # below 2**32
            return list(map(str, offsets))
        return [str(offset) if offset < _SAFE_INT else f'"{offset:#x}"' for offset in offsets]

    def ids(self, chunk: range) -> list[str]:
        """A number for the usual one integer id, else the list of the stored ids."""
        ids, firsts, plain = self._ids, self.firsts, self._plain_ids
        starts = firsts[chunk.start : chunk.stop]
        stops = firsts[chunk.start + 1 : chunk.stop + 1]
        if len(stops) < len(starts):  # the last node's rows run to the end
            stops.append(len(ids))
        if plain:
            texts = list(map(str, map(ids.__getitem__, starts)))
        else:
            texts = [_id_text([ids[first]]) for first in starts]
        # Duplicate rows: one node, several ids (1 node in 8 in the bench's table).
        for index in compress(range(len(starts)), map(ne, map(sub, stops, starts), repeat(1))):
            many = ids[starts[index] : stops[index]]
            texts[index] = f"[{','.join(map(str, many))}]" if plain else _id_text(many)
        return texts


def _id_text(ids: Sequence[object]) -> str:
    """The ids of one node in the page's JSON: a bare number for one plain integer id."""
    if len(ids) == 1 and type(ids[0]) is int and -_SAFE_INT < ids[0] < _SAFE_INT:
        return str(ids[0])
    return _script_safe(json.dumps([_stored(value) for value in ids]))


def _stored(value: object) -> object:
    """A stored value as the JSON outputs write it (``report.json_safe``), and integers beyond
    2**53, which a JavaScript number cannot hold exactly, in decimal text."""
    if type(value) is int and not -_SAFE_INT < value < _SAFE_INT:
        return str(value)
    return json_safe(value)


def _script_safe(json_text: str) -> str:
    """JSON text that cannot close or confuse the script element holding it.

    ``json.dumps`` output is ASCII (U+2028 and U+2029 included, as ``\\u`` escapes); ``<``, ``>``
    and ``&`` become escapes too, which JSON.parse reads back as the same characters.
    """
    if "<" in json_text or ">" in json_text or "&" in json_text:
        return json_text.translate(_SCRIPT_ESCAPES)
    return json_text
