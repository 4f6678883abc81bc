"""The whole guest path over HTTP with the kernel's own providers."""

from __future__ import annotations

import pytest

from tests.checkout.helpers import ADDRESS, make_variant, outbox, stock_of


def test_guest_checks_out_with_pickup_free_and_flat_priced_on_the_server(client, toolbox):
    drill = make_variant(toolbox, price=1_500_000, stock=5)
    saw = make_variant(toolbox, price=700_000, stock=5)

    created = client.post("/store/carts", json={"locale": "ru"})
    assert created.status_code == 201
    cookie = created.cookies.get("toolbox_cart")
    cart_id = created.json()["id"]
    assert cookie == cart_id
    assert "httponly" in created.headers["set-cookie"].lower()
    assert "samesite=lax" in created.headers["set-cookie"].lower()

    assert client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": drill, "quantity": 2}).status_code == 200
    assert client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": saw, "quantity": 1}).status_code == 200
    cart = client.put(f"/store/carts/{cart_id}/lines/{saw}", json={"quantity": 3}).json()
    assert cart["totals"] == {"subtotal": 2 * 1_500_000 + 3 * 700_000, "shipping": 0, "discount": 0,
                              "total": 2 * 1_500_000 + 3 * 700_000}
    assert cart["lines"][0]["title"] == "Дрель — 18 В"

    cart = client.patch(f"/store/carts/{cart_id}", json={"phone": "90 123 45 67", "address": ADDRESS}).json()
    assert cart["phone"] == "+998901234567"
    assert cart["address"]["district"] == "Yunusobod"

    options = client.get(f"/store/carts/{cart_id}/shipping-options").json()["items"]
    assert {(o["provider_id"], o["amount"]) for o in options} == {("pickup", 0), ("flat", 2_500_000)}
    cart = client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"}).json()
    assert cart["totals"]["shipping"] == 2_500_000
    cart = client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"}).json()
    assert cart["payment"]["provider_id"] == "cash_on_delivery"

    done = client.post(f"/store/carts/{cart_id}/complete")
    assert done.status_code == 201, done.text
    order = done.json()["order"]
    assert order["status"] == "placed"
    assert order["action"]["kind"] == "none"
    assert order["total"] == 2 * 1_500_000 + 3 * 700_000 + 2_500_000
    assert int(order["number"]) > 1000

    placed = outbox(toolbox, "order.placed")
    assert [p["order_id"] for p in placed] == [order["id"]]
    assert placed[0]["phone"] == "+998901234567"
    assert stock_of(toolbox, drill) == (5, 2)

    seen = client.get(f"/store/orders/{order['id']}", params={"phone": "+998 90 123 45 67"})
    assert seen.status_code == 200
    assert [i["quantity"] for i in seen.json()["items"]] == [2, 3]
    assert client.get(f"/store/orders/{order['id']}", params={"phone": "+998911111111"}).status_code == 404


def test_completed_cart_is_recovered_with_a_clear_code_and_a_fresh_cart(client, toolbox):
    variant = make_variant(toolbox)
    cart_id = client.post("/store/carts").json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567"})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "pickup", "option_id": "pickup"})
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"})
    order_id = client.post(f"/store/carts/{cart_id}/complete").json()["order"]["id"]

    client.cookies.set("toolbox_cart", cart_id)
    gone = client.get(f"/store/carts/{cart_id}")
    assert gone.status_code == 200
    assert gone.json()["order"]["id"] == order_id

    again = client.post(f"/store/carts/{cart_id}/complete")
    assert again.status_code == 200
    assert again.json()["order"]["id"] == order_id
    changed = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    assert changed.json()["error"]["code"] == "cart_completed"

    client.cookies.set("toolbox_cart", cart_id)
    fresh = client.get("/store/carts/current")
    assert fresh.status_code == 200
    assert fresh.json()["id"] != cart_id
    assert fresh.json()["lines"] == []
    assert fresh.cookies.get("toolbox_cart") == fresh.json()["id"]


def test_expired_cart_answers_410_and_current_starts_a_new_one(client, toolbox):
    from datetime import timedelta

    from toolbox_core.cart.models import Cart
    from toolbox_core.db.base import utcnow

    cart_id = client.post("/store/carts").json()["id"]
    with toolbox.db.transaction() as session:
        session.get(Cart, cart_id).expires_at = utcnow() - timedelta(seconds=1)
    gone = client.get(f"/store/carts/{cart_id}")
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "cart_expired"
    assert client.get("/store/carts/current").json()["id"] != cart_id


@pytest.mark.parametrize("secure", [True, False])
def test_the_cart_cookies_are_written_as_starlettes_set_cookie_writes_them(toolbox, monkeypatch, secure):
    from starlette.responses import Response

    from toolbox_core.cart.store_api import cookie_header

    monkeypatch.setattr(toolbox.settings.cart, "cookie_secure", secure)
    cfg = toolbox.settings.cart
    reference = Response()
    reference.set_cookie(cfg.cookie_name, "cart_01ABC", max_age=cfg.cookie_max_age_seconds, httponly=True,
                         secure=secure, samesite=cfg.cookie_samesite, path="/")
    assert cookie_header(toolbox, cfg.cookie_name, "cart_01ABC") == reference.headers["set-cookie"]
