"""Closest parent prefix of every row: the longest other network in the table that contains it.

Modelled on NetBox's ``rebuild_prefixes``: sort the networks by (version, network address,
prefix length) and walk them once with a stack of open ancestors. CIDR blocks either nest or are
disjoint, so once sorted, the networks that have not ended before the current one starts are
exactly its ancestors. Sorting costs O(n log n) (about O(n) on input already in order, as
routing tables are); the walk is O(n): a network is pushed and popped at most once, and only
when it turns out to contain the next network (leaves, most of a table, never touch the stack).
No two rows are ever compared pairwise.

Pure functions: no I/O, no logging.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class ClosestParents(NamedTuple):
    """Two lists aligned with the input rows (lists, not one object per row: 1M rows add up)."""

    parents: list[str | None]  # canonical parent network; None when there is none or invalid
    errors: list[str | None]  # why the row's prefix is invalid; None when it is valid


def find_closest_parents(prefixes: Sequence[object]) -> ClosestParents:
    """For each stored prefix value, its closest parent network (or the reason it is invalid).

    A value is valid when ``ipaddress.ip_network(str(value).strip(), strict=False)`` accepts it.
    The parent of a valid row is the longest valid network of the same IP version that strictly
    contains the row's network. Rows with equal networks are never each other's parent.
    """
    keys, invalid_rows = network_keys(prefixes)  # an int per valid row, the reason per invalid
    errors: list[str | None] = [None] * len(keys)
    for row in invalid_rows:
        errors[row] = keys[row]  # type: ignore[assignment]
    return ClosestParents(_closest_parents(keys, invalid_rows), errors)


def _closest_parents(keys: Sequence[KeyOrReason], invalid_rows: Sequence[int]) -> list[str | None]:
    """The canonical text of each row's closest parent network (None: none, or invalid row).

    Works on row numbers sorted by key and a list indexed by row number, never on dictionaries
    keyed by network. A parent's text is made once, when it turns out to contain the next
    network; every row below it then shares that one string.
    """
    if invalid_rows:
        valid_rows: Sequence[int] = [row for row, key in enumerate(keys) if type(key) is int]
    else:
        valid_rows = range(len(keys))  # the usual clean table: no list to build
    rows_by_network = sorted(valid_rows, key=keys.__getitem__)
    first_ipv6 = _first_ipv6(rows_by_network, keys)  # IPv6 keys carry IPV6_BIT: they sort last

    parents: list[str | None] = [None] * len(keys)
    # One walk per IP version (so they never mix), each with its own table of end bits.
    _walk(rows_by_network[:first_ipv6], keys, IPV4_END_BITS, parents)
    _walk(rows_by_network[first_ipv6:], keys, IPV6_END_BITS, parents)
    return parents


def _first_ipv6(rows_by_network: Sequence[int], keys: Sequence[object]) -> int:
    """Where the IPv6 rows start in the sorted rows: a binary search on the keys."""
    low, high = 0, len(rows_by_network)
    while low < high:
        middle = (low + high) // 2
        if keys[rows_by_network[middle]] < IPV6_BIT:  # type: ignore[operator]
            low = middle + 1
        else:
            high = middle
    return low


def _walk(
    rows_by_network: Sequence[int],
    keys: Sequence[object],
    end_bits: Sequence[int],
    parents: list[str | None],
) -> None:
    """Set ``parents[row]`` for rows of one IP version, given in (network, length) order."""
    # The open ancestors of the previous network, innermost first: `parent` (its closest one,
    # in two locals), then `enclosing`, innermost last, as (text, end key). None with an end
    # key that is never reached stands for "no parent".
    enclosing: list[tuple[str | None, int]] = []
    parent: str | None = None
    parent_end = NEVER_ENDS
    previous_key = previous_end = -1
    for row in rows_by_network:
        key: int = keys[row]  # type: ignore[assignment]
        if previous_end < key:
            # The previous network ended before this one starts: a sibling or a stranger (the
            # usual case, so tested first). Ancestors that have ended too are behind us for
            # good: close them.
            while parent_end < key:
                parent, parent_end = enclosing.pop()
            previous_key = key
            previous_end = key | end_bits[key & LENGTH_MASK]
        elif key != previous_key:
            # The previous network starts no later and has not ended, and CIDR blocks nest,
            # so it contains this one; sorting put equal starts shortest first, so strictly:
            # it is the closest ancestor.
            enclosing.append((parent, parent_end))
            parent, parent_end = network_text(previous_key), previous_end
            previous_key = key
            previous_end = key | end_bits[key & LENGTH_MASK]
        # else: the same network as the previous row (a duplicate): the same parent.
        parents[row] = parent
