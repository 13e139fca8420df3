"""Which client a request comes from, as the sign-in limits count it: the address the request
came from (through the trusted proxies only), and the group of addresses counted as one client.
"""

from __future__ import annotations

import ipaddress

# An IPv6 client is counted by this prefix: one subscriber or host is usually given a whole
# /64, so counting its addresses one by one would give an attacker 2**64 fresh starts.
IPV6_CLIENT_PREFIX = 64
# How much of a client "address" that is not an IP address (a proxy's odd header) is kept.
MAX_ADDRESS_LENGTH = 64


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address: the socket's peer, or with N trusted proxies in front, the
    address N hops back in X-Forwarded-For (what the outermost trusted proxy saw)."""
    if trusted_proxies and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            return hops[-min(trusted_proxies, len(hops))]
    return peer or "unknown"


def address_group(address: str) -> str:
    """The addresses counted as one client for sign-in limits: an IPv4 address by itself (also
    when written as IPv4-mapped IPv6), an IPv6 address by its /64, anything else as given
    (cut to MAX_ADDRESS_LENGTH characters)."""
    text = address.strip()
    # Some proxies add the port ("203.0.113.9:4711", "[2001:db8::1]:4711"): a new one for each
    # connection, so it must not make a new client.
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return address[:MAX_ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)
