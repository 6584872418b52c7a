"""Closest parent prefix of every row: the longest other network in the table that contains it.

Modelled on NetBox's ``rebuild_prefixes``: sort the networks by (version, network address,
prefix length) and walk them once with a stack of open ancestors. CIDR blocks either nest or are
disjoint, so once sorted, the networks on the stack that have not ended before the current one
starts are exactly its ancestors, the closest on top. Sorting costs O(n log n) (about O(n) on
input already in order, as routing tables are); the walk is O(n): each network is pushed and
popped at most once. No two rows are ever compared pairwise.

Pure functions: no I/O, no logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ipam.networks import IPV6_BIT, LENGTH_BITS, network_keys, network_text

__all__ = ["ClosestParents", "find_closest_parents"]

_LENGTH_MASK = (1 << LENGTH_BITS) - 1
# Host part of a network of each prefix length, e.g. 0xff for an IPv4 /24.
_IPV4_HOST_MASKS = [(1 << (32 - length)) - 1 for length in range(33)]
_IPV6_HOST_MASKS = [(1 << (128 - length)) - 1 for length in range(129)]


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
    keys = network_keys(prefixes)  # an int per valid row, the reason (a str) per invalid row
    parent_rows = _closest_parent_rows(keys)
    # Canonical text of each parent network, once per parent, found by row number. Index
    # len(keys) is the "no parent" row: its text stays None.
    text_of_row: list[str | None] = [None] * (len(keys) + 1)
    for row in set(parent_rows) - {len(keys)}:
        text_of_row[row] = network_text(keys[row])  # type: ignore[arg-type]
    parents = list(map(text_of_row.__getitem__, parent_rows))
    errors = [key if type(key) is str else None for key in keys]
    return ClosestParents(parents, errors)  # type: ignore[arg-type]


def _closest_parent_rows(keys: Sequence[object]) -> list[int]:
    """For each row, the number of a row holding its closest parent network (len(keys): none).

    Works on row numbers (the valid rows sorted by their key) and lists indexed by row number,
    never on dictionaries keyed by network: that is both simpler and faster.
    """
    no_parent = len(keys)
    valid_rows = [row for row, key in enumerate(keys) if type(key) is int]
    rows_by_network = sorted(valid_rows, key=keys.__getitem__)

    parent_rows = [no_parent] * len(keys)
    # The open ancestors, outermost first, as (last address, row); the innermost one is kept in
    # two locals. The bottom entry is a sentinel that never ends and stands for "no parent".
    stack: list[tuple[float, int]] = []
    top_end: float = float("inf")
    top_row = no_parent
    previous_key = -1
    parent_row = no_parent
    for row in rows_by_network:
        key: int = keys[row]  # type: ignore[assignment]
        if key != previous_key:  # a new network (a duplicate just shares the previous parent)
            previous_key = key
            network = key >> LENGTH_BITS
            # Ancestors that end before this network starts are behind us for good: close them.
            # IPv6 keys carry IPV6_BIT, so the first IPv6 network closes every IPv4 one.
            while top_end < network:
                top_end, top_row = stack.pop()
            # The top is still open: it starts no later than this network and has not ended,
            # and CIDR blocks nest, so it contains this network. Sorting put equal starts
            # shortest-first, so it is strictly shorter: the closest ancestor.
            parent_row = top_row
            stack.append((top_end, top_row))
            host_masks = _IPV6_HOST_MASKS if key & IPV6_BIT else _IPV4_HOST_MASKS
            top_end = network | host_masks[key & _LENGTH_MASK]
            top_row = row
        parent_rows[row] = parent_row
    return parent_rows
