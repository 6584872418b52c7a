"""Turn a stored prefix value into a compact network key, with exactly ``ipaddress``'s rules.

The rule for validity is ``ipaddress.ip_network(str(value).strip(), strict=False)``. Calling it
on every row costs several microseconds, so the common canonical text forms take a fast path
built on the C library's ``inet_pton``. The fast path only accepts text that is *exactly* the C
library's own rendering (``inet_ntop``) of the address it parsed, followed by a canonical prefix
length. Such text is a plain dotted quad, or lower-case hex groups with at most one ``::``, which
``ipaddress`` accepts with the same value. Everything else (leading zeros, upper case, netmask
form, bare addresses, scope ids, embedded IPv4 in IPv6, junk) goes to ``ipaddress`` itself, so
the fast path can only ever agree with it. ``ipam/tests/test_networks.py`` checks this with
hypothesis on adversarial strings.

A *network key* is one int that sorts like ``(version, network address, prefix length)``:
``version_bit << 136 | address << 8 | prefix_length`` with version_bit 0 for IPv4, 1 for IPv6.
One int per row sorts and hashes much faster than a tuple or an ``ipaddress`` object.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Union

__all__ = [
    "IPV6_BIT",
    "LENGTH_BITS",
    "network_key",
    "network_keys",
    "network_text",
]

LENGTH_BITS = 8  # prefix lengths 0..128 fit in 8 bits
IPV6_BIT = 1 << (128 + LENGTH_BITS)  # set in every IPv6 key, so IPv6 keys sort after IPv4 keys

# Canonical text only: "7", never "007" or "+7" (ipaddress takes those: the slow path does).
_IPV4_LENGTHS = {str(length): length for length in range(33)}
# The same, as ready-shifted parts of an IPv4 key: "10" -> 10 << 32 as a first octet, etc.
_IPV4_FIRST = {str(octet): octet << (24 + LENGTH_BITS) for octet in range(256)}
_IPV4_SECOND = {str(octet): octet << (16 + LENGTH_BITS) for octet in range(256)}
_IPV4_THIRD = {str(octet): octet << (8 + LENGTH_BITS) for octet in range(256)}
# "4/24" -> (the fourth octet's bits, the /24 netmask, 24), all in key position.
_IPV4_LAST = {
    f"{octet}/{length}": (
        octet << LENGTH_BITS,
        ((1 << 32) - (1 << (32 - length))) << LENGTH_BITS,
        length,
    )
    for octet in range(256)
    for length in range(33)
}
_IPV6_LENGTHS = {str(length): length for length in range(129)}
_LENGTH_MASK = (1 << LENGTH_BITS) - 1
_ALL_128_BITS = (1 << 128) - 1

# A key on success, a short reason on failure.
KeyOrReason = Union[int, str]


def network_keys(values: Iterable[object]) -> list[KeyOrReason]:
    """``network_key`` of every value, with the canonical IPv4 form inlined (most of 1M rows).

    The inline path splits ``a.b.c.d/len`` at the dots and looks the four parts up in tables
    that hold only canonical text ("7", never "007", " 7" or "+7"), so it answers exactly for
    the way ``ipaddress`` itself prints an IPv4 network, and agrees with it there. A failed
    lookup or split means "some other form": the value then goes through ``network_key``,
    which has the final word.
    """
    high, middle, low, last = _IPV4_FIRST, _IPV4_SECOND, _IPV4_THIRD, _IPV4_LAST
    keys: list[KeyOrReason] = []
    append = keys.append
    for value in values:
        try:
            first, second, third, fourth = value.split(".")  # type: ignore[attr-defined]
            fourth_bits, netmask, length = last[fourth]
            append((high[first] | middle[second] | low[third] | fourth_bits) & netmask | length)
        except (AttributeError, TypeError, ValueError, KeyError):
            append(network_key(value))
    return keys


def network_key(value: object) -> KeyOrReason:
    """The network key of a stored prefix value, or why it is not a valid network."""
    if value is None:
        return "prefix is NULL"
    text = str(value).strip()
    key = _canonical_text_key(text)
    if key is not None:
        return key
    return _ipaddress_key(text)


def _canonical_text_key(text: str) -> int | None:
    """The key of canonical ``address/length`` text, or None to let ipaddress decide."""
    address, _, length_text = text.partition("/")
    if ":" in address:
        if "." in address:  # embedded IPv4 (::ffff:1.2.3.4): inet_ntop and ipaddress differ
            return None
        family, lengths, version_bit = socket.AF_INET6, _IPV6_LENGTHS, IPV6_BIT
    else:
        family, lengths, version_bit = socket.AF_INET, _IPV4_LENGTHS, 0
    length = lengths.get(length_text)
    if length is None:
        return None
    try:
        packed = socket.inet_pton(family, address)
    except (OSError, ValueError):  # not an address; ValueError: embedded NUL character
        return None
    if socket.inet_ntop(family, packed) != address:  # not the canonical spelling
        return None
    bits = len(packed) * 8
    network = int.from_bytes(packed, "big") >> (bits - length) << (bits - length)
    return version_bit | network << LENGTH_BITS | length


def _ipaddress_key(text: str) -> KeyOrReason:
    """The slow, authoritative path: whatever ``ipaddress.ip_network`` says."""
    if not text:
        return "prefix is empty"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return _reason_for_invalid(text)
    version_bit = IPV6_BIT if network.version == 6 else 0
    return version_bit | int(network.network_address) << LENGTH_BITS | network.prefixlen


def _reason_for_invalid(text: str) -> str:
    """ipaddress's own message for the version the text looks like, e.g. 'Octet 300 (> 255)...'."""
    network_class = ipaddress.IPv6Network if ":" in text else ipaddress.IPv4Network
    try:
        network_class(text, strict=False)
    except ValueError as error:
        return f"not a valid IP network: {error}"
    return f"not a valid IP network: {text!r}"  # pragma: no cover - ip_network rejected it


def network_text(key: int) -> str:
    """The canonical text of a key's network: ``str()`` of the ``ipaddress`` network."""
    length = key & _LENGTH_MASK
    network = key >> LENGTH_BITS
    if key & IPV6_BIT:
        return str(ipaddress.IPv6Network((network & _ALL_128_BITS, length)))
    return f"{socket.inet_ntop(socket.AF_INET, network.to_bytes(4, 'big'))}/{length}"
