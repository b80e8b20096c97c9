"""Where a webhook may be sent: the target's host resolved at each delivery, refused when an
address is not public (private, loopback, link-local — cloud metadata —, reserved, shared), and
the request sent to the very address checked.

A subscription's URL is checked when it is written, but a name that resolved to a public
address then may resolve to an internal one at delivery (DNS rebinding). So the worker resolves
the name itself, checks every address, and connects to the checked one — the URL's host
replaced by that address, the name kept in the ``Host`` header and, for https, as the TLS
server name (SNI, and the name the certificate is verified against): no second resolution can
switch it. Loopback addresses are allowed outside production only (tests, a developer's
receiver). An IPv6 address embedding an IPv4 one (NAT64, 6to4, IPv4-compatible or -translated)
is judged by that IPv4 address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The target cannot be called: a stable code (the address is never in the message)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


#: The host resolves to an address that is not public.
INTERNAL = "adresse_interne"
#: The host does not resolve.
UNRESOLVED = "nom_introuvable"


@dataclass(frozen=True, slots=True)
class Pinned:
    """The request to send: to the checked address, under the target's name."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any] = field(default_factory=dict)


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (the resolver the tests replace)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found)
    )


#: IPv6 addresses that carry an IPv4 address in their last 32 bits, reaching it through a
#: translator or a tunnel: NAT64 (RFC 6052), IPv4-translated (RFC 2765), IPv4-compatible.
_EMBEDDING = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("::/96"),
)
#: Local-use NAT64 (RFC 8215): a translator of the operator's own network, never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translator or a 6to4 tunnel."""
    if address.sixtofour is not None:  # 2002:a.b.c.d::/48
        return address.sixtofour
    if address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return None
    for network in _EMBEDDING:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def allowed(address: Address, *, allow_loopback: bool) -> bool:
    """A public address, or a loopback one where loopback is allowed; an IPv6 address that
    embeds an IPv4 one (NAT64, 6to4, IPv4-compatible or -translated) only when that IPv4
    address is public, and never one of local-use NAT64."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
        elif address in _LOCAL_NAT64:
            return False
        else:
            embedded = _embedded(address)
            if embedded is not None:
                return allowed(embedded, allow_loopback=False)
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def pin(url: str, *, allow_loopback: bool) -> Pinned:
    """The request for ``url`` at an address checked now; :class:`AddressRefused` when its
    host does not resolve or one of its addresses is not allowed."""
    target = httpx.URL(url)
    host = target.raw_host.decode("ascii")
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise AddressRefused(UNRESOLVED) from None
    if not addresses:
        raise AddressRefused(UNRESOLVED)
    if not all(allowed(address, allow_loopback=allow_loopback) for address in addresses):
        raise AddressRefused(INTERNAL)
    checked = addresses[0]
    extensions: dict[str, Any] = {}
    if target.scheme == "https" and literal is None:
        extensions["sni_hostname"] = host
    return Pinned(
        url=target.copy_with(host=str(checked)),
        headers={"host": target.netloc.decode("ascii")},
        extensions=extensions,
    )
