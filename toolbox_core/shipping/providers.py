"""The kernel's own shipping providers: ``pickup`` (free) and ``flat`` (a configured price)."""

from __future__ import annotations

from dataclasses import dataclass

from toolbox_core.providers import CartView, ShippingQuote


@dataclass
class PickupProvider:
    """Collect the order at the store; free, no address needed."""

    id: str = "pickup"
    name: str = "Pickup from store"

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        return [ShippingQuote(self.id, "pickup", self.name, 0, requires_address=False)]


@dataclass
class FlatRateProvider:
    """Courier delivery at one configured price (``TOOLBOX_CHECKOUT__FLAT_SHIPPING_PRICE``)."""

    price: int
    name: str = "Courier"
    id: str = "flat"

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        return [ShippingQuote(self.id, "flat", self.name, self.price)]
