"""Where a payment gateway may send the shopper back: only to the store's own storefront."""

from __future__ import annotations

from urllib.parse import urlsplit

from toolbox_core.config import Settings
from toolbox_core.errors import InvalidInput

#: The port a scheme means when a URL names none (``https://shop.uz:443`` is ``https://shop.uz``).
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (lower-cased, the scheme's default port left out), or
    ``""`` when it has none or it cannot be read."""
    try:
        parts = urlsplit(url)
        scheme, port = parts.scheme.lower(), parts.port
    except ValueError:  # a bad port, an unbalanced IPv6 bracket
        return ""
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return ""
    shown = f":{port}" if port and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{parts.hostname.lower()}{shown}"


def allowed_return_url(settings: Settings, url: str | None) -> str | None:
    """``url`` if it points to a configured storefront origin; 422 ``return_url_not_allowed``
    otherwise (an open redirect after payment is a phishing tool)."""
    if url is None:
        return None
    allowed = settings.return_url_origins
    origin = origin_of(url)
    if origin and origin in {origin_of(o) for o in allowed}:
        return url
    hint = (f"use a URL on {', '.join(allowed)}" if allowed else
            "no storefront origin is configured: set TOOLBOX_STOREFRONT_ORIGINS=https://your-shop.uz")
    raise InvalidInput(f"return_url must point to the storefront; {hint}", code="return_url_not_allowed",
                       details={"allowed_origins": allowed})
