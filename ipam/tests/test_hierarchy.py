"""The engine every view reads: sorted keys, parent positions and parent texts, against a brute
force that reads the definitions (pairwise containment with ``ipaddress``)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from ipam.hierarchy import NO_PARENT, addresses, build_hierarchy, end_key
from ipam.networks import network_key, network_text
from ipam.tests.test_tree import Network, networks, tables


def network_of(key: int) -> Network:
    return ipaddress.ip_network(network_text(key))


def closest_container(network: Network, candidates: list[Network]) -> Network | None:
    containers = [
        other
        for other in candidates
        if other.version == network.version and other != network and network.subnet_of(other)  # type: ignore[arg-type]
    ]
    return max(containers, key=lambda other: other.prefixlen, default=None)


def test_a_small_table_position_by_position() -> None:
    hierarchy = build_hierarchy(["10.1.0.0/16", "junk", "10.0.0.0/8", "::/0", "10.1.0.0/16"])
    assert [network_text(key) for key in hierarchy.keys] == [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.0.0/16",
        "::/0",
    ]
    assert hierarchy.rows == [2, 0, 4, 3]  # duplicates in table order
    assert hierarchy.parents == [NO_PARENT, 0, 0, NO_PARENT]
    assert hierarchy.row_parents == ["10.0.0.0/8", None, None, None, "10.0.0.0/8"]
    assert hierarchy.invalid_rows == [1]
    assert hierarchy.row_keys[1] == "not a valid IP network: Expected 4 octets in 'junk'"


def test_addresses_and_end_keys() -> None:
    assert [addresses(network_key(text)) for text in ("0.0.0.0/0", "::/0", "::1")] == [  # type: ignore[arg-type]
        2**32,
        2**128,
        1,
    ]
    key = network_key("10.1.0.0/16")
    assert isinstance(key, int)
    assert network_text(end_key(key) & ~0xFF | 32) == "10.1.255.255/32"


@given(tables())
def test_parents_are_the_first_position_of_the_closest_container(values: list[object]) -> None:
    hierarchy = build_hierarchy(values)
    assert hierarchy.keys == sorted(hierarchy.keys)
    assert sorted(hierarchy.rows + hierarchy.invalid_rows) == list(range(len(values)))
    distinct = [network_of(key) for key in dict.fromkeys(hierarchy.keys)]
    for position, (key, parent) in enumerate(zip(hierarchy.keys, hierarchy.parents)):
        assert hierarchy.row_keys[hierarchy.rows[position]] == key
        expected = closest_container(network_of(key), distinct)
        if expected is None:
            assert parent == NO_PARENT
        else:
            assert network_of(hierarchy.keys[parent]) == expected
            assert parent == 0 or hierarchy.keys[parent - 1] != hierarchy.keys[parent]
        assert hierarchy.row_parents[hierarchy.rows[position]] == (
            None if expected is None else str(expected)
        )


@given(tables(), networks())
def test_inside_and_container_of_any_network(values: list[object], root: Network) -> None:
    hierarchy = build_hierarchy(values)
    key = network_key(str(root))
    assert isinstance(key, int)
    inside = hierarchy.inside(key)
    expected = [
        position
        for position, other in enumerate(hierarchy.keys)
        if network_of(other).version == root.version and network_of(other).subnet_of(root)  # type: ignore[arg-type]
    ]
    assert list(inside) == expected
    distinct = [network_of(other) for other in dict.fromkeys(hierarchy.keys)]
    container = hierarchy.container(key)
    expected_container = closest_container(root, distinct)
    if expected_container is None:
        assert container == NO_PARENT
    else:
        assert network_of(hierarchy.keys[container]) == expected_container
        assert container == 0 or hierarchy.keys[container - 1] != hierarchy.keys[container]


@given(st.lists(st.sampled_from(["10.0.0.0/8", "10.0.0.0/16", "::/0", "::a00:0/104"]), max_size=8))
def test_the_versions_never_nest(values: list[object]) -> None:
    hierarchy = build_hierarchy(values)
    for key, parent in zip(hierarchy.keys, hierarchy.parents):
        if parent != NO_PARENT:
            assert (key ^ hierarchy.keys[parent]) >> 136 == 0  # the same version bit
