"""Built-in plugin: the kernel's shipping providers."""

from __future__ import annotations

from typing import Any

from toolbox_core.plugins import hookimpl
from toolbox_core.shipping.providers import FlatRateProvider, PickupProvider

PLUGIN_NAME = "core.shipping"


@hookimpl
def shipping_providers(toolbox: Any) -> list[Any]:
    checkout = toolbox.settings.checkout
    default = toolbox.settings.default_locale
    providers: list[Any] = [PickupProvider(checkout.pickup_shipping_name, default)]
    if checkout.flat_shipping_price is not None:
        providers.append(FlatRateProvider(checkout.flat_shipping_price, checkout.flat_shipping_name, default))
    return providers
