"""Helpers shared by the BTS plugin tests (store API steps)."""

from __future__ import annotations

from typing import Any

from toolbox_core.testing import add_variant

PHONE = "+998901234567"
WEBHOOK_SECRET = "hook-secret-123"


def cart_with(client: Any, toolbox: Any, *, weight_grams: int | None = 500, quantity: int = 1,
              city_code: str | None = "6000", region_code: str | None = "60", price: int = 15_000_000) -> str:
    """A cart (through the store API) with one line, phone and an address in ``city_code``."""
    variant = add_variant(toolbox, weight_grams=weight_grams, price=price, stock=1000)
    cart_id = client.post("/store/carts", json={"locale": "ru", "phone": PHONE}).json()["id"]
    assert client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": quantity}) \
        .status_code == 200
    address = {"region": "Andijon", "city": "Andijon", "street": "Navoiy 10", "name": "Aziz"}
    if city_code:
        address |= {"city_code": city_code, "region_code": region_code}
    assert client.patch(f"/store/carts/{cart_id}", json={"address": address}).status_code == 200
    return cart_id


def place_order(client: Any, cart_id: str, payment: str = "cash_on_delivery") -> dict[str, Any]:
    assert client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": payment}).status_code == 200
    placed = client.post(f"/store/carts/{cart_id}/complete")
    assert placed.status_code == 201, placed.text
    return placed.json()["order"]
