"""``python -m ipam free``: the free blocks against netaddr (what NetBox computes) and a bitmap of
the addresses, consistency with the tree, the summary, the shipped database's examples, and the
command line's every exit status."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
from itertools import islice
from pathlib import Path

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipam.free import (
    EXIT_NOTHING_FREE,
    FreeSpace,
    aligned_block_texts,
    aligned_blocks,
    free_blocks,
    main,
)
from ipam.hierarchy import build_hierarchy
from ipam.networks import IPV6_BIT, network_key, network_text
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.tests.test_tree import Network, networks, nodes_of, tables

SHIPPED = REPO_ROOT / "database" / "prefixes.db"
FREE = [sys.executable, "-m", "ipam", "free"]
# Rows the tree's strategies do not draw: the edges of both address spaces, IPv4-mapped IPv6.
SPECIAL = [
    "0.0.0.0/0",
    "::/0",
    "10.0.0.1/32",
    "10.0.255.255",
    "2001:db8::1/128",
    "::ffff:10.0.0.0/104",
    "::ffff:10.0.0.7",
    "::ffff:0:0/96",
]


def key_of(text: str) -> int:
    key = network_key(text)
    assert isinstance(key, int), key
    return key


def texts(keys: object) -> list[str]:
    return [network_text(key) for key in keys]  # type: ignore[attr-defined]


def space_of(
    values: list[object], root: str, length: int | None = None, limit: int | None = None
) -> tuple[list[str], dict[str, object]]:
    space = FreeSpace(build_hierarchy(values), key_of(root), length, limit)
    blocks = texts(space.blocks())
    return blocks, space.summary()


def used_networks(values: list[object], root: Network) -> list[Network]:
    """By the definition: every valid network of root's version strictly inside root."""
    used = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            continue
        if network.version == root.version and network != root and network.subnet_of(root):  # type: ignore[arg-type]
            used.append(network)
    return used


def netaddr_free(values: list[object], root: Network) -> list[netaddr.IPNetwork]:
    """NetBox's answer: (IPSet([root]) - IPSet(used)).iter_cidrs()."""
    used = netaddr.IPSet(str(network) for network in used_networks(values, root))
    return list((netaddr.IPSet([str(root)]) - used).iter_cidrs())


def assert_same_blocks(blocks: list[str], cidrs: list[netaddr.IPNetwork]) -> None:
    """Both lists hold the same (address, length) blocks: netaddr spells IPv4-mapped IPv6 its
    own way."""
    ours = [ipaddress.ip_network(block) for block in blocks]
    assert [(int(net.network_address), net.prefixlen) for net in ours] == [
        (int(cidr.network), cidr.prefixlen) for cidr in cidrs
    ]


@st.composite
def tables_and_roots(draw: st.DrawFn) -> tuple[list[object], Network]:
    """The tree's tables with some special rows, and a root: drawn like a row, or a row."""
    values = draw(tables())
    values += draw(st.lists(st.sampled_from(SPECIAL), max_size=3))
    candidates: list[Network] = [draw(networks())]
    for value in values:
        with contextlib.suppress(ValueError):
            candidates.append(ipaddress.ip_network(str(value).strip(), strict=False))
    candidates += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    return values, draw(st.sampled_from(candidates))


# -- Against netaddr


@given(tables_and_roots())
def test_free_blocks_are_netaddrs_available_prefixes(case: tuple[list[object], Network]) -> None:
    values, root = case
    blocks, summary = space_of(values, str(root))
    expected = netaddr_free(values, root)
    assert_same_blocks(blocks, expected)
    assert summary["free_blocks"] == len(expected)
    free_addresses = sum(cidr.size for cidr in expected)
    assert summary["free_addresses"] == free_addresses
    assert summary["addresses"] == root.num_addresses
    assert summary["utilization"] == (root.num_addresses - free_addresses) / root.num_addresses


@given(tables_and_roots(), st.integers(0, 128), st.integers(1, 20))
def test_blocks_of_a_length_are_netaddrs_first_fit(
    case: tuple[list[object], Network], extra: int, limit: int
) -> None:
    values, root = case
    length = min(root.prefixlen + extra % 20, root.max_prefixlen)
    blocks, summary = space_of(values, str(root), length, limit)
    cidrs = netaddr_free(values, root)
    fits = [cidr for cidr in cidrs if cidr.prefixlen <= length]
    first_fit = (subnet for cidr in fits for subnet in cidr.subnet(length))
    assert_same_blocks(blocks, list(islice(first_fit, limit)))
    assert summary["blocks_of_length"] == sum(2 ** (length - cidr.prefixlen) for cidr in fits)
    assert summary["shown"] == len(blocks)
    assert summary["length"] == length
    assert summary["free_blocks"] == len(cidrs)


@given(tables_and_roots(), st.integers(0, 4))
def test_with_a_length_and_no_limit_every_block_of_that_length_is_shown(
    case: tuple[list[object], Network], extra: int
) -> None:
    values, root = case
    length = min(root.prefixlen + extra, root.max_prefixlen)  # at most 16 blocks of it
    blocks, summary = space_of(values, str(root), length)
    fits = [cidr for cidr in netaddr_free(values, root) if cidr.prefixlen <= length]
    assert_same_blocks(blocks, [subnet for cidr in fits for subnet in cidr.subnet(length)])
    assert summary["shown"] == summary["blocks_of_length"] == len(blocks)


def test_the_count_of_blocks_never_depends_on_enumerating_them() -> None:
    blocks, summary = space_of(["::/1", "8000::1"], "::/0", 128, 3)
    assert blocks == ["8000::/128", "8000::2/128", "8000::3/128"]
    assert summary["blocks_of_length"] == 2**127 - 1
    blocks, summary = space_of([], "::/0", 128, 2)
    assert blocks == ["::/128", "::1/128"]
    assert summary["blocks_of_length"] == 2**128  # exact, far past 2**64


# -- Against a bitmap of the addresses, and the tree


@given(tables_and_roots())
def test_small_prefixes_against_a_bitmap_of_their_addresses(
    case: tuple[list[object], Network],
) -> None:
    values, root = case
    if root.num_addresses > 4096:  # 4,096 addresses inside it, where the tables have networks
        small: Network = ipaddress.ip_network(
            "10.0.0.0/20" if root.version == 4 else "2001:db8::/116"
        )
        if not small.subnet_of(root):  # type: ignore[arg-type]
            small = next(root.subnets(new_prefix=root.max_prefixlen - 12))  # type: ignore[assignment]
        root = small
    first = int(root.network_address)
    used = [False] * root.num_addresses
    for network in used_networks(values, root):
        start = int(network.network_address) - first
        used[start : start + network.num_addresses] = [True] * network.num_addresses
    blocks, summary = space_of(values, str(root))
    covered = [False] * root.num_addresses
    previous_end = -1
    for block in map(ipaddress.ip_network, blocks):
        start = int(block.network_address) - first
        assert start > previous_end  # in order, disjoint, and never two that would merge:
        previous_end = start + block.num_addresses - 1
        if block.prefixlen > root.prefixlen:  # its buddy half is not all free
            buddy = start ^ block.num_addresses
            assert any(used[buddy : buddy + block.num_addresses])
        assert not any(used[start : start + block.num_addresses])
        covered[start : start + block.num_addresses] = [True] * block.num_addresses
    assert covered == [not bit for bit in used]
    assert summary["free_addresses"] == used.count(False)


@given(tables())
def test_a_prefix_of_the_table_is_free_but_for_its_childrens_addresses(
    values: list[object],
) -> None:
    nodes = nodes_of(*values)
    for node in nodes:
        children = [child for child in nodes if child.parent_prefix == node.prefix]
        taken = sum(ipaddress.ip_network(child.prefix).num_addresses for child in children)
        _blocks, summary = space_of(values, node.prefix)
        assert summary["free_addresses"] == summary["addresses"] - taken  # type: ignore[operator]
        assert summary["in_table"] is True
        assert summary["parent_prefix"] == node.parent_prefix


# -- The summary


def test_the_summary_of_a_prefix_not_in_the_table() -> None:
    values: list[object] = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "junk", None]
    values.append("::ffff:10.1.0.0/112")
    blocks, summary = space_of(values, "10.1.0.0/17")
    assert blocks[:2] == ["10.1.0.0/23", "10.1.3.0/24"]
    assert summary == {
        "root": "10.1.0.0/17",
        "in_table": False,
        "parent_prefix": "10.1.0.0/16",  # the closest network of the table containing it
        "addresses": 32768,
        "free_addresses": 32768 - 256,
        "free_blocks": 7,
        "utilization": 256 / 32768,
        "invalid_rows": 2,
    }


def test_shares_that_are_not_exactly_all_or_nothing_never_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(2**128 - 1) / 2**128 is 1.0 as a float: ``free ::/0`` with ``::1/128`` in the table said
    "(100%)" free, and the summary's utilization for all but one address was 1.0."""
    database = make_database(tmp_path / "p.db", [(1, "::1/128")])
    assert main(["--db", str(database), "::/0"]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith(
            f"::/0 (not in the table): {2**128 - 1} of {2**128} addresses free (>99.9%), 128 blocks"
        )
    )
    everything, one = ipaddress.IPv6Network("::/0"), ipaddress.IPv6Network("::/128")
    _blocks, summary = space_of([str(net) for net in everything.address_exclude(one)], "::/0")
    assert summary["free_addresses"] == 1
    assert summary["utilization"] == 1 - 2**-53  # the float just below 1


def test_a_row_equal_to_or_containing_the_prefix_uses_nothing() -> None:
    blocks, summary = space_of(["10.1.0.0/16", "10.1.0.0/16", "10.0.0.0/8"], "10.1.0.0/16")
    assert blocks == ["10.1.0.0/16"]
    assert (summary["in_table"], summary["parent_prefix"]) == (True, "10.0.0.0/8")
    # IPv4-mapped IPv6 rows are IPv6: they use no IPv4 space, and the other way round.
    assert space_of(["::ffff:10.1.0.0/112"], "10.1.0.0/16")[0] == ["10.1.0.0/16"]
    mapped = network_text(key_of("::ffff:10.1.0.0/112"))  # spelled as this Python's ipaddress does
    assert space_of(["10.1.0.0/24"], mapped)[0] == [mapped]


def test_free_blocks_walk_only_the_outermost_networks() -> None:
    hierarchy = build_hierarchy(["10.0.0.0/9", "10.0.0.0/10", "10.64.0.0/10", "10.128.0.0/24"])
    assert texts(free_blocks(hierarchy, key_of("10.0.0.0/8"))) == [
        "10.128.1.0/24",
        "10.128.2.0/23",
        "10.128.4.0/22",
        "10.128.8.0/21",
        "10.128.16.0/20",
        "10.128.32.0/19",
        "10.128.64.0/18",
        "10.128.128.0/17",
        "10.129.0.0/16",
        "10.130.0.0/15",
        "10.132.0.0/14",
        "10.136.0.0/13",
        "10.144.0.0/12",
        "10.160.0.0/11",
        "10.192.0.0/10",
    ]


# -- The shipped database: the examples of the issue and the README


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["--db", str(SHIPPED), *arguments])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_free_space_of_10_0_0_0_8(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "10.0.0.0/8")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        "10.0.0.0/13         524288 addresses",
        "10.8.0.0/15         131072 addresses",
        "10.11.0.0/16        65536 addresses",
    ]
    assert len(lines) == 12
    assert lines[-1] == (
        "10.0.0.0/8 (in the table): 16646144 of 16777216 addresses free (99.2%), 11 blocks; "
        "0 invalid rows skipped"
    )


def test_the_first_free_24s_of_10_20_0_0_16(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "10.20.0.0/16", "--length", "24", "--limit", "3")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "10.20.0.0/24",
        "10.20.1.0/24",
        "10.20.2.0/24",
        "10.20.0.0/16",
    ]
    assert out.splitlines()[-1].endswith("1 block, 256 free /24, 3 shown; 0 invalid rows skipped")
    code, out, _ = run(capsys, "10.20.0.0/16", "--length", "24")  # the default limit: 1
    assert [line.split()[0] for line in out.splitlines()] == ["10.20.0.0/24", "10.20.0.0/16"]


def test_a_prefix_two_rows_hold(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "10.10.2.7/24", "--json")  # host bits, as a row may have them
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"prefix": "10.10.2.0/25", "addresses": 128},
        {"prefix": "10.10.2.192/26", "addresses": 64},
        {
            "root": "10.10.2.0/24",
            "in_table": True,
            "parent_prefix": "10.10.0.0/16",
            "addresses": 256,
            "free_addresses": 192,
            "free_blocks": 2,
            "utilization": 0.25,
            "invalid_rows": 0,
        },
    ]
    assert [json.dumps(json.loads(line)) for line in out.splitlines()] == out.splitlines()


def test_nothing_free_exits_3_with_the_summary_and_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "10.10.1.0/24")
    assert code == EXIT_NOTHING_FREE == 3
    assert out == (
        "10.10.1.0/24 (in the table): 0 of 256 addresses free (0%), 0 blocks; "
        "0 invalid rows skipped\n"
    )
    assert err == "python -m ipam free: no free space in 10.10.1.0/24\n"
    # 10.10.4.128/25 is taken: its other half is free, but no whole /24.
    code, out, err = run(capsys, "10.10.4.0/24", "--length", "24", "--json")
    assert code == 3
    (summary,) = map(json.loads, out.splitlines())
    assert (summary["blocks_of_length"], summary["shown"], summary["free_blocks"]) == (0, 0, 1)
    assert err == "python -m ipam free: no free /24 in 10.10.4.0/24\n"


def test_ipv6_counts_are_exact_integers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "2001:db8::/32", "--length", "48", "--limit", "2", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"prefix": "2001:db8::/48", "addresses": 2**80}
    assert lines[-1]["addresses"] == 2**96
    assert lines[-1]["blocks_of_length"] == 2**16 - 2
    assert f'"free_addresses": {2**96 - 2 * 2**80}' in out  # an integer, never a float
    code, out, _ = run(capsys, "2001:db8:10:1::1")  # a bare address: a /128, and a row: its own
    assert (code, out.splitlines()) == (  # row uses nothing of it
        0,
        [
            "2001:db8:10:1::1/128  1 address",
            "2001:db8:10:1::1/128 (in the table): 1 of 1 addresses free (100%), 1 block; "
            "0 invalid rows skipped",
        ],
    )
    code, out, _ = run(capsys, "2001:db8:10:1::/127")
    assert out.splitlines()[0] == "2001:db8:10:1::/128  1 address"


# -- The command line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["10.0.0.0/33"], "argument PREFIX: not a valid IP network"),
        ([""], "argument PREFIX: prefix is empty"),
        ([], "the following arguments are required: PREFIX"),
        (["10.0.0.0/8", "--length", "7"], "argument --length: must be from 8 to 32 for 10.0.0.0/8"),
        (["10.0.0.0/8", "--length", "33"], "must be from 8 to 32 for 10.0.0.0/8, not 33"),
        (["::/0", "--length", "129"], "must be from 0 to 128 for ::/0, not 129"),
        (["10.0.0.0/8", "--length", "x"], "argument --length: must be a prefix length, not 'x'"),
        (["10.0.0.0/8", "--length", "\u0662\u0664"], "--length: must be a prefix length, not '"),
        (["10.0.0.0/8", "--length", "1_6"], "--length: must be a prefix length, not '1_6'"),
        (["10.0.0.0/8", "--length", " 16"], "--length: must be a prefix length, not ' 16'"),
        (["10.0.0.0/8", "--limit", "0"], "argument --limit: must be a whole number from 1"),
    ],
)
def test_bad_arguments_exit_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m ipam free ")
    assert message in err


def test_the_length_may_be_the_longest_of_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "10.10.1.0/26", "--length", "32", "--limit", "3")
    assert code == 0  # 10.10.1.10/32 is taken: the first three /32 are before it
    assert [line.split()[0] for line in out.splitlines()[:3]] == [
        "10.10.1.0/32",
        "10.10.1.1/32",
        "10.10.1.2/32",
    ]
    code, out, _ = run(capsys, "2001:db8:10:1::/64", "--length", "128", "--limit", "2")
    assert code == 0  # 2001:db8:10:1::1/128 is taken
    assert [line.split()[0] for line in out.splitlines()[:2]] == [
        "2001:db8:10:1::/128",
        "2001:db8:10:1::2/128",
    ]


def test_help_says_what_free_shows_and_what_each_option_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IPAM_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapped (a narrow one breaks "read-only")
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # one line
    assert text.startswith(
        "usage: python -m ipam free [-h] [--db DB] [--length N] [--limit K] [--json] PREFIX "
        "Show the free space inside PREFIX: the maximal free CIDR blocks (NetBox's available "
        "prefixes), or with --length the first free blocks of that length (first-fit "
        "allocation), then a summary. Used space is every valid network of the table strictly "
        "inside PREFIX. Reads the database read-only. Exit status 3: nothing free. "
    )
    for line in (
        "PREFIX the network to look inside, as in the table (it need not be in it)",
        "--db DB SQLite database with the prefixes table (env IPAM_DB, default "
        "database/prefixes.db)",
        "--length N the free blocks of prefix length N, from PREFIX's length to 32 (IPv6: 128)",
        "--limit K show at most K blocks (default: all of them; with --length, 1)",
        "--json JSON Lines: one object per block, then the summary",
    ):
        assert line in text


def test_limit_without_length_caps_the_blocks_shown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "10.0.0.0/8", "--limit", "2", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line.get("prefix") for line in lines[:2]] == ["10.0.0.0/13", "10.8.0.0/15"]
    assert lines[2]["free_blocks"] == 11 and "shown" not in lines[2]


def test_a_database_that_cannot_be_read_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(tmp_path / "missing.db"), "10.0.0.0/8"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == f"python -m ipam free: database not found: {tmp_path / 'missing.db'}\n"


def test_the_database_defaults_from_ipam_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_database(tmp_path / "other.db", [(1, "10.0.0.0/9"), (2, "junk")])
    monkeypatch.setenv("IPAM_DB", str(tmp_path / "other.db"))
    assert main(["10.0.0.0/8"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "10.128.0.0/9        8388608 addresses",
        "10.0.0.0/8 (not in the table): 8388608 of 16777216 addresses free (50%), 1 block; "
        "1 invalid row skipped",
    ]


def run_process(*arguments: str, **options: object) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ}
    environment.pop("IPAM_DB", None)
    return subprocess.run(  # type: ignore[call-overload]
        [*FREE, *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output="stdout" not in options,
        text=True,
        timeout=60,
        check=False,
        **options,
    )


def test_process_examples_of_the_issue() -> None:
    completed = run_process("10.0.0.0/8")
    assert (completed.returncode, completed.stderr) == (0, "")
    assert len(completed.stdout.splitlines()) == 12
    completed = run_process("10.10.1.0/24")
    assert completed.returncode == 3
    assert completed.stderr == "python -m ipam free: no free space in 10.10.1.0/24\n"
    completed = run_process("10.10.1.0/24", "--length", "40")
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    # Lazy: 2**128 blocks of /128, and the answer comes at once (a hang fails on the timeout).
    completed = run_process("::/0", "--length", "128", "--limit", "10")
    assert (completed.returncode, len(completed.stdout.splitlines())) == (0, 11)


def test_process_ctrl_c_is_a_quiet_exit_130(tmp_path: Path) -> None:
    rows = [(row_id, f"10.{row_id >> 8 & 255}.{row_id & 255}.0/25") for row_id in range(20_000)]
    database = make_database(tmp_path / "big.db", rows)
    with subprocess.Popen(
        [*FREE, "--db", str(database), "10.0.0.0/8"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()  # it is writing, and blocks on the full pipe
        process.send_signal(signal.SIGINT)
        process.stdout.read()  # what it had buffered: the interrupted view writes no more
        stderr = process.stderr.read()
    assert (process.returncode, stderr) == (130, b"")


def address_ranges(bits: int) -> st.SearchStrategy[tuple[int, int]]:
    """A range of addresses [start, stop), often near the edges that change the text: the
    zero address (IPv6 ``::`` forms), the IPv4-mapped and IPv4-compatible ranges, zero hextets in
    the middle, and the end of the space."""
    anchors = [0, 1 << bits]
    if bits == 128:
        anchors += [0xFFFF << 32, 1 << 32, 0x20010DB8 << 96, 0xFE80 << 112, 1 << 64, 1 << 80]
    address = st.one_of(
        st.integers(0, 1 << bits),
        st.builds(
            lambda anchor, offset: min(max(anchor + offset, 0), 1 << bits),
            st.sampled_from(anchors),
            st.integers(-(1 << 40), 1 << 40) | st.integers(-300, 300),
        ),
        st.builds(  # random hextets, many of them zero
            lambda hextets: sum(h << (16 * i) for i, h in enumerate(hextets)) % ((1 << bits) + 1),
            st.lists(st.sampled_from([0, 0, 1, 0xFFFF, 0x8000, 0x1234]), min_size=8, max_size=8),
        ),
    )
    return st.tuples(address, address).map(sorted).map(tuple)


@given(
    st.booleans().flatmap(
        lambda ipv6: st.tuples(st.just(ipv6), address_ranges(128 if ipv6 else 32))
    )
)
def test_aligned_blocks_and_their_texts_are_ipaddress_s_summary_of_the_range(
    case: tuple[bool, tuple[int, int]],
) -> None:
    ipv6, (start, stop) = case
    version = IPV6_BIT if ipv6 else 0
    expected = []
    if start < stop:
        address = ipaddress.IPv6Address if ipv6 else ipaddress.IPv4Address
        expected = list(ipaddress.summarize_address_range(address(start), address(stop - 1)))
    keys = aligned_blocks(version, start, stop)
    assert [network_text(key) for key in keys] == [str(block) for block in expected]
    assert keys == [network_key(str(block)) for block in expected]
    assert aligned_block_texts(version, start, stop) == [str(block) for block in expected]
