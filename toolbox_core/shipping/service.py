"""Pricing shipping options on the server, always outside a database transaction."""

from __future__ import annotations

from toolbox_core.asyncutil import resolve
from toolbox_core.errors import InvalidInput, ServiceUnavailable
from toolbox_core.providers import CartView, ShippingQuote


def quote_all(toolbox: object, cart: CartView) -> list[ShippingQuote]:
    """Every option every shipping provider offers for ``cart`` (a failing provider is skipped)."""
    quotes: list[ShippingQuote] = []
    for provider in toolbox.shipping_providers.values():  # type: ignore[attr-defined]
        try:
            quotes.extend(resolve(provider.quote(cart)))
        except Exception:
            continue
    return quotes


def quote_one(toolbox: object, cart: CartView, provider_id: str, option_id: str) -> ShippingQuote:
    """The server-side price of one option; 422 when the provider or option is unknown."""
    provider = toolbox.shipping_providers.get(provider_id)  # type: ignore[attr-defined]
    if provider is None:
        raise InvalidInput(f"unknown shipping provider {provider_id!r}", code="unknown_shipping_provider")
    try:
        quotes = list(resolve(provider.quote(cart)))
    except Exception as exc:
        raise ServiceUnavailable(f"shipping provider {provider_id!r} failed to quote", code="shipping_unavailable") from exc
    for quote in quotes:
        if quote.option_id == option_id:
            if not isinstance(quote.amount, int) or quote.amount < 0:
                raise ServiceUnavailable("shipping provider returned an invalid price", code="shipping_unavailable")
            return quote
    raise InvalidInput(f"shipping option {option_id!r} is not available for this cart", code="unknown_shipping_option")
