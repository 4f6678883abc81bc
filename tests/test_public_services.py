"""The cart and inventory services a plugin gets from ``toolbox_core.api``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.checkout.helpers import ADDRESS, PHONE, make_variant, outbox
from toolbox_core import api
from toolbox_core.api import (
    CartService,
    CartView,
    Forbidden,
    InvalidInput,
    InventoryService,
    StockLevel,
)


def test_the_services_are_public_and_documented() -> None:
    for name in ("CartService", "InventoryService", "LevelView"):
        assert name in api.__all__
        assert getattr(api, name).__doc__
    for method in ("view", "get", "create", "add_line", "set_quantity", "remove_line", "update",
                   "shipping_options", "select_shipping", "select_payment"):
        assert method in CartService.__doc__, f"CartService.{method} is not documented"
    for method in ("available", "levels", "set_levels"):
        assert getattr(InventoryService, method).__doc__


def test_cart_view_is_the_providers_snapshot_priced_from_the_catalog(toolbox: Any) -> None:
    variant = make_variant(toolbox, sku="DRILL-1", price=1_500_000, weight=700)
    carts = CartService(toolbox)
    cart_id = carts.create(None, "uz", PHONE)["id"]
    carts.add_line(cart_id, None, variant, 2)
    carts.update(cart_id, None, {"address": dict(ADDRESS)})

    view = carts.view(cart_id, None)
    assert isinstance(view, CartView)
    assert (view.id, view.locale, view.phone) == (cart_id, "uz", PHONE)
    assert [(line.sku, line.quantity, line.unit_price) for line in view.lines] == [("DRILL-1", 2, 1_500_000)]
    assert view.subtotal == 3_000_000
    assert view.address is not None and view.address.city == ADDRESS["city"]


def test_cart_view_checks_the_owner_like_the_store_api(toolbox: Any) -> None:
    carts = CartService(toolbox)
    cart_id = carts.create("cus_owner", "ru")["id"]
    assert carts.view(cart_id, "cus_owner").customer_id == "cus_owner"
    with pytest.raises(Forbidden):
        carts.view(cart_id, "cus_someone_else")


def test_inventory_service_reads_and_sets_stock_keeping_reservations(toolbox: Any) -> None:
    make_variant(toolbox, sku="TEA-1", stock=10)
    inventory = InventoryService(toolbox)
    assert inventory.available(["TEA-1", "NOPE"]) == {"NOPE": 0, "TEA-1": 10}

    assert inventory.set_levels([StockLevel("TEA-1", 4), StockLevel("TEA-1", 6, "samarkand")],
                                source="acme") == ["TEA-1"]
    assert inventory.available(["TEA-1"]) == {"TEA-1": 10}
    assert [(lv.location_code, lv.stocked, lv.reserved) for lv in inventory.levels("TEA-1")] == [
        ("default", 4, 0), ("samarkand", 6, 0)]
    assert outbox(toolbox, "inventory.updated")[-1] == {"skus": ["TEA-1"], "reason": "acme", "order_id": None}


def test_inventory_service_refuses_negative_stock_and_unknown_skus(toolbox: Any) -> None:
    make_variant(toolbox, sku="TEA-1", stock=1)
    with pytest.raises(InvalidInput):
        InventoryService(toolbox).set_levels([StockLevel("TEA-1", -1)], source="acme")
    with pytest.raises(InvalidInput) as err:
        InventoryService(toolbox).set_levels([StockLevel("NOT-IN-CATALOG", 1)], source="acme")
    assert err.value.code == "unknown_sku"
    assert InventoryService(toolbox).available(["TEA-1"]) == {"TEA-1": 1}
