"""``api``: how the API server sees its clients."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from vigil.config.base import StrictModel


def _network(value: Any) -> Any:
    """An address or CIDR block; a block with host bits set is refused, not silently widened."""
    if not isinstance(value, str):
        return value
    try:
        return ip_network(value.strip())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address or CIDR block such as 10.0.0.0/8 ({exc})") from None


Network = Annotated[IPv4Network | IPv6Network, BeforeValidator(_network)]


class ApiConfig(StrictModel):
    """The API and UI server (``vigil serve``)."""

    trusted_proxies: tuple[Network, ...] = Field(
        default=(),
        max_length=256,
        description=(
            "Reverse proxies (addresses or CIDR blocks, e.g. 10.0.0.0/8) whose X-Forwarded-For and "
            "X-Forwarded-Proto headers are believed. From any other peer these headers are ignored: "
            "the client is the peer address. Empty (the default): no proxy is trusted."
        ),
    )
