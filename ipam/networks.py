"""Turn stored prefix values into compact network keys, with exactly ``ipaddress``'s rules.

Validity is defined as ``ipaddress.ip_network(str(value).strip(), strict=False)``, minus IPv6
zone ids (``fe80::%eth0/64``): a zone names a link of one host, which a network key (an int) cannot
hold, so a zoned value is invalid, saying so, rather than merged with the same network of
another link (``ipaddress`` keeps ``fe80::%eth0/64`` and ``fe80::%eth1/64`` apart). Calling that
on every row costs several microseconds, so the canonical text forms that make up nearly every
real table take a fast path that can only ever agree with it:

- IPv4 ``a.b.c.d/len``: three parts, "a.b", "c" and "d/len", looked up in tables that hold only
  canonical decimal text ("7", never "007", " 7", "+7" or an Arabic-Indic seven), a length 0-32
  likewise. That is how ``ipaddress`` prints an IPv4 network, and it parses such text to the
  same number.
- IPv6 ``address/len``: ``socket.inet_pton`` parses the address, and the text is accepted only
  if it is exactly ``inet_ntop``'s own rendering of the result (lower case, no leading zeros,
  ``::`` where RFC 5952 puts it), with a canonical length 0-128. ``ipaddress`` accepts every
  such rendering with the same value.

Anything else (upper case, leading zeros, netmask or hostmask form, a bare address, spaces,
a zone id, junk, non-text values) goes to ``ipaddress`` itself (``inet_ntop`` never writes a
zone, so a zoned text never passes the IPv6 check). ``ipam/tests/test_networks.py``
checks the agreement with hypothesis, adversarial strings included.

A *network key* is one int that sorts like ``(version, network address, prefix length)``:
``version_bit << 136 | network address << 8 | prefix length``, version_bit 0 for IPv4 and 1
for IPv6. One int per row sorts much faster than a tuple or an ``ipaddress`` object.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import NamedTuple, Union

LENGTH_BITS = 8  # prefix lengths 0..128 fit in 8 bits
IPV6_BIT = 1 << (128 + LENGTH_BITS)  # set in every IPv6 key, so IPv6 keys sort after IPv4 keys

LENGTH_MASK = (1 << LENGTH_BITS) - 1
# What to OR into a key to get the key of its network's last address with length byte 255, e.g.
# 0xff << 8 | 0xff for an IPv4 /24. Such "end keys" compare with keys directly: a network has
# ended before another starts exactly when its end key is smaller than the other's key.
IPV4_END_BITS = [((1 << (32 - length)) - 1) << LENGTH_BITS | LENGTH_MASK for length in range(33)]
IPV6_END_BITS = [((1 << (128 - length)) - 1) << LENGTH_BITS | LENGTH_MASK for length in range(129)]
NEVER_ENDS = IPV6_BIT << 1  # larger than every key: the end key of "no parent"
ADDRESS_BITS = (1 << 128) - 1  # a key's address, once shifted down past its length byte

# Canonical text only, already shifted into key position: "10.7" -> (10 << 8 | 7) << 16 as the
# first two octets, "3" -> 3 << 8 as the third. The 65,536 "a.b" halves (a few MB, built once)
# save a fourth string and a fourth lookup per row over splitting at every dot.
_IPV4_HALVES = {
    f"{first}.{second}": (first << 8 | second) << (16 + LENGTH_BITS)
    for first in range(256)
    for second in range(256)
}
_IPV4_THIRD = {str(octet): octet << (8 + LENGTH_BITS) for octet in range(256)}
# "4/24" -> (fourth octet and length, /24 netmask), in key position. The netmask keeps the
# length byte, so one AND both clears the host bits and keeps the length: a key in two steps.
_IPV4_LAST = {
    f"{octet}/{length}": (
        octet << LENGTH_BITS | length,
        ((1 << 32) - (1 << (32 - length))) << LENGTH_BITS | LENGTH_MASK,
    )
    for octet in range(256)
    for length in range(33)
}
# The same halves the other way round, by value: IPV4_HALF_TEXTS[10 << 8 | 7] == "10.7".
IPV4_HALF_TEXTS = list(_IPV4_HALVES)
# "48" -> (the /48 netmask, 48).
_IPV6_LENGTHS = {
    str(length): (((1 << 128) - (1 << (128 - length))), length) for length in range(129)
}

# A key on success, a short reason on failure.
KeyOrReason = Union[int, str]


class NetworkKeys(NamedTuple):
    """``network_key`` of every row, and the rows whose value is invalid (key = the reason)."""

    keys: list[KeyOrReason]
    invalid_rows: list[int]  # in row order; empty for a clean table, so callers can skip work


def network_keys(values: Iterable[object]) -> NetworkKeys:
    """``network_key`` of every value, with both fast paths inlined (they run 1M times).

    Any exception in a fast path, or an IPv6 text that is not ``inet_ntop``'s rendering,
    just means "not a canonical form": the value then goes to ``network_key``, which has the
    final word.
    """
    halves, third_octets, last_parts = _IPV4_HALVES, _IPV4_THIRD, _IPV4_LAST
    ipv6_lengths = _IPV6_LENGTHS
    inet_pton, inet_ntop, ipv6 = socket.inet_pton, socket.inet_ntop, socket.AF_INET6
    from_bytes = int.from_bytes
    keys: list[KeyOrReason] = []
    invalid_rows: list[int] = []
    append = keys.append
    for value in values:
        try:
            if ":" in value:  # type: ignore[operator]
                address, _, length_text = value.partition("/")  # type: ignore[attr-defined]
                netmask, length = ipv6_lengths[length_text]
                packed = inet_pton(ipv6, address)
                if inet_ntop(ipv6, packed) == address:
                    network = from_bytes(packed, "big") & netmask
                    append(IPV6_BIT | network << LENGTH_BITS | length)
                    continue
            else:
                # Exact: with exactly three dots the parts are "a.b", "c", "d/len"; with fewer a
                # part is missing (ValueError), with more "a.b" holds another dot (KeyError).
                half, third, last = value.rsplit(".", 2)  # type: ignore[attr-defined]
                fourth_and_length, netmask = last_parts[last]
                append((halves[half] | third_octets[third] | fourth_and_length) & netmask)
                continue
        except (TypeError, AttributeError, ValueError, KeyError, OSError):
            pass
        key = network_key(value)
        if type(key) is str:  # only the slow path can find a value invalid
            invalid_rows.append(len(keys))
        append(key)
    return NetworkKeys(keys, invalid_rows)


def network_key(value: object) -> KeyOrReason:
    """The network key of one stored prefix value, or why it is not a valid network."""
    if value is None:
        return "prefix is NULL"
    text = str(value).strip()
    if not text:
        return "prefix is empty"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return _reason_for_invalid(text)
    if "%" in text:  # only IPv6 takes one; the network address drops it when host bits are set
        zone = text.partition("%")[2].partition("/")[0]
        return f"not a valid IP network: zone id %{zone} (names a link of one host, not a network)"
    version_bit = IPV6_BIT if network.version == 6 else 0
    return version_bit | int(network.network_address) << LENGTH_BITS | network.prefixlen


def _reason_for_invalid(text: str) -> str:
    """ipaddress's message for the version the text looks like, e.g. 'Octet 300 (> 255)...'."""
    network_class = ipaddress.IPv6Network if ":" in text else ipaddress.IPv4Network
    try:
        network_class(text, strict=False)
    except ValueError as error:
        return f"not a valid IP network: {error}"
    return f"not a valid IP network: {text!r}"  # pragma: no cover - ip_network rejected it


def network_text(key: int) -> str:
    """The canonical text of a key's network: ``str()`` of the ``ipaddress`` network.

    ``inet_ntop`` writes what ``ipaddress`` writes, except for the IPv6 forms with an embedded
    IPv4 address (``::ffff:1.2.3.4``), whose spelling depends on the Python version: those go
    to ``ipaddress`` itself.
    """
    length = key & LENGTH_MASK
    if not key & IPV6_BIT:  # the octets sit right above the length byte: "a.b" and "c.d" texts
        half_texts = IPV4_HALF_TEXTS  # two list lookups instead of formatting four numbers
        return f"{half_texts[key >> 24]}.{half_texts[key >> 8 & 0xFFFF]}/{length}"
    network = (key >> LENGTH_BITS) & ADDRESS_BITS
    address = socket.inet_ntop(socket.AF_INET6, network.to_bytes(16, "big"))
    if "." in address:
        return str(ipaddress.IPv6Network((network, length)))
    return f"{address}/{length}"
