"""Where a webhook may be sent: the target's host resolved at each delivery, refused when an
address is not public (private, loopback, link-local — cloud metadata —, reserved, shared), and
the request sent to the very address checked.

A subscription's URL is checked when it is written, but a name that resolved to a public
address then may resolve to an internal one at delivery (DNS rebinding). So the worker resolves
the name itself, checks every address, and connects to the checked one — the URL's host
replaced by that address, the name kept in the ``Host`` header and, for https, as the TLS
server name (SNI, and the name the certificate is verified against): no second resolution can
switch it. Loopback addresses are allowed outside production only (tests, a developer's
receiver).
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


def allowed(address: Address, *, allow_loopback: bool) -> bool:
    """A public address, or a loopback one where loopback is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
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
