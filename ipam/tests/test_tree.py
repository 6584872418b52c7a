"""``python -m ipam tree``: the nodes against a brute force, the drawing of the shipped database
(golden file), the JSON Lines, the filters, and every bad input."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipam.networks import network_key
from ipam.parents import find_closest_parents
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.tree import ASCII, BOX, Node, build_tree, json_lines, main, percent, text_lines
from ipam.view import EXIT_BROKEN_PIPE, share

SHIPPED = REPO_ROOT / "database" / "prefixes.db"
# Rebuild after a deliberate change: PYTHONIOENCODING=utf-8 python -m ipam tree > <this file>
GOLDEN = Path(__file__).parent / "golden" / "tree.txt"
TREE = [sys.executable, "-m", "ipam", "tree"]
TO_ASCII = str.maketrans(dict(zip("".join(BOX), "".join(ASCII))))

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def nodes_of(
    *prefixes: object, root: str | None = None, max_depth: int | None = None
) -> list[Node]:
    """The nodes of a table whose rows have ids 1, 2, 3, ... in the order given."""
    tree = build_tree(list(prefixes), list(range(1, len(prefixes) + 1)))
    root_key = None if root is None else network_key(root)
    assert not isinstance(root_key, str)
    return list(tree.nodes(root_key, max_depth))


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    out, err = capsys.readouterr()
    return code, out, err


# -- Nodes: depth, parent, children, utilization, by the definitions.


def test_a_small_table_node_by_node() -> None:
    assert nodes_of(
        "10.1.2.0/24", "10.0.0.0/8", "10.1.0.0/16", "10.1.3.0/24", "10.2.0.0/16", "10.1.0.0/16"
    ) == [
        Node("10.0.0.0/8", [2], 0, None, 2, 2 * 2**16, 2**24, True),
        Node("10.1.0.0/16", [3, 6], 1, "10.0.0.0/8", 2, 2 * 256, 2**16, False),
        Node("10.1.2.0/24", [1], 2, "10.1.0.0/16", 0, 0, 256, False),
        Node("10.1.3.0/24", [4], 2, "10.1.0.0/16", 0, 0, 256, True),
        Node("10.2.0.0/16", [5], 1, "10.0.0.0/8", 0, 0, 2**16, True),
    ]


def test_equal_networks_are_one_node_with_every_id_ascending() -> None:
    (node,) = nodes_of("10.1.0.0/16", " 10.1.0.0/255.255.0.0", "10.1.7.7/16", "10.1.0.0/16")
    assert (node.prefix, node.ids, node.depth, node.children) == ("10.1.0.0/16", [1, 2, 3, 4], 0, 0)


def test_depth_counts_networks_of_the_table_not_prefix_lengths() -> None:
    depths = [node.depth for node in nodes_of("0.0.0.0/0", "10.0.0.0/8", "10.1.2.3/32")]
    assert depths == [0, 1, 2]


def test_utilization_sums_only_direct_children() -> None:
    nodes = nodes_of("10.0.0.0/24", "10.0.0.0/25", "10.0.0.0/26", "10.0.0.128/26", "10.0.0.64/32")
    utilization = {node.prefix: node.utilization for node in nodes}
    assert utilization == {
        "10.0.0.0/24": 0.75,  # the /25 and the second /26, not the /26 inside the /25
        "10.0.0.0/25": 0.5 + 1 / 128,
        "10.0.0.0/26": 0.0,
        "10.0.0.64/32": 0.0,
        "10.0.0.128/26": 0.0,
    }
    assert nodes_of("10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/25")[0].utilization == 1.0
    assert nodes_of("::/0", "::/1", "8000::/1")[0].utilization == 1.0
    assert nodes_of("::/0", "::1")[0].utilization == 2**-128


def test_a_node_not_full_never_has_a_utilization_of_1_nor_says_100_percent() -> None:
    """(2**128 - 1) / 2**128 is 1.0 as a float: ::/0 with all but one address in children said
    "utilization 100%" while ``free`` listed the one address left."""
    everything, one = ipaddress.IPv6Network("::/0"), ipaddress.IPv6Network("::/128")
    covered = [str(network) for network in everything.address_exclude(one)]  # 128 children
    (root, *_) = nodes_of("::/0", *covered)
    assert (root.used, root.size) == (2**128 - 1, 2**128)
    assert root.utilization < 1
    assert json.loads(next(json_lines([root], [])))["utilization"] < 1
    assert next(text_lines([root], [], BOX)).endswith("utilization >99.9%")


def test_order_ipv4_first_depth_first_siblings_by_address_then_length() -> None:
    prefixes = [node.prefix for node in nodes_of("::/0", "10.0.0.0/16", "9.0.0.0/8", "10.0.0.0/8")]
    assert prefixes == ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "::/0"]


def test_ipv4_and_ipv6_never_nest() -> None:
    nodes = nodes_of("::/0", "0.0.0.0/0", "::a00:0/104", "10.0.0.0/8")
    assert [(node.prefix, node.depth, node.parent_prefix) for node in nodes] == [
        ("0.0.0.0/0", 0, None),
        ("10.0.0.0/8", 1, "0.0.0.0/0"),
        ("::/0", 0, None),
        ("::a00:0/104", 1, "::/0"),
    ]
    assert [node.last for node in nodes] == [False, True, True, True]  # the roots are siblings


def test_invalid_rows_are_listed_by_id_and_are_never_nodes() -> None:
    tree = build_tree(["10.0.0.0/33", "10.0.0.0/8", None, ""], [7, 8, 9, 10])
    assert [node.prefix for node in tree.nodes()] == ["10.0.0.0/8"]
    assert [(row.id, row.prefix) for row in tree.invalid_rows] == [
        (7, "10.0.0.0/33"),
        (9, None),
        (10, ""),
    ]
    assert tree.invalid_rows[1].error == "prefix is NULL"


def test_an_empty_table() -> None:
    assert nodes_of() == []
    assert nodes_of("junk") == []


# -- --root and --depth


def test_root_keeps_the_networks_inside_it_and_the_tables_depths() -> None:
    prefixes = ("10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.2.0/24", "10.2.0.0/16")
    inside = nodes_of(*prefixes, root="10.1.0.0/16")
    assert [(node.prefix, node.depth) for node in inside] == [
        ("10.1.0.0/16", 1),
        ("10.1.1.0/24", 2),
        ("10.1.2.0/24", 2),
    ]
    assert inside[0].parent_prefix == "10.0.0.0/8"  # outside the root, still its parent
    # Not in the table, and given with host bits set, like a row.
    between = nodes_of(*prefixes, root="10.1.0.7/20")
    assert [(node.prefix, node.parent_prefix) for node in between] == [
        ("10.1.1.0/24", "10.1.0.0/16"),
        ("10.1.2.0/24", "10.1.0.0/16"),
    ]
    assert nodes_of(*prefixes, root="11.0.0.0/8") == []
    assert nodes_of(*prefixes, root="::/0") == []
    assert len(nodes_of(*prefixes, root="0.0.0.0/0")) == 5


def test_depth_keeps_the_nodes_above_it() -> None:
    prefixes = ("10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/24", "11.0.0.0/8")
    assert [node.prefix for node in nodes_of(*prefixes, max_depth=1)] == [
        "10.0.0.0/8",
        "11.0.0.0/8",
    ]
    assert [node.depth for node in nodes_of(*prefixes, max_depth=2)] == [0, 1, 0]
    (node,) = nodes_of(*prefixes, root="10.1.0.0/16", max_depth=2)
    assert (node.prefix, node.children) == ("10.1.0.0/16", 1)  # its children: the table's


# -- Property: every node as a brute force reads the definitions


def brute_force_nodes(values: list[object]) -> list[Node]:
    """Depth, parent, children, utilization and the next-sibling flag by pairwise search."""
    rows_of: dict[Network, list[object]] = {}
    for row_id, value in enumerate(values, start=1):
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            continue
        rows_of.setdefault(network, []).append(row_id)
    networks = sorted(rows_of, key=lambda net: (net.version, net.network_address, net.prefixlen))

    def ancestors(network: Network) -> list[Network]:
        return [
            other
            for other in networks
            if other.version == network.version and other != network and network.subnet_of(other)  # type: ignore[arg-type]
        ]

    parent = {
        network: max(ancestors(network), key=lambda other: other.prefixlen, default=None)
        for network in networks
    }
    nodes = []
    for index, network in enumerate(networks):
        children = [other for other in networks if parent[other] == network]
        followers = [other for other in networks[index + 1 :] if parent[other] == parent[network]]
        nodes.append(
            Node(
                str(network),
                rows_of[network],
                len(ancestors(network)),
                None if parent[network] is None else str(parent[network]),
                len(children),
                sum(child.num_addresses for child in children),
                network.num_addresses,
                not followers,
            )
        )
    return nodes


def inside(node: Node, root: Network | None, max_depth: int | None) -> bool:
    network = ipaddress.ip_network(node.prefix)
    if root is not None and (
        network.version != root.version or not network.subnet_of(root)  # type: ignore[arg-type]
    ):
        return False
    return max_depth is None or node.depth < max_depth


SPACES = [ipaddress.ip_network("10.0.0.0/16"), ipaddress.ip_network("2001:db8::/112")]


@st.composite
def networks(draw: st.DrawFn) -> Network:
    """Networks in two small address spaces, so that they nest often, edges included."""
    space = draw(st.sampled_from(SPACES))
    extra_bits = draw(st.integers(0, 16))
    subnets = 2**extra_bits
    index = draw(st.sampled_from([0, subnets - 1]) | st.integers(0, subnets - 1))
    address = space.network_address + index * (space.num_addresses // subnets)
    network = ipaddress.ip_network(f"{address}/{space.prefixlen + extra_bits}")
    if draw(st.booleans()):
        network = network.supernet(new_prefix=draw(st.integers(0, network.prefixlen)))
    return network


@st.composite
def tables(draw: st.DrawFn) -> list[object]:
    """Stored values in varied spellings, with duplicates and invalid rows."""
    values: list[object] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            values.append(draw(st.sampled_from([None, "", "junk", "10.0.0.0/33", b"\x01", 7])))
        elif kind == 1 and values:
            values.append(draw(st.sampled_from(values)))  # an exact duplicate row
        else:
            network = draw(networks())
            spellings = [str(network), f" {network} ", network.with_netmask, str(network).upper()]
            values.append(draw(st.sampled_from(spellings)))
    return values


@given(tables())
def test_nodes_match_brute_force_and_parents_match_prefixes_json(values: list[object]) -> None:
    nodes = nodes_of(*values)
    assert nodes == brute_force_nodes(values)
    # Each row's node has the parent prefixes.json gives the row; invalid rows have no node.
    parent_of_row = {row_id: node.parent_prefix for node in nodes for row_id in node.ids}
    result = find_closest_parents(values)
    for row_id, (parent, error) in enumerate(zip(result.parents, result.errors), start=1):
        assert (row_id in parent_of_row) == (error is None)
        assert parent_of_row.get(row_id) == parent


@given(tables(), st.none() | networks(), st.none() | st.integers(1, 6))
def test_root_and_depth_select_exactly_the_brute_force_nodes(
    values: list[object], root: Network | None, max_depth: int | None
) -> None:
    selected = nodes_of(*values, root=None if root is None else str(root), max_depth=max_depth)
    assert selected == [node for node in brute_force_nodes(values) if inside(node, root, max_depth)]


# -- The text output


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (0, 2**128, "0%"),
        (2**128, 2**128, "100%"),
        (3, 4, "75%"),
        (1, 16, "6.2%"),  # 6.25: half to even
        (3, 16, "18.8%"),  # 18.75: half to even
        (1, 3, "33.3%"),
        (2, 3, "66.7%"),
        (4, 10_000, "<0.1%"),
        (5, 10_000, "<0.1%"),  # 0.05: half to even, 0.0
        (6, 10_000, "0.1%"),
        (1, 2**128, "<0.1%"),
        (9996, 10_000, ">99.9%"),
        (9995, 10_000, ">99.9%"),  # 99.95: half to even, 100.0
        (999, 1000, "99.9%"),
        (2**128 - 1, 2**128, ">99.9%"),  # 1.0 as a float
        (2**127 + 2**126 - 1, 2**128, "75%"),
    ],
)
def test_percent_is_computed_from_the_exact_integers(part: int, whole: int, text: str) -> None:
    assert percent(part, whole) == text


def test_share_is_never_1_for_less_than_all() -> None:
    assert share(2**128 - 1, 2**128) == 1 - 2**-53
    assert share(2**128, 2**128) == 1.0
    assert share(1, 2**128) == 2**-128
    assert share(0, 2**128) == 0.0
    assert share(3, 4) == 0.75


def test_the_shipped_database_drawn_as_the_golden_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", str(SHIPPED))
    assert (code, err) == (0, "")
    assert out == GOLDEN.read_text(encoding="utf-8")
    # The prefix of a node of depth d starts at column 4d.
    for line, node in zip(out.splitlines(), nodes_of(*read_prefixes(SHIPPED))):
        assert line.index(node.prefix) == 4 * node.depth


def read_prefixes(database: Path) -> list[object]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT prefix FROM prefixes ORDER BY id").fetchall()
    connection.close()
    return [prefix for (prefix,) in rows]


def test_ascii_where_the_output_cannot_show_box_drawing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["--db", str(SHIPPED)]) == 0
    stdout.seek(0)
    text = stdout.read()
    assert text == GOLDEN.read_text(encoding="utf-8").translate(TO_ASCII)
    assert "|-- 10.10.0.0/16" in text and "`-- 10.20.0.0/16" in text


def test_nodes_whose_parent_is_not_shown_start_at_their_depths_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--db", str(SHIPPED), "--root", "10.10.0.0/20", "--depth", "4")
    assert code == 0
    lines = [line[:34].rstrip() for line in out.splitlines()]
    assert lines[:4] == [
        "        10.10.1.0/24",
        "        ├── 10.10.1.0/25",
        "        └── 10.10.1.128/25",
        "        10.10.2.0/24",
    ]
    assert len(lines) == 10


def test_invalid_rows_follow_the_tree_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [(1, "10.0.0.0/8"), (2, "10.0.0.0\n/8"), (3, None), (4, "é/8"), (5, "10.1.0.0/16")]
    database = make_database(tmp_path / "p.db", rows)
    code, out, _ = run(capsys, "--db", str(database))
    assert code == 0
    assert out.splitlines() == [
        "10.0.0.0/8                          id 1       children 1    utilization 0.4%",
        "└── 10.1.0.0/16                     id 5       children 0    utilization 0%",
        "invalid  id 2  '10.0.0.0\\n/8'  not a valid IP network: Only decimal digits permitted"
        " in '0\\n' in '10.0.0.0\\n'",
        "invalid  id 3  None  prefix is NULL",
        "invalid  id 4  'é/8'  not a valid IP network: Expected 4 octets in 'é'",
    ]
    # On an output without é, it is escaped rather than a crash.
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["--db", str(database)]) == 0
    stdout.seek(0)
    assert stdout.read().splitlines()[-1] == (
        "invalid  id 4  '\\xe9/8'  not a valid IP network: Expected 4 octets in '\\xe9'"
    )


def test_many_ids_and_deep_ipv6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(row_id, "2001:db8::/32") for row_id in (3, 1, 2)] + [(4, "2001:db8::1")]
    code, out, _ = run(capsys, "--db", str(make_database(tmp_path / "p.db", rows)))
    assert code == 0
    assert out.splitlines() == [
        "2001:db8::/32                       ids 1,2,3  children 1    utilization <0.1%",
        "└── 2001:db8::1/128                 id 4       children 0    utilization 0%",
    ]


# -- JSON Lines


def test_json_lines_of_the_shipped_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", str(SHIPPED), "--json")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[2] == (
        '{"prefix": "10.10.1.0/24", "ids": [1], "depth": 2, "parent_prefix": "10.10.0.0/16", '
        '"children": 2, "utilization": 1.0}'
    )
    objects = [json.loads(line) for line in lines]
    assert [json.dumps(item) for item in objects] == lines  # exactly json.dumps's text
    expected = [node._asdict() for node in nodes_of(*read_prefixes(SHIPPED))]
    for node in expected:
        del node["last"], node["free"]
        node["utilization"] = share(node.pop("used"), node.pop("size"))
    assert objects == expected  # the same nodes, in the same order, as the drawing
    assert len(objects) == 27  # 28 rows, one duplicate


def test_json_lines_of_invalid_rows_as_prefixes_json_writes_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        (1, "10.0.0.0/8"),
        (2, b"\x0a\xff"),
        (3, float("inf")),
        (4, None),
        (5, "bad\n"),
        (6, float("-inf")),
        (7, "10.0.0.0/8"),
    ]
    database = make_database(tmp_path / "p.db", rows, schema="id INTEGER PRIMARY KEY, prefix")
    code, out, _ = run(capsys, "--db", str(database), "--json", "--depth", "1")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "prefix": "10.0.0.0/8",
            "ids": [1, 7],
            "depth": 0,
            "parent_prefix": None,
            "children": 0,
            "utilization": 0.0,
        },
        {
            "id": 2,
            "prefix": "0aff",
            "error": "not a valid IP network: Expected 4 octets in \"b'\\\\n\\\\xff'\"",
        },
        {
            "id": 3,
            "prefix": "Infinity",
            "error": "not a valid IP network: Expected 4 octets in 'inf'",
        },
        {"id": 4, "prefix": None, "error": "prefix is NULL"},
        {"id": 5, "prefix": "bad\n", "error": "not a valid IP network: Expected 4 octets in 'bad'"},
        {
            "id": 6,
            "prefix": "-Infinity",
            "error": "not a valid IP network: Expected 4 octets in '-inf'",
        },
    ]


def test_ids_that_are_not_integers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [("a", "10.0.0.0/8"), (float("nan"), "10.0.0.0/8"), (2.5, "11.0.0.0/8")]
    database = make_database(tmp_path / "p.db", rows, schema="id, prefix")
    code, out, _ = run(capsys, "--db", str(database), "--json")
    assert code == 0
    # SQLite stores NaN as NULL, and sorts NULL first, numbers next, text last.
    assert [json.loads(line)["ids"] for line in out.splitlines()] == [[None, "a"], [2.5]]
    code, out, _ = run(capsys, "--db", str(database))
    assert [line[36:46] for line in out.splitlines()] == ["ids None,a", "id 2.5    "]


def test_text_ids_never_break_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [("a\nb", "10.0.0.0/8"), ("c\x1b[2J", "junk")]
    database = make_database(tmp_path / "p.db", rows, schema="id TEXT PRIMARY KEY, prefix")
    code, out, _ = run(capsys, "--db", str(database))
    assert code == 0
    assert out.splitlines() == [
        "10.0.0.0/8                          id a\\nb    children 0    utilization 0%",
        "invalid  id c\\x1b[2J  'junk'  not a valid IP network: Expected 4 octets in 'junk'",
    ]


# -- The command line: defaults, bad input, a reader that goes away


def test_the_database_defaults_from_ipam_db_then_database_prefixes_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "database").mkdir()
    make_database(tmp_path / "database" / "prefixes.db", [(1, "10.0.0.0/8")])
    make_database(tmp_path / "other.db", [(1, "192.0.2.0/24")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IPAM_DB", "other.db")
    assert run(capsys, "--json")[1].startswith('{"prefix": "192.0.2.0/24"')
    monkeypatch.setenv("IPAM_DB", "")  # set but empty: the default
    assert run(capsys, "--json")[1].startswith('{"prefix": "10.0.0.0/8"')
    monkeypatch.delenv("IPAM_DB")
    assert run(capsys, "--json")[1].startswith('{"prefix": "10.0.0.0/8"')


def test_the_database_is_read_only_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = make_database(tmp_path / "p.db", [(1, "10.0.0.0/8")])
    before = database.read_bytes()
    assert run(capsys, "--db", str(database))[0] == 0
    assert [path.name for path in tmp_path.iterdir()] == ["p.db"]
    assert database.read_bytes() == before


def bad_databases(tmp_path: Path) -> list[Path]:
    """A missing file, a file that is not SQLite, no prefixes table, no prefix column."""
    not_sqlite = tmp_path / "not-sqlite.db"
    not_sqlite.write_text("just text, long enough to be more than a database header " * 4)
    no_table = tmp_path / "no-table.db"
    sqlite3.connect(no_table).execute("CREATE TABLE other (x)").connection.close()
    no_column = make_database(tmp_path / "no-column.db", [], schema="id INTEGER, cidr TEXT")
    return [tmp_path / "missing.db", not_sqlite, no_table, no_column]


def test_a_database_that_cannot_be_read_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for database in bad_databases(tmp_path):
        code, out, err = run(capsys, "--db", str(database))
        assert (code, out) == (1, "")
        (line,) = err.splitlines()  # the one line --once logs, after the command's name
        assert line.startswith("python -m ipam tree: ") and str(database) in line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--root", "10.0.0.0/33"], "argument --root: not a valid IP network"),
        (["--root", "not-a-network"], "argument --root: not a valid IP network"),
        (["--root", ""], "argument --root: prefix is empty"),
        (["--depth", "0"], "argument --depth: must be a whole number from 1, not '0'"),
        (["--depth", "-1"], "argument --depth: must be a whole number from 1"),
        (["--depth", "two"], "argument --depth: must be a whole number from 1"),
        (["--jason"], "unrecognized arguments: --jason"),
    ],
)
def test_bad_arguments_are_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", str(SHIPPED), *arguments])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m ipam tree ")
    assert message in err


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--db", "IPAM_DB", "--root", "--depth", "--json"):
        assert option in text


def test_a_reader_that_goes_away_is_a_quiet_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        assert main(["--db", str(SHIPPED)]) == EXIT_BROKEN_PIPE
        stdout.write("more")
        stdout.flush()  # stdout now goes to /dev/null: what is left cannot fail at exit
    finally:
        stdout.close()
    assert capsys.readouterr().err == ""


# -- The real process (through ipam/__main__.py, which hands ``tree`` to ipam.tree.main)


def run_process(*arguments: str, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONIOENCODING": encoding}
    environment.pop("IPAM_DB", None)
    return subprocess.run(
        [*TREE, *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        encoding=encoding,
        timeout=60,
        check=False,
    )


def test_process_draws_the_shipped_database_by_default() -> None:
    completed = run_process()
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == GOLDEN.read_text(encoding="utf-8")


def test_process_falls_back_to_ascii() -> None:
    completed = run_process(encoding="ascii")
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == GOLDEN.read_text(encoding="utf-8").translate(TO_ASCII)


def test_process_bad_database_and_bad_arguments(tmp_path: Path) -> None:
    completed = run_process("--db", str(tmp_path / "missing.db"))
    assert completed.returncode == 1
    assert (
        completed.stderr == f"python -m ipam tree: database not found: {tmp_path / 'missing.db'}\n"
    )
    completed = run_process("--depth", "0")
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr


def test_zoned_ipv6_values_are_invalid_rows_not_one_merged_node() -> None:
    tree = build_tree(
        ["fe80::%eth0/64", "fe80::%eth1/64", "fe80::1%eth1/128", "fe80::/64"], [1, 2, 3, 4]
    )
    assert [(node.prefix, node.ids) for node in tree.nodes(None, None)] == [("fe80::/64", [4])]
    assert [row.id for row in tree.invalid_rows] == [1, 2, 3]
    assert all("zone id" in row.error for row in tree.invalid_rows)
