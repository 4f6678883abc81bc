"""Inventory: levels per SKU and location, admin endpoints, sources, snapshots."""

from __future__ import annotations

from tests.checkout.helpers import admin_headers, make_variant, outbox, ready_cart
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.inventory.plugin import sync_inventory_sources
from toolbox_core.plugins.guard import ProviderGuard
from toolbox_core.providers import StockLevel


def test_admin_sets_stock_per_location_and_reservations_are_kept(client, toolbox):
    variant = make_variant(toolbox, sku="DRILL-18", stock=5)
    CheckoutService(toolbox).complete(ready_cart(toolbox, variant, quantity=2), None)
    headers = admin_headers(toolbox, "inventory:write")
    response = client.put("/admin/inventory", headers=headers, json={"levels": [
        {"sku": "DRILL-18", "stocked": 3}, {"sku": "DRILL-18", "stocked": 4, "location_code": "chilonzor"}]})
    assert response.status_code == 200
    levels = client.get("/admin/inventory/DRILL-18", headers=headers).json()["levels"]
    assert [(x["location_code"], x["stocked"], x["reserved"], x["available"]) for x in levels] == [
        ("chilonzor", 4, 0, 4), ("default", 3, 2, 1)]
    assert outbox(toolbox, "inventory.updated")[-1]["skus"] == ["DRILL-18"]
    bad = client.put("/admin/inventory", headers=headers, json={"levels": [{"sku": "DRILL-18", "stocked": -1}]})
    assert bad.status_code == 422


def test_inventory_sources_set_stocked_quantities(toolbox):
    class Warehouse:
        id = "warehouse"

        def fetch_levels(self):
            return [StockLevel("SRC-1", 7)]

    make_variant(toolbox, sku="SRC-1", stock=1)
    toolbox.inventory_sources["warehouse"] = ProviderGuard(Warehouse())
    assert sync_inventory_sources(toolbox, None) == {"warehouse": 1}
    from toolbox_core.inventory.service import levels

    with toolbox.db.session() as session:
        assert [(x.stocked, x.reserved) for x in levels(session, "SRC-1")] == [(7, 0)]


def test_snapshots_fall_back_to_the_default_locale(toolbox):
    from toolbox_core.catalog.snapshots import variant_snapshots

    variant = make_variant(toolbox, price=123_400)
    with toolbox.db.session() as session:
        uz = variant_snapshots(session, [variant, "var_missing"], "uz", "ru")
        en = variant_snapshots(session, [variant], "en", "ru")
    assert set(uz) == {variant}
    assert uz[variant].title == "Drel — 18 В"
    assert en[variant].title == "Дрель — 18 В"
    assert (uz[variant].unit_price, uz[variant].vat_percent, uz[variant].published) == (123_400, 12, True)


def test_a_cart_line_asks_no_more_than_one_location_can_hold(client, toolbox):
    # Checkout holds each SKU at one location (the one with the most available), so adding a
    # line agrees with it: 3 + 4 units at two locations let a line of 4 in, not one of 5.
    from toolbox_core.inventory.service import apply_levels

    variant = make_variant(toolbox, sku="SPLIT-1", stock=3)
    with toolbox.db.transaction() as session:
        apply_levels(session, [StockLevel("SPLIT-1", 4, "chilonzor")])
    from toolbox_core.catalog.snapshots import variant_snapshots

    other = make_variant(toolbox, stock=9)
    with toolbox.db.session() as session:  # what the add-line check reads with the snapshots
        snaps = variant_snapshots(session, [variant, other], "ru", "ru", holdable_for=[variant])
    assert (snaps[variant].holdable, snaps[other].holdable) == (4, None)
    cart_id = client.post("/store/carts", json={"locale": "ru"}).json()["id"]

    refused = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 5})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "out_of_stock"
    assert refused.json()["error"]["details"]["available"] == 4

    cart_id = ready_cart(toolbox, variant, quantity=4)  # what was let in can be completed
    order = CheckoutService(toolbox).complete(cart_id, None)
    with toolbox.db.session() as session:
        from toolbox_core.inventory.service import levels

        held = {x.location_code: x.reserved for x in levels(session, "SPLIT-1")}
    assert order.order_id and held == {"chilonzor": 4, "default": 0}
