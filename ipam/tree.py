"""``python -m ipam tree``: the prefix hierarchy, indented by depth, as NetBox lists prefixes.

The same engine and validity rule as ``prefixes.json`` (``ipam/networks.py``): one **node** per
distinct valid network, carrying the ids of all its rows.

- **Parent**: the closest parent that ``prefixes.json`` gives the node's rows.
- **Depth**: how many distinct networks of the table contain the node (roots: 0).
- **Children**: the distinct networks whose parent the node is.
- **Utilization**: the addresses of its children, summed, over its own addresses (0 for a
  leaf). Children never overlap (neither contains the other), so it runs from 0 to 1.

Nodes come in key order: IPv4 before IPv6, then network address, then prefix length. That is
depth-first, each node followed by its subtree, siblings by address.

The text output draws the tree with box-drawing characters (``|--`` and the like where the
output's encoding lacks them); the prefix of a node of depth d starts at column 4d. Then come its
ids, its number of children and its utilization as a percentage, from the exact address counts:
one decimal, dropped when it is 0 (``75%``, ``0.8%``, ``100%``); a utilization above 0 that would
round to 0 shows as ``<0.1%``, one below 1 that would round to 100 as ``>99.9%``. With
``--root``, the nodes whose parent is not shown start at their column with no connector. After
the nodes, one line per invalid row: ``invalid``, its id, its stored value (Python's ``repr``)
and why it is not a network.

``--json`` writes JSON Lines instead: one object per node, then one per invalid row (the stored
value as ``prefixes.json`` writes it: BLOBs as hex, non-finite REALs as strings); a node's
``utilization`` is the nearest float, never 1.0 for one not full (``view.share``). ``--root`` and
``--depth`` select nodes; the invalid rows are always listed.

``--contains ADDRESS_OR_PREFIX`` answers "which prefix does it belong to?": only the chain of
the nodes containing it, root first, closest last (the network itself when it is in the table),
and no invalid rows; exit 3 when no network of the table contains it (the page's find, on the
command line).

Exit statuses and errors: those of every view (``ipam/view.py``): 0 ok (invalid rows included),
1 the database cannot be read or stdout cannot be written, 2 bad arguments, 130 Ctrl-C, 141 the
reader closed the output early; and 3 for ``--contains`` with no network containing it.

No dictionary keyed by network: ``ipam/hierarchy.py`` sorts the valid rows by network key and
finds each one's parent position in one walk; ``PrefixTree`` derives a few numbers per node from
those in one more pass, in lists indexed by sorted position; ``PrefixTree.nodes`` then yields
the nodes in that order, and the renderers write them a batch of lines at a time. With
``--free`` the renderers take ``PrefixTree.entries``: each gap's free blocks as one
``FreeBlocks``, cut and written by ``ipam/free.py``'s ``aligned_block_texts``, since on a table
with ragged gaps they are most of the lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import NamedTuple, TextIO

from ipam.free import aligned_block_texts
from ipam.hierarchy import (
    IPV4_SIZES,
    IPV6_SIZES,
    NO_PARENT,
    InvalidRow,
    addresses,
    build_hierarchy,
    closest_container,
    positions_inside,
)
from ipam.networks import ADDRESS_BITS, IPV6_BIT, LENGTH_BITS, LENGTH_MASK, network_text
from ipam.report import json_value
from ipam.store import read_prefix_table
from ipam.view import (
    EXIT_OK,
    network,
    percent,
    run_view,
    share,
    view_parser,
    whole_number,
    write_lines,
)

__all__ = [
    "FreeBlocks",
    "InvalidRow",
    "Node",
    "PrefixTree",
    "build_tree",
    "main",
    "percent",
    "read_tree",
]

PROG = "python -m ipam tree"
EXIT_NOT_CONTAINED = 3  # --contains: no network of the table contains it


class Node(NamedTuple):
    """One distinct valid network of the table."""

    prefix: str  # canonical text, as in parent_prefix
    ids: list[object]  # the ids of its rows, in table order (ascending)
    depth: int
    parent_prefix: str | None
    children: int
    used: int  # the addresses of its children, summed: exact, as the percentages are computed
    size: int  # its own addresses (2**128 for ::/0)
    last: bool  # no later node has the same parent (the drawing's corner rather than tee)
    free: bool = False  # a free block among its parent's children (``--free``), not a row

    @property
    def utilization(self) -> float:
        """``used / size``, 0 to 1, never 1.0 for what is not full (``view.share``)."""
        return share(self.used, self.size)


class FreeBlocks(NamedTuple):
    """The free blocks of one gap between the children of a node (``--free``): consecutive
    children, all alike but for their prefix, so the renderers draw them as one."""

    prefixes: list[str]  # canonical texts, in address order; never empty
    depth: int
    parent_prefix: str
    last: bool  # the last block is the last child of the parent

    def nodes(self) -> list[Node]:
        """The blocks as nodes with ``free`` set and no ids."""
        new_tuple, depth, parent = tuple.__new__, self.depth, self.parent_prefix
        nodes = [
            new_tuple(Node, (prefix, [], depth, parent, 0, 0, 0, False, True))
            for prefix in self.prefixes
        ]
        nodes[-1] = nodes[-1]._replace(last=self.last)
        return nodes


class PrefixTree:
    """The measured hierarchy of one table: ``ipam/hierarchy.py``'s sorted keys and parent
    positions, plus a few numbers per node in lists indexed by sorted position, filled at each
    node's first position. The extra last slot of each list belongs to "no parent" (position -1).
    """

    def __init__(
        self,
        keys: list[int],
        parents: list[int],
        ids: list[object],
        invalid_rows: list[InvalidRow],
    ) -> None:
        self.invalid_rows = invalid_rows  # in table order
        self._keys = keys  # the hierarchy's: sorted network keys
        self._parents = parents  # the hierarchy's: the parent's position, per position
        self._ids = ids  # the row ids in sorted order: a node's ids ascend
        slots = len(keys) + 1
        self._depths = bytearray(slots)  # depth + 1 (at most 129); 0 in the "no parent" slot
        self._children = [0] * slots
        self._used = [0] * slots  # the addresses of the children, summed
        self._followed = bytearray(slots)  # 1: a later node has the same parent
        self._duplicates = bytearray(slots)  # 1: the same network as the position before
        latest: list[int] = []  # latest[depth]: position of the last node seen at that depth
        first_ipv6 = bisect_left(keys, IPV6_BIT)
        self._measure(0, first_ipv6, IPV4_SIZES, latest)
        self._measure(first_ipv6, len(keys), IPV6_SIZES, latest)

    def _measure(self, start: int, stop: int, sizes: list[int], latest: list[int]) -> None:
        """Depths, children, utilization and siblings, from the parents: one pass over the
        positions of one IP version (a parent's position always comes before its children's)."""
        parents, depths, children, used = self._parents, self._depths, self._children, self._used
        followed, duplicates = self._followed, self._duplicates
        previous_key = -1
        for position, key in enumerate(islice(self._keys, start, stop), start):
            if key == previous_key:
                duplicates[position] = 1  # a duplicate row: part of the node before
                continue
            previous_key = key
            parent = parents[position]
            depth = depths[parent]  # the parent's depth + 1
            depths[position] = depth + 1
            children[parent] += 1
            used[parent] += sizes[key & LENGTH_MASK]
            if depth == len(latest):
                latest.append(position)
            else:
                if latest[depth] > parent:  # seen since the parent: the previous sibling
                    followed[latest[depth]] = 1
                latest[depth] = position

    def nodes(
        self, root: int | None = None, max_depth: int | None = None, free: bool = False
    ) -> Iterator[Node]:
        """The nodes in order: those inside the ``root`` network key, root included, and of
        depth below ``max_depth``; None for either: no limit. Depths stay the table's.

        With ``free``, each node with children also has its maximal free blocks (``free``'s
        for that node) among them, in address order, as nodes with ``free`` set and no ids: the
        gaps between its children, found as the children go by, so at no extra walk.
        """
        for entry in self.entries(root, max_depth, free):
            if isinstance(entry, FreeBlocks):
                yield from entry.nodes()
            else:
                yield entry

    def entries(
        self, root: int | None = None, max_depth: int | None = None, free: bool = False
    ) -> Iterator[Node | FreeBlocks]:
        """``nodes``, each gap's free blocks as one ``FreeBlocks``: what the renderers take,
        as most lines of a table with ragged gaps are free blocks."""
        keys, ids, duplicates = self._keys, self._ids, self._duplicates
        parents, depths, children, used = self._parents, self._depths, self._children, self._used
        followed = self._followed
        start, stop = 0, len(keys)
        if root is not None:  # the networks inside the root are one run of positions
            inside = positions_inside(keys, root)
            start, stop = inside.start, inside.stop
        limit = 256 if max_depth is None else max_depth
        texts = [""] * 129  # texts[depth]: the prefix of the last node yielded at that depth
        new_tuple = tuple.__new__
        gaps = _Gaps(limit) if free else None
        position = start
        while position < stop:
            first = position
            node_ids = [ids[position]]
            position += 1
            while duplicates[position]:  # the last slot is never a duplicate: it stops there
                node_ids.append(ids[position])
                position += 1
            depth = depths[first] - 1
            if depth >= limit:
                continue
            parent = parents[first]
            if parent >= start:  # yielded before this node
                parent_text: str | None = texts[depth - 1]
            elif parent == NO_PARENT:
                parent_text = None
            else:  # outside the root
                parent_text = network_text(keys[parent])
            key = keys[first]
            text = texts[depth] = network_text(key)
            last = not followed[first]
            if gaps is not None:
                free_blocks, last = gaps.enter(key, text, depth, last, used[first])
                yield from free_blocks
            # Node(...) without the NamedTuple's own __new__, a Python function: half the cost.
            yield new_tuple(
                Node,
                (
                    text,
                    node_ids,
                    depth,
                    parent_text,
                    children[first],
                    used[first],
                    addresses(key),
                    last,
                    False,
                ),
            )
        if gaps is not None:
            yield from gaps.leave(-1)

    def chain(self, key: int) -> list[Node]:
        """The nodes containing the key's network, outermost first: its ancestors, and itself
        when it is in the table (``[]``: no network of the table contains it)."""
        keys, parents = self._keys, self._parents
        position = bisect_left(keys, key)
        if position == len(keys) or keys[position] != key:  # not in the table
            position = closest_container(keys, parents, key)
        chain = []
        while position != NO_PARENT:
            node = next(self.nodes(root=keys[position]))  # a subtree's first node: its root
            chain.append(node._replace(last=True))  # drawn alone under its parent
            position = parents[position]
        return chain[::-1]


class _Gaps:
    """The free blocks of the nodes shown (``nodes(free=True)``), found as their children go by:
    the gaps between the children of a node, before the first and after the last, cut into
    aligned blocks (``free``'s own cut)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # the depth below which nodes are shown
        # The shown nodes with children and free space whose subtree is not over yet, innermost
        # last: [depth, text, the first address not yet known to be used, end address, version].
        self.open: list[list] = []

    def enter(
        self, key: int, text: str, depth: int, last: bool, used: int
    ) -> tuple[list[FreeBlocks], bool]:
        """The free blocks before the node about to be shown, and whether it is the last child
        (a free block may come after the last child node). ``used``: its children's addresses."""
        begin = key >> LENGTH_BITS & ADDRESS_BITS
        size = addresses(key)
        end = begin + size
        gaps = self.open
        free_blocks = self.leave(depth) if gaps and gaps[-1][0] >= depth else []
        if gaps and gaps[-1][0] == depth - 1:  # the parent, shown with its free blocks
            parent = gaps[-1]
            if parent[2] < begin:
                free_blocks.append(_free_blocks(parent, begin))
            parent[2] = end
            last = last and end == parent[3]
        if 0 < used < size and depth + 1 < self.limit:  # children, free space, both shown
            gaps.append([depth, text, begin, end, key & IPV6_BIT])
        return free_blocks, last

    def leave(self, depth: int) -> list[FreeBlocks]:
        """The free blocks after the last child of the nodes whose subtree is over, now that a
        node of ``depth`` comes (-1: the end)."""
        gaps = self.open
        free_blocks: list[FreeBlocks] = []
        while gaps and gaps[-1][0] >= depth:
            gap = gaps.pop()
            if gap[2] < gap[3]:
                free_blocks.append(_free_blocks(gap, None))
        return free_blocks


def _free_blocks(gap: list, stop: int | None) -> FreeBlocks:
    """The free blocks of a node from its cursor up to ``stop`` (after it), the start of its
    next child (None: the node's end, after its last child; the last block is then the last
    child)."""
    depth, parent, cursor, end, version = gap
    texts = aligned_block_texts(version, cursor, end if stop is None else stop)
    return FreeBlocks(texts, depth + 1, parent, stop is None)


def build_tree(prefixes: Sequence[object], ids: Sequence[object]) -> PrefixTree:
    """The hierarchy of the stored ``prefixes`` values, ``ids[row]`` naming row ``row``."""
    hierarchy = build_hierarchy(prefixes)
    invalid_rows = hierarchy.invalid(ids, prefixes)
    sorted_ids = hierarchy.sorted_ids(ids)
    keys, parents = hierarchy.keys, hierarchy.parents
    del hierarchy  # the per-row lists: only the sorted ones are needed from here
    return PrefixTree(keys, parents, sorted_ids, invalid_rows)


def read_tree(database: Path) -> PrefixTree:
    """The hierarchy of the database's ``prefixes`` table; RunError when it cannot be read."""
    table = read_prefix_table(database)
    return build_tree(table.prefixes, table.ids)


# -- Rendering


class Drawing(NamedTuple):
    tee: str  # a node with a later sibling
    corner: str  # the last of its siblings
    pipe: str  # below a node with a later sibling
    blank: str  # below the last of its siblings


BOX = Drawing("├── ", "└── ", "│   ", "    ")
ASCII = Drawing("|-- ", "`-- ", "|   ", "    ")


def drawing_for(stream: TextIO) -> Drawing:
    """Box-drawing characters if the stream's encoding has them, else plain ASCII."""
    try:
        "".join(BOX).encode(stream.encoding or "ascii")
    except (UnicodeError, LookupError):
        return ASCII
    return BOX


def text_lines(
    nodes: Iterable[Node | FreeBlocks], invalid_rows: Iterable[InvalidRow], drawing: Drawing
) -> Iterator[str]:
    """One line per node or free block, then one per invalid row."""
    top = -1  # the depth of the first node: the nodes of that depth have no parent shown
    # guides[level]: what comes before the connector of a child of the last node drawn at that
    # level, which is its parent: preorder draws a subtree right after its top.
    guides = [""] * 130
    for node in nodes:
        if isinstance(node, FreeBlocks):  # never at the top level: their parent is shown
            before = guides[node.depth - top - 1]
            head = before + drawing.tee
            lines = [(head + prefix).ljust(34) + "  free" for prefix in node.prefixes]
            if node.last:
                lines[-1] = (before + drawing.corner + node.prefixes[-1]).ljust(34) + "  free"
            yield from lines
            continue
        prefix, ids, depth, _parent, children, used, size, last, free = node
        if top < 0:
            top = depth
            guides[0] = " " * (4 * top)
        level = depth - top
        if level:
            before = guides[level - 1]
            line = f"{before}{drawing.corner if last else drawing.tee}{prefix}"
            if children:
                guides[level] = before + (drawing.blank if last else drawing.pipe)
        else:
            line = guides[0] + prefix
        if free:  # a free block given as a node (``nodes(free=True)``)
            yield f"{line:<34}  free"
            continue
        if len(ids) == 1 and type(ids[0]) is int:  # the usual INTEGER PRIMARY KEY
            id_text = f"id {ids[0]}"
        else:
            id_text = _one_line(f"id{'s' if len(ids) > 1 else ''} {','.join(map(str, ids))}")
        share_text = percent(used, size) if used else "0%"  # a leaf: no call
        yield f"{line:<34}  {id_text:<9}  children {children:<3}  utilization {share_text}"
    for invalid in invalid_rows:
        yield _one_line(f"invalid  id {invalid.id}  {invalid.prefix!r}  {invalid.error}")


def _one_line(text: str) -> str:
    """The text with line breaks and other control characters escaped."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def json_lines(
    nodes: Iterable[Node | FreeBlocks], invalid_rows: Iterable[InvalidRow]
) -> Iterator[str]:
    """One JSON object per node or free block, then one per invalid row: what ``json.dumps``
    writes."""
    for node in nodes:
        if isinstance(node, FreeBlocks):  # always under a node: they have a parent
            rest = (
                f'", "free": true, "depth": {node.depth}, "parent_prefix": "{node.parent_prefix}"}}'
            )
            yield from ['{"prefix": "' + prefix + rest for prefix in node.prefixes]
            continue
        prefix, ids, depth, parent, children, used, size, _last, free = node
        if free:  # always under a node: it has a parent
            yield (
                f'{{"prefix": "{prefix}", "free": true, "depth": {depth}, '
                f'"parent_prefix": "{parent}"}}'
            )
            continue
        if len(ids) == 1 and type(ids[0]) is int:  # the usual INTEGER PRIMARY KEY
            ids_json = f"[{ids[0]}]"
        else:
            ids_json = f"[{', '.join(map(json_value, ids))}]"
        parent_json = "null" if parent is None else f'"{parent}"'
        yield (
            f'{{"prefix": "{prefix}", "ids": {ids_json}, "depth": {depth}, '
            f'"parent_prefix": {parent_json}, "children": {children}, '
            f'"utilization": {share(used, size) if used else 0.0!r}}}'
        )
    for row_id, value, error in invalid_rows:
        row_id_json, value_json, error_json = (
            json_value(row_id),
            json_value(value),
            json.dumps(error),
        )
        yield f'{{"id": {row_id_json}, "prefix": {value_json}, "error": {error_json}}}'


# -- The command line


def build_parser() -> argparse.ArgumentParser:
    parser = view_parser(
        "tree",
        "Show the prefixes table as a tree: each distinct valid network indented by depth, "
        "with its ids, its number of children and its utilization (the addresses of its "
        "children over its own), then the invalid rows. Reads the database read-only.",
    )
    parser.add_argument(
        "--root",
        type=network,
        metavar="NETWORK",
        help="only the networks inside NETWORK, NETWORK included (it need not be in the table)",
    )
    parser.add_argument(
        "--depth",
        type=whole_number,
        metavar="N",
        help="only the nodes of depth below N (1: the roots); depths stay the table's",
    )
    parser.add_argument(
        "--contains",
        type=network,
        metavar="ADDRESS_OR_PREFIX",
        help="only the nodes containing it, root first, closest last; exit 3 when none does",
    )
    parser.add_argument(
        "--free",
        action="store_true",
        help="also the free blocks of each node with children, among them, marked free",
    )
    parser.add_argument(
        "--json", action="store_true", help="JSON Lines: one object per node, then per invalid row"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.contains is not None and (args.root, args.depth, args.free) != (None, None, False):
        parser.error("--contains cannot be combined with --root, --depth or --free")
    return run_view(PROG, partial(_show, args))


def _show(args: argparse.Namespace, stdout: TextIO) -> int:
    tree = read_tree(args.db)
    nodes: Iterable[Node | FreeBlocks] = tree.entries(args.root, args.depth, args.free)
    invalid_rows: list[InvalidRow] = tree.invalid_rows
    if args.contains is not None:
        nodes, invalid_rows = tree.chain(args.contains), []
        if not nodes:
            print(f"{PROG}: no network of the table contains {network_text(args.contains)}",
                  file=sys.stderr)  # fmt: skip
            return EXIT_NOT_CONTAINED
    if args.json:
        write_lines(json_lines(nodes, invalid_rows), stdout)
    else:
        write_lines(text_lines(nodes, invalid_rows, drawing_for(stdout)), stdout)
    return EXIT_OK
