"""What "parent prefix" means, rule by rule, and a property test against a brute force."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from ipam.parents import find_closest_parents


def parents_of(*prefixes: object) -> list[str | None]:
    return find_closest_parents(list(prefixes)).parents


# -- Validity: exactly what ipaddress.ip_network(str(value).strip(), strict=False) accepts.


def test_lenient_forms_that_ipaddress_accepts_are_valid_networks() -> None:
    result = find_closest_parents(
        [
            "10.0.0.0/8",
            "10.10.1.7/24",  # host bits set: the network 10.10.1.0/24
            "  10.20.0.0/16 ",  # surrounding spaces
            "10.30.0.0/255.255.0.0",  # netmask form
            "10.40.0.1",  # a bare address: a /32
            "2001:DB8::/32",  # upper-case IPv6
            "2001:db8:1::/48",
        ]
    )
    assert result.errors == [None] * 7
    assert result.parents == [None, *["10.0.0.0/8"] * 4, None, "2001:db8::/32"]


def test_what_ipaddress_rejects_is_invalid_with_a_reason_and_no_parent() -> None:
    invalid = ["300.1.1.0/24", "10.0.0.0/33", "010.0.0.0/8", "not-a-prefix", "", None, "  "]
    result = find_closest_parents(["0.0.0.0/0", *invalid])
    assert result.parents == [None] * 8
    assert result.errors[0] is None
    assert all(isinstance(error, str) and error for error in result.errors[1:])


def test_invalid_rows_are_never_parents() -> None:
    assert parents_of("10.0.0.0/33", "10.1.0.0/16", "010.0.0.0/8", "10.1.2.0/24") == [
        None,
        None,
        None,
        "10.1.0.0/16",
    ]


# -- The parent: the longest valid network of the same version that strictly contains the row.


def test_parent_is_the_longest_containing_network() -> None:
    assert parents_of("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25") == [
        None,
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
    ]


def test_order_of_rows_does_not_matter() -> None:
    assert parents_of("10.1.2.128/25", "10.1.2.0/24", "10.0.0.0/8", "10.1.0.0/16") == [
        "10.1.2.0/24",
        "10.1.0.0/16",
        None,
        "10.0.0.0/8",
    ]


def test_siblings_and_neighbours_are_not_parents() -> None:
    # The exercise's own table: five sibling /24s, none contains another, so none has a parent.
    siblings = [f"10.10.{third}.0/24" for third in range(1, 6)]
    assert parents_of(*siblings) == [None] * 5
    # A neighbour that ends before the next network starts is closed, not a parent.
    assert parents_of("10.0.0.0/16", "10.1.0.0/16", "10.1.5.0/24") == [None, None, "10.1.0.0/16"]


def test_after_a_deep_branch_the_parent_is_found_several_levels_up() -> None:
    assert parents_of(
        "10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.0/28", "10.2.0.0/16", "11.0.0.0/8"
    ) == [None, "10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.0.0.0/8", None]


def test_default_routes_can_be_parents() -> None:
    assert parents_of("0.0.0.0/0", "10.0.0.0/8", "::/0", "2001:db8::/32") == [
        None,
        "0.0.0.0/0",
        None,
        "::/0",
    ]


def test_ipv4_and_ipv6_never_mix() -> None:
    # ::/0 covers every 128-bit number, and ::a00:0/104 is 10.0.0.0/8's number in IPv6.
    assert parents_of("::/0", "::a00:0/104", "10.1.0.0/16") == [None, "::/0", None]
    assert parents_of("0.0.0.0/0", "::ffff:10.1.0.0/112", "::1") == [None, None, None]


def test_a_host_route_gets_a_parent_and_is_nobodys_parent() -> None:
    assert parents_of("10.1.2.3/32", "10.1.2.3", "10.1.2.0/24") == ["10.1.2.0/24"] * 2 + [None]
    assert parents_of("2001:db8::1/128", "2001:db8::/64") == ["2001:db8::/64", None]


def test_networks_at_the_very_first_and_last_address_of_their_parent() -> None:
    assert parents_of("10.1.2.0/24", "10.1.2.255/32", "10.1.2.0/32", "10.1.3.0/32") == [
        None,
        "10.1.2.0/24",
        "10.1.2.0/24",
        None,
    ]
    assert parents_of("255.255.255.255/32", "0.0.0.0/0", "255.255.255.0/24") == [
        "255.255.255.0/24",
        None,
        "0.0.0.0/0",
    ]
    assert parents_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff::/16") == [
        "ffff::/16",
        None,
    ]


# -- Equal networks are never each other's parent; each gets the same parent.


def test_equal_networks_share_their_parent_and_are_not_each_others() -> None:
    assert parents_of("10.1.0.0/16", "10.1.0.0/16", "10.1.0.0/16") == [None] * 3
    assert parents_of(
        "10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16", "10.1.7.7/16", " 10.1.0.0/255.255.0.0"
    ) == [None, *["10.0.0.0/8"] * 4]
    assert parents_of("2001:db8::/32", "2001:DB8::/32", "2001:0db8:0::/32") == [None] * 3


def test_children_of_duplicates_get_the_one_parent() -> None:
    assert parents_of("10.1.0.0/16", "10.1.0.0/16", "10.1.1.0/24") == [None, None, "10.1.0.0/16"]


# -- parent_prefix is the canonical text: str() of the ipaddress network.


def test_parent_text_is_canonical_not_as_stored() -> None:
    assert parents_of("10.1.2.3/16", "10.1.2.0/24") == [None, "10.1.0.0/16"]
    assert parents_of(" 10.0.0.0/255.0.0.0 ", "10.1.0.0/16") == [None, "10.0.0.0/8"]
    assert parents_of("2001:0DB8:0000::/32", "2001:db8:1::/48") == [None, "2001:db8::/32"]
    # IPv4-mapped IPv6: str() spells it "::ffff:0:0/96" up to Python 3.12 and
    # "::ffff:0.0.0.0/96" from 3.13 on; the output follows the running Python's str().
    mapped = str(ipaddress.ip_network("::ffff:0:0/96"))
    assert mapped in ("::ffff:0:0/96", "::ffff:0.0.0.0/96")
    assert parents_of("::ffff:0:0/96", "::ffff:10.0.0.0/104") == [None, mapped]


def test_empty_table() -> None:
    assert find_closest_parents([]) == ([], [])


# -- Property: the engine gives exactly what a brute-force pairwise search gives.


def brute_force_parents(values: list[object]) -> list[str | None]:
    """The specification as directly as it can be written: O(n^2), obviously right."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network | None] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            networks.append(None)
    parents: list[str | None] = []
    for network in networks:
        containing = [
            other
            for other in networks
            if network is not None
            and other is not None
            and other.version == network.version
            and other.prefixlen < network.prefixlen
            and network.subnet_of(other)  # type: ignore[arg-type] # same version, checked above
        ]
        longest = max(containing, key=lambda other: other.prefixlen, default=None)
        parents.append(None if longest is None else str(longest))
    return parents


def spelled(network: ipaddress.IPv4Network | ipaddress.IPv6Network, draw_style: int) -> str:
    """The same network written the ways a hand-kept table writes it."""
    styles = [
        str(network),
        str(network),
        f" {network} ",
        network.with_netmask,
        str(network).upper(),
        f"{network.network_address + (network.num_addresses - 1)}/{network.prefixlen}",
        network.exploded,
    ]
    return styles[draw_style % len(styles)]


@st.composite
def tables(draw: st.DrawFn) -> list[object]:
    """Random IPv4 and IPv6 trees in small address spaces (so networks nest often),
    written in varied forms, with duplicates and junk rows."""
    roots = [ipaddress.ip_network("10.0.0.0/16"), ipaddress.ip_network("2001:db8::/112")]
    values: list[object] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            values.append(
                draw(st.sampled_from([None, "", "junk", "10.0.0.0/33", "010.0.0.0/8", 7]))
            )
        elif kind == 1 and values:
            values.append(draw(st.sampled_from(values)))  # an exact duplicate row
        else:
            root = roots[kind % 2]
            extra_bits = draw(st.integers(0, 16))
            subnets = 2**extra_bits
            # Edges matter most: a block's first and last subnets touch its boundaries.
            index = draw(st.sampled_from([0, subnets - 1]) | st.integers(0, subnets - 1))
            prefixlen = root.prefixlen + extra_bits
            step = root.num_addresses // subnets
            address = root.network_address + index * step
            network = ipaddress.ip_network(f"{address}/{prefixlen}")
            if draw(st.booleans()):
                network = network.supernet(new_prefix=draw(st.integers(0, network.prefixlen)))
            values.append(spelled(network, draw(st.integers(0, 20))))
    return values


@given(tables())
def test_engine_matches_brute_force(values: list[object]) -> None:
    assert find_closest_parents(values).parents == brute_force_parents(values)
