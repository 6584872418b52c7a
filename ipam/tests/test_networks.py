"""The fast parser must agree with ipaddress on every string, canonical or not."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ipam.networks import (
    IPV6_BIT,
    LENGTH_BITS,
    network_key,
    network_keys,
    network_text,
)


def ipaddress_key(value: object) -> int | None:
    """The specification, written the slow way: the key ipaddress gives, or None if invalid."""
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        return None
    if "%" in str(value):
        return None  # a zone id: refused, not merged with the network of another link
    version_bit = IPV6_BIT if network.version == 6 else 0
    return version_bit | int(network.network_address) << LENGTH_BITS | network.prefixlen


def assert_agrees_with_ipaddress(value: object) -> None:
    expected = ipaddress_key(value)
    batch = network_keys([value])
    for got in (network_key(value), batch.keys[0]):
        if expected is None:
            assert isinstance(got, str), f"{value!r} should be invalid, got key {got}"
        else:
            assert got == expected, f"{value!r}: {got!r} != {expected}"
    assert batch.invalid_rows == ([] if expected is not None else [0])


ipv4_networks = st.builds(
    ipaddress.IPv4Network,
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)),
    strict=st.just(False),
)
ipv6_networks = st.builds(
    ipaddress.IPv6Network,
    st.tuples(
        st.one_of(
            st.integers(0, 2**128 - 1),
            st.integers(0, 2**32 - 1),  # ::a.b.c.d and friends: many zero groups
            st.integers(0, 2**32 - 1).map(lambda low: 0xFFFF << 32 | low),  # IPv4-mapped
            st.integers(0, 2**16 - 1).map(lambda group: group << 112),
        ),
        st.integers(0, 128),
    ),
    strict=st.just(False),
)


@given(st.one_of(ipv4_networks, ipv6_networks))
def test_canonical_text_of_every_network_takes_the_key_of_ipaddress(network) -> None:
    assert_agrees_with_ipaddress(str(network))
    assert_agrees_with_ipaddress(network.with_netmask)
    assert_agrees_with_ipaddress(str(network).upper())
    assert_agrees_with_ipaddress(f"  {network.exploded}\t")
    assert_agrees_with_ipaddress(str(network.network_address))


@given(st.one_of(ipv4_networks, ipv6_networks))
def test_network_text_is_what_ipaddress_prints(network) -> None:
    key = ipaddress_key(str(network))
    assert key is not None
    assert network_text(key) == str(network)


# Adversarial strings: the characters every address syntax is made of, in any order.
address_alphabet = st.sampled_from([*"0123456789abcdefABCDEF.:/%x+- \t\n", "\u0661", "\x00"])


@given(st.text(address_alphabet, max_size=45))
@example("1.2.3.4/24")
@example("01.2.3.4/24")
@example("1.2.3.4/024")
@example("1.2.3.4/+24")
@example("1.2.3.4/ 24")
@example("1.2.3.04/24")
@example("1.2.3.256/24")
@example("1.2.3/24")
@example("1.2.3.4.5/24")
@example("1.2.3.4/33")
@example("1.2.3.4/")
@example("1.2.3.4//24")
@example("1.2.3.4/24/24")
@example("1.2/24")
@example("1.2.3.4/2.4")
@example("1..2.3/24")
@example(".1.2.3/24")
@example("1.2.3./24")
@example("1.2 .3.4/24")
@example("::/0")
@example("::/129")
@example("1:2:3:4:5:6:7::/64")
@example("1::2:3:4:5:6:7:8/64")
@example("::ffff:1.2.3.4/120")
@example("::1.2.3.4/120")
@example("fe80::1%eth0/64")
@example("fe80::%1")
@example("fe80::%eth0/64")
@example("fe80::%0/64")
@example("fe80::1%eth1/128")
@example("fe80::%/64")
@example("00001::/16")
@example(":1::/16")
@example("1:::/16")
@example("\u0661.2.3.4/8")
@example("1.2.3.4/\u0662\u0664")
@example("1.2.3.4\x00/24")
@example("10.0.0.0\n/8")
def test_any_string_is_judged_exactly_as_ipaddress_judges_it(text: str) -> None:
    assert_agrees_with_ipaddress(text)


@given(
    st.lists(
        st.integers(0, 255).map(str) | st.sampled_from(["00", "01", "256", "", " 1", "1 ", "+1"]),
        min_size=3,
        max_size=5,
    ),
    st.integers(-1, 40).map(str) | st.sampled_from(["", "08", " 8", "8 "]),
)
def test_dotted_quads_near_the_canonical_form(octets: list[str], length: str) -> None:
    assert_agrees_with_ipaddress(".".join(octets) + "/" + length)
    assert_agrees_with_ipaddress(".".join(octets))


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", 5, 3.5, b"10.0.0.0/8", bytearray(b"1"), "10.0.0.0/8", " 10.0.0.0/8 "],
)
def test_values_of_any_sqlite_type_follow_str_of_the_value(value: object) -> None:
    assert_agrees_with_ipaddress(value)


def test_invalid_rows_are_listed_in_row_order_whichever_path_found_them() -> None:
    values = ["10.0.0.0/8", None, "10.0.0.0/33", " 10.0.0.0/8", "2001:db8::/32", "gggg::/16", 7]
    batch = network_keys(values)
    assert batch.invalid_rows == [1, 2, 5, 6]
    invalid = [isinstance(key, str) for key in batch.keys]
    assert invalid == [False, True, True, False, False, True, True]


def test_reasons_say_what_is_wrong() -> None:
    assert network_key(None) == "prefix is NULL"
    assert network_key("") == "prefix is empty"
    assert network_key("  ") == "prefix is empty"
    assert "300" in network_key("300.1.1.0/24")  # type: ignore[operator]
    assert "33" in network_key("10.0.0.0/33")  # type: ignore[operator]
    assert "Leading zeros" in network_key("010.0.0.0/8")  # type: ignore[operator]
    assert "not-a-prefix" in network_key("not-a-prefix")  # type: ignore[operator]
    assert "gggg" in network_key("gggg::/16")  # type: ignore[operator]
    assert network_key(" fe80::1%eth1/64") == (
        "not a valid IP network: zone id %eth1 (names a link of one host, not a network)"
    )


# Behaviour no other test pinned down: each test fails when a mutation of the code survives.


def test_an_invalid_ipv6_looking_value_gets_the_ipv6_reason() -> None:
    """A value with a colon is judged as IPv6, so the reason names the IPv6 rule it breaks."""
    assert network_key("1::2::3/64") == (
        "not a valid IP network: At most one '::' permitted in '1::2::3'"
    )
    assert network_key("10.0.0.300/8") == (
        "not a valid IP network: Octet 300 (> 255) not permitted in '10.0.0.300'"
    )


CANONICAL = [
    "10.0.0.0/8",
    "0.0.0.0/0",
    "255.255.255.255/32",
    "10.10.1.7/24",  # host bits set: the key is the network's
    "2001:db8::/32",
    "::/0",
    "::1/128",
    "fe80::1:2/64",
    "2001:db8:0:1:2:3:4:5/128",
]


def test_the_fast_path_answers_every_canonical_form_without_ipaddress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slow path (network_key) gives the same keys, so a fast path switched off, or one
    that raises (say int.from_bytes without "big", which only Python 3.9 and 3.10 refuse),
    would hide behind it: canonical text must never reach it."""
    slow: list[object] = []

    def counting_network_key(value: object) -> object:
        slow.append(value)
        return network_key(value)

    monkeypatch.setattr("ipam.networks.network_key", counting_network_key)
    batch = network_keys(CANONICAL)
    assert slow == []
    assert batch.keys == [ipaddress_key(value) for value in CANONICAL]
    others = ["10.0.0.0/255.0.0.0", "010.0.0.0/8", "2001:DB8::/32", "1:0::/16", " ::/0", None]
    network_keys(others)
    assert slow == others
