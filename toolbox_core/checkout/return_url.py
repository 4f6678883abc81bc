"""Where a payment gateway may send the shopper back: only to the store's own storefront."""

from __future__ import annotations

from urllib.parse import urlsplit

from toolbox_core.config import Settings
from toolbox_core.errors import InvalidInput


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (lower-cased), or ``""`` when it has none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def allowed_return_url(settings: Settings, url: str | None) -> str | None:
    """``url`` if it points to a configured storefront origin; 422 ``return_url_not_allowed``
    otherwise (an open redirect after payment is a phishing tool)."""
    if url is None:
        return None
    allowed = settings.return_url_origins
    try:
        origin = origin_of(url)
    except ValueError:  # a bad port, an unbalanced IPv6 bracket
        origin = ""
    if origin and origin in {o.lower() for o in allowed}:
        return url
    hint = (f"use a URL on {', '.join(allowed)}" if allowed else
            "no storefront origin is configured: set TOOLBOX_STOREFRONT_ORIGINS=https://your-shop.uz")
    raise InvalidInput(f"return_url must point to the storefront; {hint}", code="return_url_not_allowed",
                       details={"allowed_origins": allowed})
