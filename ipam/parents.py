"""Closest parent prefix of every row, for ``prefixes.json``: a view of ``ipam/hierarchy.py``.

The parent of a valid row is the longest other network in the table that contains it (NetBox's
``parent``); ``ipam/hierarchy.py`` finds it for every row in one sorted walk. Pure functions: no
I/O, no logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ipam.hierarchy import Hierarchy, build_hierarchy


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
    return closest_parents(build_hierarchy(prefixes))


def closest_parents(hierarchy: Hierarchy) -> ClosestParents:
    """The same, from a hierarchy already built (the run shares its walk with the page)."""
    errors: list[str | None] = [None] * len(hierarchy.row_keys)
    for row in hierarchy.invalid_rows:
        errors[row] = hierarchy.row_keys[row]  # type: ignore[assignment]
    return ClosestParents(hierarchy.row_parents, errors)
