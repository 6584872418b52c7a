"""``python -m ipam free PREFIX``: the free space inside a prefix, as NetBox's available prefixes,
and the first free blocks of one length, as its first-fit allocation (phpIPAM's first subnet).

- **Used space**: the union of every valid network of PREFIX's IP version strictly inside
  PREFIX, at any depth. Duplicates count once; a row equal to PREFIX, or containing it, uses
  nothing; invalid rows are skipped (and counted); an IPv4-mapped IPv6 row is IPv6.
- **Free blocks**: without ``--length``, the maximal free CIDR blocks in address order: exactly
  ``(IPSet([PREFIX]) - IPSet(used)).iter_cidrs()`` in netaddr. With ``--length N``, the first
  ``--limit`` N-aligned blocks of those, in address order.

PREFIX is read by the table's own rule (host bits allowed, netmask form, a bare address is a /32
or /128) and need not be in the table. The text output is one line per block (its prefix, its
number of addresses), then one summary line; ``--json`` writes the same as JSON Lines. Exit
status: those of every view (``ipam/view.py``), and 3 when no block is free (the summary is
still written, and one line on stderr says so).

The cost is the networks inside PREFIX plus the blocks shown, never the number of blocks of a
length: the sorted keys of ``ipam/hierarchy.py`` are walked from PREFIX's first network, each
outermost one skipped with its whole subtree by one bisection, and the gaps between them cut
into aligned blocks as they come.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import sys
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TextIO

from ipam.hierarchy import NO_PARENT, Hierarchy, addresses, build_hierarchy, end_key
from ipam.networks import (
    ADDRESS_BITS,
    IPV4_HALF_TEXTS,
    IPV6_BIT,
    LENGTH_BITS,
    LENGTH_MASK,
    network_text,
)
from ipam.store import read_prefix_table
from ipam.view import (
    EXIT_OK,
    check_length,
    network,
    percent,
    prefix_length,
    run_view,
    share,
    view_parser,
    whole_number,
    write_lines,
)

__all__ = [
    "EXIT_NOTHING_FREE",
    "FreeSpace",
    "aligned_block_texts",
    "aligned_blocks",
    "block_sizes",
    "free_blocks",
    "main",
]

PROG = "python -m ipam free"
EXIT_NOTHING_FREE = 3  # as NetBox and phpIPAM answer an allocation with no room


def free_blocks(hierarchy: Hierarchy, root: int) -> Iterator[int]:
    """The keys of the maximal free blocks inside the ``root`` key's network, in address order."""
    keys = hierarchy.keys
    version = root & IPV6_BIT
    cursor = root >> LENGTH_BITS & ADDRESS_BITS  # the first address not known to be used
    root_end = cursor + addresses(root)
    inside = hierarchy.inside(root)
    position, stop = inside.start, inside.stop
    while position < stop and keys[position] == root:  # the root itself uses nothing
        position += 1
    while position < stop:
        key = keys[position]
        start = key >> LENGTH_BITS & ADDRESS_BITS
        yield from aligned_blocks(version, cursor, start)
        cursor = start + addresses(key)
        # Sorted keys put a network's subtree right after it: jump over it in one bisection.
        position = bisect_right(keys, end_key(key), position + 1, stop)
    yield from aligned_blocks(version, cursor, root_end)


def block_sizes(start: int, stop: int) -> list[int]:
    """The sizes of the fewest CIDR blocks that cover the addresses from ``start`` to ``stop``
    (excluded), in order. The most aligned address in between, ``middle``, splits them into two
    runs read off the bits of two differences: blocks growing from ``start`` up to ``middle`` (the
    bits of ``middle - start``, lowest first), then shrinking from it to ``stop`` (the bits of
    ``stop - middle``, highest first). One loop per run, no search for each block's size."""
    sizes: list[int] = []
    if start >= stop:
        return sizes
    top = (start ^ stop).bit_length() - 1  # the highest bit where they differ: set in stop
    up = (stop >> top << top) - start  # middle - start
    down = stop - start - up
    append = sizes.append
    while up:
        size = up & -up
        append(size)
        up ^= size
    while down:
        size = 1 << down.bit_length() - 1
        append(size)
        down ^= size
    return sizes


def aligned_blocks(version: int, start: int, stop: int) -> list[int]:
    """The fewest CIDR blocks that cover the addresses from ``start`` to ``stop`` (excluded),
    in order, as keys: each the largest block aligned where the last one ended that fits."""
    blocks = []
    # A block of size 1 << n is a /32 - n (IPv6: /128 - n): this minus its size.bit_length().
    lengths = version | (129 if version else 33)
    for size in block_sizes(start, stop):
        blocks.append((start << LENGTH_BITS | lengths) - size.bit_length())
        start += size
    return blocks


def aligned_block_texts(version: int, start: int, stop: int) -> list[str]:
    """``network_text`` of each of ``aligned_blocks``, without building the keys: the free
    blocks of ``tree --free`` are most of its lines. IPv4 from the octet-pair table; IPv6 by
    ``inet_ntop``, except its forms with an embedded IPv4 address, as ``network_text``."""
    texts = []
    if not version:
        halves, lengths = IPV4_HALF_TEXTS, _IPV4_SUFFIXES
        for size in block_sizes(start, stop):
            texts.append(
                f"{halves[start >> 16]}.{halves[start & 0xFFFF]}{lengths[size.bit_length()]}"
            )
            start += size
        return texts
    ntop, ipv6, lengths = socket.inet_ntop, socket.AF_INET6, _IPV6_SUFFIXES
    for size in block_sizes(start, stop):
        address = ntop(ipv6, start.to_bytes(16, "big"))
        if "." in address:
            address = str(ipaddress.IPv6Address(start))
        texts.append(f"{address}{lengths[size.bit_length()]}")
        start += size
    return texts


# "/length" of a block of size 1 << (n - 1), by n: "/32" at 1.
_IPV4_SUFFIXES = [f"/{33 - bits}" for bits in range(34)]
_IPV6_SUFFIXES = [f"/{129 - bits}" for bits in range(130)]


class FreeSpace:
    """The blocks to show and, once they are all taken, the summary.

    Without ``length``: the maximal free blocks, at most ``limit`` of them shown. With it: the
    ``length``-aligned blocks of those, at most ``limit`` shown (a maximal block of a longer
    length holds none). Counting goes on past the last block shown, block by maximal block.
    """

    def __init__(
        self, hierarchy: Hierarchy, root: int, length: int | None, limit: int | None
    ) -> None:
        self.hierarchy = hierarchy
        self.root = root
        self.length = length
        self.limit = limit
        self.free_addresses = 0
        self.free_blocks = 0  # maximal free blocks
        self.blocks_of_length = 0  # free blocks of ``length``, shown or not
        self.shown = 0

    def blocks(self) -> Iterator[int]:
        """The keys of the blocks to show, in address order; counts the rest as it goes."""
        length, limit = self.length, self.limit
        for block in free_blocks(self.hierarchy, self.root):
            size = addresses(block)
            self.free_blocks += 1
            self.free_addresses += size
            if length is None:
                if limit is not None and self.shown >= limit:
                    continue  # counted, not shown
                self.shown += 1
                yield block
                continue
            block_length = block & LENGTH_MASK
            if block_length > length:  # smaller than one block of that length
                continue
            count = 1 << (length - block_length)
            self.blocks_of_length += count
            shown = count if limit is None else min(count, limit - self.shown)
            if shown > 0:
                self.shown += shown
                step = size >> (length - block_length) << LENGTH_BITS
                first = block & ~LENGTH_MASK | length
                yield from range(first, first + shown * step, step)

    def summary(self) -> dict[str, object]:
        """The summary object, once ``blocks()`` is exhausted: counts are exact ints."""
        hierarchy, root = self.hierarchy, self.root
        total = addresses(root)
        container = hierarchy.container(root)
        inside = hierarchy.inside(root)
        summary: dict[str, object] = {
            "root": network_text(root),
            "in_table": inside.start < inside.stop and hierarchy.keys[inside.start] == root,
            "parent_prefix": (
                None if container == NO_PARENT else network_text(hierarchy.keys[container])
            ),
            "addresses": total,
            "free_addresses": self.free_addresses,
            "free_blocks": self.free_blocks,
            "utilization": share(total - self.free_addresses, total),
            "invalid_rows": len(hierarchy.invalid_rows),
        }
        if self.length is not None:
            summary["length"] = self.length
            summary["blocks_of_length"] = self.blocks_of_length
            summary["shown"] = self.shown
        return summary


# -- Rendering


def text_lines(space: FreeSpace) -> Iterator[str]:
    """One line per block (its prefix, its addresses), then the summary line."""
    for block in space.blocks():
        count = addresses(block)
        yield f"{network_text(block):<18}  {count} address{'' if count == 1 else 'es'}"
    summary = space.summary()  # complete now that the blocks are all taken
    free, total, blocks = space.free_addresses, addresses(space.root), space.free_blocks
    where = "in the table" if summary["in_table"] else "not in the table"
    line = (
        f"{summary['root']} ({where}): {free} of {total} addresses free "
        f"({percent(free, total)}), {blocks} block{'' if blocks == 1 else 's'}"
    )
    if space.length is not None:
        line += f", {space.blocks_of_length} free /{space.length}, {space.shown} shown"
    invalid = len(space.hierarchy.invalid_rows)
    yield f"{line}; {invalid} invalid row{'' if invalid == 1 else 's'} skipped"


def json_lines(space: FreeSpace) -> Iterator[str]:
    """One object per block, then the summary object: what ``json.dumps`` writes."""
    for block in space.blocks():
        yield f'{{"prefix": "{network_text(block)}", "addresses": {addresses(block)}}}'
    yield json.dumps(space.summary())


# -- The command line


def build_parser() -> argparse.ArgumentParser:
    parser = view_parser(
        "free",
        "Show the free space inside PREFIX: the maximal free CIDR blocks (NetBox's available "
        "prefixes), or with --length the first free blocks of that length (first-fit "
        "allocation), then a summary. Used space is every valid network of the table strictly "
        "inside PREFIX. Reads the database read-only. Exit status 3: nothing free.",
    )
    parser.add_argument(
        "prefix",
        type=network,
        metavar="PREFIX",
        help="the network to look inside, as in the table (it need not be in it)",
    )
    parser.add_argument(
        "--length",
        type=prefix_length,
        metavar="N",
        help="the free blocks of prefix length N, from PREFIX's length to 32 (IPv6: 128)",
    )
    parser.add_argument(
        "--limit",
        type=whole_number,
        metavar="K",
        help="show at most K blocks (default: all of them; with --length, 1)",
    )
    parser.add_argument(
        "--json", action="store_true", help="JSON Lines: one object per block, then the summary"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.length is not None:
        check_length(parser, args.prefix, args.length)
        if args.limit is None:
            args.limit = 1
    return run_view(PROG, partial(_show, args))


def _show(args: argparse.Namespace, stdout: TextIO) -> int:
    table = read_prefix_table(args.db)
    space = FreeSpace(build_hierarchy(table.prefixes), args.prefix, args.length, args.limit)
    del table
    write_lines((json_lines if args.json else text_lines)(space), stdout)
    if space.shown:
        return EXIT_OK
    stdout.flush()  # the summary before the reason, where both go to one terminal
    what = "space" if args.length is None else f"/{args.length}"
    print(f"{PROG}: no free {what} in {network_text(args.prefix)}", file=sys.stderr)
    return EXIT_NOTHING_FREE
