"""Who the client is when Vigil runs behind reverse proxies, believed only from those proxies.

``X-Forwarded-For`` is a list of hops each proxy appends to; anyone can send one. It is read only
when the TCP peer is in ``api.trusted_proxies``, and then from the right: the first address that
is not itself a trusted proxy is the client. (Reading from the left, as naive code does, lets a
client choose its own address, and with it dodge sign-in lockouts or frame another address.)
``X-Forwarded-Proto`` from the nearest trusted proxy tells whether the client used HTTPS, which
makes cookies ``Secure`` (:mod:`vigil.http.cookies`) and turns on HSTS.

The server itself must not rewrite these first: ``vigil serve`` runs uvicorn with
``proxy_headers=False`` (uvicorn otherwise believes them from 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Address = IPv4Address | IPv6Address

MAX_HOPS = 32
"""Hops read from the right of X-Forwarded-For at most (a longer chain is someone's invention)."""


def parse_address(text: str) -> Address | None:
    """An address from a forwarded hop (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """ASGI middleware: set ``scope["client"]`` and ``scope["scheme"]`` from forwarded headers sent
    by a trusted proxy; from anyone else leave them as the connection says."""

    def __init__(self, app: ASGIApp, networks: Sequence[IPv4Network | IPv6Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    def trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self.networks)

    def client_of(self, peer: Address, forwarded_for: Sequence[str]) -> Address:
        """The client behind ``peer`` (a trusted proxy), walking the hops right to left."""
        hops = [h for value in forwarded_for for h in value.split(",") if h.strip()][-MAX_HOPS:]
        client = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break  # a hop nobody trusted wrote garbage: the last good hop is the client
            client = address
            if not self.trusted(address):
                break
        return client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.networks:
            await self.app(scope, receive, send)
            return
        peer_info = scope.get("client")
        peer = parse_address(str(peer_info[0])) if peer_info else None
        if peer is None or not self.trusted(peer):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        forwarded_for = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-forwarded-for"]
        protos = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-forwarded-proto"]
        scope = dict(scope)
        if forwarded_for:
            scope["client"] = (str(self.client_of(peer, forwarded_for)), 0)
        proto = protos[-1].split(",")[-1].strip().lower() if protos else ""
        if proto in ("http", "https"):
            secure = proto == "https"
            scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else proto
        await self.app(scope, receive, send)
