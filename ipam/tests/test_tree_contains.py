"""``python -m ipam tree --contains``: the chain of the networks containing an address or a
prefix, the page's find on the command line."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given

from ipam.networks import network_key
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.tests.test_tree import networks, tables
from ipam.tree import EXIT_NOT_CONTAINED, build_tree, json_lines, main

SHIPPED = str(REPO_ROOT / "database" / "prefixes.db")


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["--db", SHIPPED, *arguments])
    out, err = capsys.readouterr()
    return code, out, err


def test_which_prefix_does_an_address_belong_to(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--contains", "10.10.1.77")
    assert (code, err) == (0, "")
    assert [line.split()[-7] for line in out.splitlines()] == [
        "10.0.0.0/8", "10.10.0.0/16", "10.10.1.0/24", "10.10.1.0/25", "10.10.1.64/27",
    ]  # fmt: skip
    assert out.splitlines()[1].startswith("└── 10.10.0.0/16")  # each drawn alone: a corner
    assert out.splitlines()[4].startswith(" " * 12 + "└── 10.10.1.64/27")  # column 4 * depth


def test_a_prefix_in_the_table_ends_its_own_chain_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--contains", "10.10.1.0/24", "--json")
    _, whole, _ = run(capsys, "--json")
    assert code == 0
    assert [json.loads(line)["prefix"] for line in out.splitlines()] == [
        "10.0.0.0/8", "10.10.0.0/16", "10.10.1.0/24",
    ]  # fmt: skip
    assert set(out.splitlines()) <= set(whole.splitlines())  # the tree's own objects


def test_nothing_contains_it_exits_3_saying_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert EXIT_NOT_CONTAINED == 3
    assert run(capsys, "--contains", "8.8.8.8") == (
        3,
        "",
        "python -m ipam tree: no network of the table contains 8.8.8.8/32\n",
    )
    assert run(capsys, "--contains", "::ffff:10.10.1.77")[0] == 3  # IPv6, never IPv4 space


@pytest.mark.parametrize("other", [["--root", "10.0.0.0/8"], ["--depth", "2"], ["--free"]])
def test_contains_is_not_combined_with_root_depth_or_free(
    capsys: pytest.CaptureFixture[str], other: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "--contains", "10.10.1.77", *other)
    assert exit_info.value.code == 2
    assert "--contains cannot be combined with --root, --depth or --free" in capsys.readouterr().err


def test_not_a_network_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "--contains", "10.10.1.300")
    assert exit_info.value.code == 2


@given(tables(), networks())
def test_the_chain_is_every_node_containing_it_outermost_first(
    values: list[object], query: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> None:
    tree = build_tree(values, list(range(len(values))))
    nodes = list(tree.nodes())
    containing = [
        node for node in nodes
        if ipaddress.ip_network(node.prefix).version == query.version
        and query.subnet_of(ipaddress.ip_network(node.prefix))  # type: ignore[arg-type]
    ]  # fmt: skip
    key = network_key(str(query))
    assert isinstance(key, int)
    chain = tree.chain(key)
    assert [node.prefix for node in chain] == [node.prefix for node in containing]
    assert list(json_lines(chain, [])) == list(json_lines(containing, []))  # last aside


def test_a_table_with_no_valid_row(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    database = make_database(tmp_path / "p.db", [(1, "junk")])
    assert main(["--db", str(database), "--contains", "10.0.0.0/8"]) == 3
