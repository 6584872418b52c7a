"""``python -m ipam tree --free``: each node's free blocks among its children, exactly ``free``'s
for that node, against netaddr and a brute force of the tree, with ``--root`` and ``--depth``."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netaddr import IPNetwork, IPSet

from ipam.free import FreeSpace
from ipam.hierarchy import build_hierarchy
from ipam.networks import network_key, network_text
from ipam.tests.helpers import REPO_ROOT
from ipam.tests.test_tree import (
    SHIPPED,
    Network,
    brute_force_nodes,
    inside,
    networks,
    read_prefixes,
    run,
    tables,
)
from ipam.tree import BOX, Node, build_tree, json_lines, text_lines

# Rebuild after a deliberate change:
# PYTHONIOENCODING=utf-8 python -m ipam tree --free > <this file>
GOLDEN = Path(__file__).parent / "golden" / "tree-free.txt"


def free_nodes_of(
    values: list[object], root: str | None = None, max_depth: int | None = None
) -> list[Node]:
    tree = build_tree(values, list(range(1, len(values) + 1)))
    root_key = None if root is None else network_key(root)
    assert not isinstance(root_key, str)
    return list(tree.nodes(root_key, max_depth, free=True))


def order(node: Node) -> tuple[int, int, int]:
    network = ipaddress.ip_network(node.prefix)
    return network.version, int(network.network_address), network.prefixlen


def brute_force_with_free(
    values: list[object], root: Network | None, max_depth: int | None
) -> list[Node]:
    """The brute-force nodes, plus under each shown node with children shown its free blocks by
    netaddr (the node minus its children), all in address order; a node or block is the last
    child when nothing later, node or block, has its parent (a parent not shown: the table's)."""
    every = brute_force_nodes(values)
    nodes = [node for node in every if inside(node, root, max_depth)]
    shown = {node.prefix for node in nodes}
    items = list(nodes)
    for node in nodes:
        if node.children and (max_depth is None or node.depth + 1 < max_depth):
            children = [
                IPNetwork(other.prefix) for other in every if other.parent_prefix == node.prefix
            ]
            for block in (IPSet([IPNetwork(node.prefix)]) - IPSet(children)).iter_cidrs():
                items.append(
                    Node(str(block), [], node.depth + 1, node.prefix, 0, 0, 0, False, True)
                )
    items.sort(key=order)
    result = []
    for index, item in enumerate(items):
        later = [other for other in items[index + 1 :] if other.parent_prefix == item.parent_prefix]
        result.append(item._replace(last=not later) if item.parent_prefix in shown else item)
    return result


@given(tables(), st.none() | networks(), st.none() | st.integers(1, 6))
def test_free_blocks_sit_among_the_children_as_netaddr_gives_them(
    values: list[object], root: Network | None, max_depth: int | None
) -> None:
    selected = free_nodes_of(values, None if root is None else str(root), max_depth)
    assert selected == brute_force_with_free(values, root, max_depth)


def test_the_free_blocks_of_each_node_are_free_s_blocks_for_that_node() -> None:
    values = read_prefixes(SHIPPED)
    hierarchy = build_hierarchy(values)
    items = free_nodes_of(values)
    for node in items:
        if node.free or not node.children:
            continue
        key = network_key(node.prefix)
        assert not isinstance(key, str)
        space = FreeSpace(hierarchy, key, None, None)
        expected = [network_text(block) for block in space.blocks()]
        listed = [item.prefix for item in items if item.free and item.parent_prefix == node.prefix]
        assert listed == expected


def test_a_leaf_and_a_full_node_get_no_free_lines() -> None:
    items = free_nodes_of(["10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/26"])
    assert [(item.prefix, item.free, item.last) for item in items] == [
        ("10.0.0.0/24", False, True),  # full: its two children, no free line
        ("10.0.0.0/25", False, False),
        ("10.0.0.0/26", False, False),
        ("10.0.0.64/26", True, True),  # the /25's free half, after its only child
        ("10.0.0.128/25", False, True),  # a leaf: nothing under it
    ]


def test_depth_shows_the_free_blocks_of_a_node_only_with_its_children() -> None:
    items = free_nodes_of(["10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24"], max_depth=2)
    assert [(item.prefix, item.depth, item.free) for item in items] == [
        ("10.0.0.0/8", 0, False),
        ("10.0.0.0/16", 1, True),
        ("10.1.0.0/16", 1, False),  # its child (depth 2) is not shown, nor its free blocks
        ("10.2.0.0/15", 1, True),
        ("10.4.0.0/14", 1, True),
        ("10.8.0.0/13", 1, True),
        ("10.16.0.0/12", 1, True),
        ("10.32.0.0/11", 1, True),
        ("10.64.0.0/10", 1, True),
        ("10.128.0.0/9", 1, True),
    ]


def test_the_shipped_database_drawn_with_its_free_blocks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--db", str(SHIPPED), "--free")
    assert (code, err) == (0, "")
    assert out == GOLDEN.read_text(encoding="utf-8")
    assert "├── 10.10.0.0/24                free\n" in out  # free lines are marked so


def test_json_lines_mark_free_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", str(SHIPPED), "--free", "--json", "--root", "10.10.2.0/24")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        '{"prefix": "10.10.2.0/24", "ids": [2, 14], "depth": 2, "parent_prefix": "10.10.0.0/16", '
        '"children": 1, "utilization": 0.25}',
        '{"prefix": "10.10.2.0/25", "free": true, "depth": 3, "parent_prefix": "10.10.2.0/24"}',
        '{"prefix": "10.10.2.128/26", "ids": [13], "depth": 3, "parent_prefix": "10.10.2.0/24", '
        '"children": 0, "utilization": 0.0}',
        '{"prefix": "10.10.2.192/26", "free": true, "depth": 3, "parent_prefix": "10.10.2.0/24"}',
    ]
    assert all(json.dumps(json.loads(line)) == line for line in out.splitlines())


def test_process_draws_the_free_blocks() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ipam", "tree", "--free", "--root", "10.10.4.0/24"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={
            **{k: v for k, v in os.environ.items() if k != "IPAM_DB"},
            "PYTHONIOENCODING": "utf-8",
        },
        timeout=60,
        check=False,
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == [
        "        10.10.4.0/24                id 4       children 1    utilization 50%",
        "        ├── 10.10.4.0/25            free",
        "        └── 10.10.4.128/25          id 15      children 0    utilization 0%",
    ]


def test_the_renderers_draw_free_blocks_alike_as_nodes_and_by_gap() -> None:
    tree = build_tree(read_prefixes(SHIPPED), list(range(1, len(read_prefixes(SHIPPED)) + 1)))
    by_gap = list(tree.entries(free=True))
    assert len(by_gap) < len(list(tree.nodes(free=True)))  # some gap has several blocks
    for render in (partial(text_lines, drawing=BOX), json_lines):
        assert list(render(tree.nodes(free=True), [])) == list(render(by_gap, []))
