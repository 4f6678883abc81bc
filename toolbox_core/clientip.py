"""The client's address as rate limits count it, behind trusted reverse proxies or not.

With ``http.trusted_proxies`` set, the app is wrapped in uvicorn's ``ProxyHeadersMiddleware``
(``toolbox serve`` turns uvicorn's own copy off), so under any ASGI server
``request.client`` is the rightmost ``X-Forwarded-For`` hop that is not a trusted proxy, and the
header is ignored when the peer is not a trusted proxy. Without the setting the direct peer is
the client. IPv6 clients are counted per /64: one subscriber usually holds a whole /64.
"""

from __future__ import annotations

import ipaddress
from typing import Any

#: Prefix length IPv6 addresses are grouped by for rate limits.
IPV6_BUCKET_PREFIX = 64
#: Longest address text kept when the peer is not an IP address (a Unix socket path).
MAX_LITERAL = 64


def client_ip(request: Any) -> str:
    """The client's address (after trusted-proxy resolution), or ``"unknown"``."""
    return request.client.host if request.client and request.client.host else "unknown"


def address_bucket(address: str) -> str:
    """The rate-limit bucket of ``address``: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:MAX_LITERAL] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_BUCKET_PREFIX), strict=False))
    return str(ip)


def install_proxy_headers(app: Any, trusted_proxies: list[str]) -> None:
    """Believe ``X-Forwarded-For``/``-Proto`` from ``trusted_proxies`` only (nothing if empty)."""
    if not trusted_proxies:
        return
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))
