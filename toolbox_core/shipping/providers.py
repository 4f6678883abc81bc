"""The kernel's own shipping providers: ``pickup`` (free) and ``flat`` (a configured price).

``name`` is the provider's (operators'); the option names shoppers see are per locale (``checkout.pickup_shipping_name`` / ``checkout.flat_shipping_name``,
defaults in :data:`toolbox_core.texts.SHIPPING_NAMES`), picked by the cart's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolbox_core.i18n import localized_text
from toolbox_core.providers import CartView, ShippingQuote
from toolbox_core.texts import SHIPPING_NAMES, LocalizedText


@dataclass
class PickupProvider:
    """Collect the order at the store; free, no address needed."""

    option_name: LocalizedText = field(default_factory=lambda: dict(SHIPPING_NAMES["pickup"]))
    default_locale: str = "ru"
    id: str = "pickup"
    name: str = "Pickup from store"
    #: Free, from settings: quoted on the event loop (``providers.is_local``).
    local: bool = True

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        name = localized_text(self.option_name, cart.locale, self.default_locale)
        return [ShippingQuote(self.id, "pickup", name, 0, requires_address=False)]


@dataclass
class FlatRateProvider:
    """Courier delivery at one configured price (``TOOLBOX_CHECKOUT__FLAT_SHIPPING_PRICE``)."""

    price: int
    option_name: LocalizedText = field(default_factory=lambda: dict(SHIPPING_NAMES["flat"]))
    default_locale: str = "ru"
    id: str = "flat"
    name: str = "Courier"
    #: A price from settings: quoted on the event loop (``providers.is_local``).
    local: bool = True

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        name = localized_text(self.option_name, cart.locale, self.default_locale)
        return [ShippingQuote(self.id, "flat", name, self.price)]
