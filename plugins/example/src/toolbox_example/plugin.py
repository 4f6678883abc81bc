"""A small, complete plugin: settings, a shipping provider and a route.

It prices a city courier by weight for the regions it serves, and exposes those regions at
``GET /store/example/courier/regions``. Read it next to ``toolbox_core/hookspecs.py``.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from toolbox_core.api import CartView, ShippingQuote, Toolbox, hookimpl

KERNEL_API = ">=1.0,<2"


class ExampleSettings(BaseModel):
    """``TOOLBOX_EXAMPLE__BASE_PRICE`` etc.; prices in tiyin."""

    base_price: int = Field(1_500_000, ge=0)
    price_per_kg: int = Field(200_000, ge=0)
    regions: list[str] = ["Tashkent", "Toshkent"]


class CityCourier:
    """Weight-based courier, only for the configured regions."""

    id = "example_courier"
    name = "City courier (example)"
    #: Priced from settings, no carrier API to call: the kernel may quote it on the event loop
    #: (say so only when it is true; a carrier's HTTP API leaves this out).
    local = True

    def __init__(self, settings: ExampleSettings) -> None:
        self.settings = settings

    def quote(self, cart: CartView) -> list[ShippingQuote]:
        if cart.address is None or cart.address.region not in self.settings.regions:
            return []
        # Every started kilogram of what the catalog knows; lines without a weight cost nothing
        # extra (a real courier would count a default weight for them).
        started_kg = -(-cart.known_weight_grams // 1000)
        amount = self.settings.base_price + started_kg * self.settings.price_per_kg
        return [ShippingQuote(provider_id=self.id, option_id="standard", name=self.name, amount=amount, estimated_days=1)]


@hookimpl
def settings_model() -> type[BaseModel]:
    return ExampleSettings


@hookimpl
def shipping_providers(toolbox: Toolbox) -> list[CityCourier]:
    return [CityCourier(toolbox.plugin_settings("example"))]  # type: ignore[arg-type]


@hookimpl
def register_routes(toolbox: Toolbox) -> list[APIRouter]:
    router = APIRouter(prefix="/store/example", tags=["example plugin"])
    settings = toolbox.plugin_settings("example")

    @router.get("/courier/regions", summary="Regions the example courier serves")
    def regions() -> dict[str, list[str]]:
        return {"regions": list(settings.regions)}  # type: ignore[attr-defined]

    return [router]
