"""The one engine behind every ipam question: the valid networks of a table, sorted, each with
its closest parent. ``prefixes.json`` (``ipam/parents.py``), ``python -m ipam tree`` and
``python -m ipam free`` are views of it.

API (stable: the views build on it)::

    hierarchy = build_hierarchy(prefixes)   # the stored prefix values, in table order
    hierarchy.keys          # list[int]: the network key of every valid row, ascending
    hierarchy.rows          # list[int]: rows[position], the table row at that sorted position
    hierarchy.parents       # list[int]: parents[position], the sorted position of the closest
                            #   parent (its first row), or NO_PARENT (-1)
    hierarchy.row_parents   # list[str | None]: per table row, its closest parent's canonical
                            #   text (None: no parent, or an invalid row): parent_prefix
    hierarchy.row_keys      # list[int | str]: per table row, its key, or why it is invalid
    hierarchy.invalid_rows  # list[int]: the rows whose value is invalid, ascending
    hierarchy.inside(key)   # range of the positions of the networks inside the key's network,
                            #   that network included (it need not be in the table)
    hierarchy.container(key)  # the position of the closest network strictly containing it
    hierarchy.invalid(ids, prefixes)  # list[InvalidRow]: id, stored value, reason, per invalid row
    hierarchy.sorted_ids(ids)  # the row ids in sorted order
    positions_inside(keys, key), closest_container(keys, parents, key)  # the same two questions,
                            #   for a view that keeps only the sorted lists
    end_key(key)            # the key's network's last address, length byte 255
    addresses(key)          # the number of addresses of the key's network
    IPV4_SIZES, IPV6_SIZES  # the same by prefix length: IPV4_SIZES[24] == 256

A *position* indexes the sorted lists. Rows with equal networks (duplicates) sit at consecutive
positions in table order and share one parent; the first of them is the network's position,
the one ``parents`` and ``container`` give. Keys are ``ipam/networks.py``'s: IPv4 before IPv6,
then network address, then prefix length; so a network's subtree is the run of positions right
after it, up to the first key above its ``end_key``, and the versions never nest.

The walk is NetBox's ``rebuild_prefixes``: sorted by (version, address, length), the networks that
have not ended before the current one starts are exactly its ancestors, kept on a stack. Sorting
is O(n log n) (about O(n) on input already in order, as routing tables are), the walk O(n): a
network is pushed and popped at most once. A parent's text is made once, when it turns out to
contain the next network, and shared by every row below it.

Pure functions: no I/O, no logging.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import islice
from typing import NamedTuple

from ipam.networks import (
    IPV4_END_BITS,
    IPV6_BIT,
    IPV6_END_BITS,
    LENGTH_MASK,
    NEVER_ENDS,
    KeyOrReason,
    network_keys,
    network_text,
)

__all__ = [
    "IPV4_SIZES",
    "IPV6_SIZES",
    "NO_PARENT",
    "Hierarchy",
    "InvalidRow",
    "addresses",
    "build_hierarchy",
    "closest_container",
    "end_key",
    "positions_inside",
]

NO_PARENT = -1  # the parent position of a network no other network of the table contains

# The number of addresses of a network, by prefix length.
IPV4_SIZES = [1 << (32 - length) for length in range(33)]
IPV6_SIZES = [1 << (128 - length) for length in range(129)]


def end_key(key: int) -> int:
    """The key of the network's last address with length byte 255: a network has ended before
    another starts exactly when its end key is smaller than the other's key."""
    end_bits = IPV6_END_BITS if key & IPV6_BIT else IPV4_END_BITS
    return key | end_bits[key & LENGTH_MASK]


def addresses(key: int) -> int:
    """How many addresses the key's network holds (an exact int: 2**128 for ::/0)."""
    sizes = IPV6_SIZES if key & IPV6_BIT else IPV4_SIZES
    return sizes[key & LENGTH_MASK]


class Hierarchy(NamedTuple):
    """The valid networks of one table, sorted, with their closest parents (see the module)."""

    keys: list[int]  # network keys of the valid rows, ascending (duplicates adjacent)
    rows: list[int]  # the table row at each sorted position (duplicates in table order)
    parents: list[int]  # the closest parent's first position, or NO_PARENT, per position
    row_parents: list[str | None]  # per table row: the closest parent's text; None: none/invalid
    row_keys: list[KeyOrReason]  # per table row: the network key, or why the value is invalid
    invalid_rows: list[int]  # table rows whose value is not a network, ascending

    def inside(self, key: int) -> range:
        """The positions of the networks inside the key's network, that network included."""
        return positions_inside(self.keys, key)

    def container(self, key: int) -> int:
        """The position of the closest network of the table strictly containing the key's
        network (NO_PARENT when none)."""
        return closest_container(self.keys, self.parents, key)

    def invalid(self, ids: Sequence[object], prefixes: Sequence[object]) -> list[InvalidRow]:
        """The invalid rows in table order, each with its id, stored value and reason."""
        row_keys = self.row_keys
        return [
            InvalidRow(ids[row], prefixes[row], str(row_keys[row])) for row in self.invalid_rows
        ]

    def sorted_ids(self, ids: Sequence[object]) -> list[object]:
        """The row ids in sorted order (``ids[row]`` names row ``row``): a network's ids ascend."""
        return list(map(ids.__getitem__, self.rows))


class InvalidRow(NamedTuple):
    id: object
    prefix: object  # the stored value
    error: str


def positions_inside(keys: list[int], key: int) -> range:
    """The positions of the networks inside the key's network, that network included, in the
    sorted ``keys`` of a hierarchy: one run of positions."""
    start = bisect_left(keys, key)
    return range(start, bisect_right(keys, end_key(key), start))


def closest_container(keys: list[int], parents: list[int], key: int) -> int:
    """The position of the closest network strictly containing the key's network, in the sorted
    ``keys`` and ``parents`` of a hierarchy (NO_PARENT when none): a walk up from the network
    sorted just before it."""
    position = bisect_left(keys, key)
    if position < len(keys) and keys[position] == key:  # in the table: its own parent
        return parents[position]
    # The first row of the network sorted just before the key, if any.
    position = bisect_left(keys, keys[position - 1], 0, position) if position else NO_PARENT
    # The network sorted just before the key lies inside every container of the key (both
    # start within it and CIDR blocks nest), so the closest container is the first of it
    # and its ancestors that has not ended before the key starts (an IPv4 network always
    # has, before an IPv6 key).
    while position != NO_PARENT and end_key(keys[position]) < key:
        position = parents[position]
    return position


def build_hierarchy(prefixes: Sequence[object]) -> Hierarchy:
    """The hierarchy of the stored prefix values (row ``i`` is ``prefixes[i]``).

    A value is valid when ``ipaddress.ip_network(str(value).strip(), strict=False)`` accepts
    it. The parent of a valid row is the longest valid network of the same IP version that
    strictly contains the row's network; rows with equal networks are never each other's parent.
    """
    row_keys, invalid_rows = network_keys(prefixes)
    if invalid_rows:
        valid_rows: Sequence[int] = [row for row, key in enumerate(row_keys) if type(key) is int]
    else:
        valid_rows = range(len(row_keys))  # the usual clean table: no list to build
    rows = sorted(valid_rows, key=row_keys.__getitem__)  # stable: duplicates in table order
    # Read once in that order: the walk then reads them in place, never a cache miss per row.
    keys: list[int] = list(map(row_keys.__getitem__, rows))  # type: ignore[arg-type]
    parents: list[int] = []
    row_parents: list[str | None] = [None] * len(row_keys)
    first_ipv6 = bisect_left(keys, IPV6_BIT)  # IPv6 keys carry IPV6_BIT: they sort last
    # One walk per IP version (so they never mix), each with its own table of end bits.
    for positions, end_bits in (
        (range(first_ipv6), IPV4_END_BITS),
        (range(first_ipv6, len(keys)), IPV6_END_BITS),
    ):
        _walk(keys, rows, positions, end_bits, parents=parents, row_parents=row_parents)
    return Hierarchy(keys, rows, parents, row_parents, row_keys, invalid_rows)


def _walk(
    keys: list[int],
    rows: list[int],
    positions: range,
    end_bits: list[int],
    *,
    parents: list[int],
    row_parents: list[str | None],
) -> None:
    """Append the parent of each of the ``positions`` (one IP version) to ``parents``, and set
    ``row_parents`` of their rows."""
    append = parents.append
    # The open ancestors of the previous network, innermost first: the closest one in three
    # locals (position, text, end key), the others on `enclosing`, innermost last. NO_PARENT
    # with an end key that is never reached stands for "no parent".
    enclosing: list[tuple[int, str | None, int]] = []
    parent, parent_text, parent_end = NO_PARENT, None, NEVER_ENDS
    previous = NO_PARENT
    previous_key = previous_end = -1
    start, stop = positions.start, positions.stop
    position = start
    for key, row in zip(islice(keys, start, stop), islice(rows, start, stop)):
        if previous_end < key:
            # The previous network ended before this one starts: a sibling or a stranger (the
            # usual case, so tested first). Ancestors that have ended too are behind us for
            # good: close them.
            while parent_end < key:
                parent, parent_text, parent_end = enclosing.pop()
            previous, previous_key = position, key
            previous_end = key | end_bits[key & LENGTH_MASK]
        elif key != previous_key:
            # The previous network starts no later and has not ended, and CIDR blocks nest,
            # so it contains this one; sorting put equal starts shortest first, so strictly:
            # it is the closest ancestor.
            enclosing.append((parent, parent_text, parent_end))
            parent, parent_text, parent_end = previous, network_text(previous_key), previous_end
            previous, previous_key = position, key
            previous_end = key | end_bits[key & LENGTH_MASK]
        # else: the same network as the previous row (a duplicate): the same parent.
        append(parent)
        row_parents[row] = parent_text
        position += 1
