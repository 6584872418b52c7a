"""``prefixes.html``: the prefix tree as one self-contained page, opened offline from ``file://``.

The page is a view of the same walk as ``prefixes.json`` and ``python -m ipam tree``: this module
turns its sorted keys and parent positions into compact columns, and the page's own script
(``page.js``, beside this file with ``page.html`` and ``page.css``, read at run time: no build
step) derives the rest in the browser.

The data is one JSON object in a ``<script type="application/json">``, one entry per node (a
distinct valid network) in key order, which is preorder (IPv4 before IPv6):

- ``l``: the prefix length;
- ``p``: how many nodes back the parent is (0: a root);
- ``a``: the network address minus the parent's (a root's: minus 0), a number for IPv4 and a hex
  string for IPv6 (the browser makes BigInts of those only for arithmetic);
- ``i``: the ids, a number for the usual one integer id, else a list of the stored values.

From those the page derives parent, depth, children, utilization, free blocks and the search.
Every stored value reaches the page as JSON text, escaped so that nothing in it can end the
script element (``<``, ``>``, ``&``, U+2028 and U+2029 become ``\\u`` escapes), and the page inserts
it with ``textContent`` only: database text is never markup.

No I/O but ``read_template`` and ``is_current``: the service writes the pieces
(``ipam/service.py``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from ipam.networks import IPV6_BIT, LENGTH_BITS, LENGTH_MASK
from ipam.report import json_safe

FILE_NAME = "prefixes.html"
_HERE = Path(__file__).resolve().parent
_ALL_128_BITS = (1 << 128) - 1
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
    """The page's files, read from beside this module (mounted source, no build step)."""
    html = (_HERE / "page.html").read_text(encoding="utf-8")
    style, script = (_HERE / "page.css").read_bytes(), (_HERE / "page.js").read_bytes()
    before_style, rest = html.split("/*STYLE*/")
    before_data, rest = rest.split("/*DATA*/")
    before_script, after_script = rest.split("/*SCRIPT*/")
    version = hashlib.sha256(b"\0".join([html.encode(), style, script])).hexdigest()[:16]
    return Template(
        (before_style, before_data, before_script, after_script), style, script, version
    )


def page_stamp(template: Template, json_bytes: bytes, database: str) -> bytes:
    """The page's first line: which template, which data, which database it shows.

    A run writes the page only when this line differs from the existing page's (``is_current``):
    a steady run, with an unchanged ``prefixes.json``, reads one line and writes nothing.
    """
    data = hashlib.sha256(json_bytes + b"\0" + database.encode("utf-8", "surrogateescape"))
    return f"<!DOCTYPE html><!-- ipam {template.version} {data.hexdigest()[:32]} -->\n".encode()


def is_current(path: Path, stamp: bytes) -> bool:
    """True when the page at ``path`` starts with ``stamp``; False when missing or different."""
    try:
        with path.open("rb") as page:
            return page.read(len(stamp)) == stamp
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
    """The JSON object, script-safe, column by column and chunk by chunk."""
    nodes = _Nodes(data.keys, data.parents, data.ids)
    meta = {
        **data.header,
        "networks": len(nodes.firsts),
        "ipv4": sum(1 for position in nodes.firsts if not data.keys[position] & IPV6_BIT),
        # Python 3.13 writes IPv4-mapped IPv6 networks as ::ffff:1.2.3.4, older ones in hex:
        # the page writes them as the tree of this very run does.
        "dotted_mapped": "." in str(ipaddress.IPv6Address("::ffff:1.2.3.4")),
        "invalid_rows": [
            [_stored(row_id), _stored(value), error] for row_id, value, error in data.invalid_rows
        ],
    }
    yield _script_safe(json.dumps(meta))[:-1].encode("ascii")  # without its closing brace
    columns = (
        ("l", nodes.lengths),
        ("p", nodes.parent_offsets),
        ("a", nodes.address_offsets),
        ("i", nodes.ids),
    )
    for name, column in columns:
        yield f', "{name}": ['.encode()
        for start in range(0, len(nodes.firsts), _NODES_PER_CHUNK):
            if start:
                yield b","
            chunk = range(start, min(start + _NODES_PER_CHUNK, len(nodes.firsts)))
            yield _script_safe(",".join(column(chunk))).encode("ascii")
        yield b"]"
    yield b"}"


class _Nodes:
    """The columns of the nodes (distinct networks), from the sorted positions of the rows."""

    def __init__(self, keys: Sequence[int], parents: Sequence[int], ids: Sequence[object]) -> None:
        self.keys, self.parents, self._ids = keys, parents, ids
        previous = -1
        self.firsts: list[int] = []  # the first position of each node
        for position, key in enumerate(keys):
            if key != previous:
                self.firsts.append(position)
                previous = key
        self.node_of = [0] * len(keys)  # the node of each first position
        for node, position in enumerate(self.firsts):
            self.node_of[position] = node

    def lengths(self, chunk: range) -> list[str]:
        keys, firsts = self.keys, self.firsts
        return [str(keys[firsts[node]] & LENGTH_MASK) for node in chunk]

    def parent_offsets(self, chunk: range) -> list[str]:
        """How many nodes back each node's parent is; 0 for a root."""
        parents, firsts, node_of = self.parents, self.firsts, self.node_of
        offsets = []
        for node in chunk:
            parent = parents[firsts[node]]
            offsets.append(str(node - node_of[parent]) if parent >= 0 else "0")
        return offsets

    def address_offsets(self, chunk: range) -> list[str]:
        """Each node's address minus its parent's: a number (IPv4) or a hex string (IPv6)."""
        keys, parents, firsts = self.keys, self.parents, self.firsts
        offsets = []
        for node in chunk:
            position = firsts[node]
            key = keys[position]
            parent = parents[position]
            base = keys[parent] >> LENGTH_BITS & _ALL_128_BITS if parent >= 0 else 0
            offset = (key >> LENGTH_BITS & _ALL_128_BITS) - base
            offsets.append(f'"{offset:x}"' if key & IPV6_BIT else str(offset))
        return offsets

    def ids(self, chunk: range) -> list[str]:
        """A number for the usual one integer id, else the list of the stored ids."""
        ids, firsts = self._ids, self.firsts
        texts = []
        for node in chunk:
            first = firsts[node]
            stop = firsts[node + 1] if node + 1 < len(firsts) else len(ids)
            only = ids[first]
            if stop == first + 1 and type(only) is int and -_SAFE_INT < only < _SAFE_INT:
                texts.append(str(only))
            else:
                texts.append(
                    json.dumps([_stored(ids[position]) for position in range(first, stop)])
                )
        return texts


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
    return json_text.translate(_SCRIPT_ESCAPES)
