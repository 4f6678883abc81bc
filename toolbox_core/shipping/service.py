"""Pricing shipping options on the server, always outside a database transaction.

Providers quote concurrently, each within ``checkout.shipping_quote_timeout_seconds``: a slow
or failing provider is logged and left out, never holding up the others. A provider that
declares itself ``local`` (:func:`~toolbox_core.providers.is_local`: a flat rate, a table in
settings) is asked directly, in the caller's thread: it has nothing to wait for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any, TypeVar

from toolbox_core.asyncutil import resolve
from toolbox_core.errors import InvalidInput, ServiceUnavailable, ToolboxError
from toolbox_core.providers import CartView, ShippingQuote, is_local, supports

log = logging.getLogger("toolbox.shipping")
T = TypeVar("T")

#: Shared by every quote in this process; a provider that hangs past its timeout keeps a
#: thread until it returns, so the pool is sized for a few stuck providers.
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="toolbox-quote")


def _timeout(toolbox: Any) -> float:
    return float(toolbox.settings.checkout.shipping_quote_timeout_seconds)


def _quote(provider: Any, cart: CartView) -> list[ShippingQuote]:
    return list(resolve(provider.quote(cart)))


def quote_all(toolbox: Any, cart: CartView) -> list[ShippingQuote]:
    """Every option every shipping provider offers for ``cart``, in the providers' order; failing
    or slow providers are skipped."""
    providers = list(toolbox.shipping_providers.values())
    futures: dict[int, Future[list[ShippingQuote]]] = {
        n: _pool.submit(_quote, provider, cart) for n, provider in enumerate(providers) if not is_local(provider, "quote")
    }
    timeout = _timeout(toolbox)
    deadline = time.monotonic() + timeout
    quoted: list[list[ShippingQuote]] = []
    for n, provider in enumerate(providers):  # the pool's all run at once, all within the one deadline
        try:
            future = futures.get(n)
            quoted.append(_quote(provider, cart) if future is None else
                          future.result(timeout=max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            log.warning("shipping provider %r did not quote within %.1fs; left out", provider.id, timeout)
        except Exception:
            log.exception("shipping provider %r failed to quote; left out", provider.id)
    return [quote for quotes in quoted for quote in quotes]


def quotes_of(toolbox: Any, provider: Any, cart: CartView) -> list[ShippingQuote]:
    """The options one provider quotes for ``cart``, within the quote timeout (its errors raised)."""
    return _ask(toolbox, provider, "quote", _quote, cart)


def _ask(toolbox: Any, provider: Any, method: str, call: Callable[..., T], *args: Any) -> T:
    """``call(provider, *args)``, which calls the provider's ``method``: right here when that
    method is local, else in the pool within the quote timeout (its errors raised)."""
    if is_local(provider, method):
        return call(provider, *args)
    return _pool.submit(call, provider, *args).result(timeout=_timeout(toolbox))


def quote_one(toolbox: Any, cart: CartView, provider_id: str, option_id: str,
              data: dict[str, Any] | None = None) -> ShippingQuote:
    """The server-side price of one option; 422 when the provider, option or its data is bad.

    ``data`` is what the client sent with its choice (a pickup branch). With data, the
    provider's ``validate_option(cart, option_id, data)`` checks it and prices the option for it
    (a branch may be in another city than the address); a provider without ``validate_option``
    accepts no data. Without data, the option is taken from the provider's ``quote``.
    """
    provider = toolbox.shipping_providers.get(provider_id)
    if provider is None:
        raise InvalidInput(f"unknown shipping provider {provider_id!r}", code="unknown_shipping_provider")
    if data and not supports(provider, "validate_option"):
        raise InvalidInput(f"shipping option {option_id!r} takes no data", code="invalid_shipping_data")
    try:
        if data:
            quotes = [_ask(toolbox, provider, "validate_option", _validate, cart, option_id, dict(data))]
        else:
            quotes = quotes_of(toolbox, provider, cart)
    except ToolboxError:
        raise
    except Exception as exc:
        log.warning("shipping provider %r failed to quote: %s", provider_id, type(exc).__name__)
        raise ServiceUnavailable(f"shipping provider {provider_id!r} failed to quote",
                                 code="shipping_unavailable") from exc
    quote = next((q for q in quotes if q.option_id == option_id), None)
    if quote is None:
        raise InvalidInput(f"shipping option {option_id!r} is not available for this cart",
                           code="unknown_shipping_option")
    if not data and quote.requires_data:
        raise InvalidInput(f"shipping option {option_id!r} needs: {', '.join(quote.requires_data)}",
                           code="shipping_data_required", details={"required": list(quote.requires_data)})
    if quote.provider_id != provider_id:
        quote = replace(quote, provider_id=provider_id)
    if not isinstance(quote.amount, int) or isinstance(quote.amount, bool) or quote.amount < 0:
        raise ServiceUnavailable("shipping provider returned an invalid price", code="shipping_unavailable")
    return quote


def _validate(provider: Any, cart: CartView, option_id: str, data: dict[str, Any]) -> ShippingQuote:
    return resolve(provider.validate_option(cart, option_id, data))
