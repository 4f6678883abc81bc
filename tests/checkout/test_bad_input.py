"""Each kind of bad input gets a clear 4xx in the one error shape, and nothing half-written."""

from __future__ import annotations

import pytest

from tests.checkout.helpers import (
    ADDRESS,
    admin_headers,
    make_variant,
    outbox,
    ready_cart,
    sign_in,
    stock_of,
)


@pytest.fixture
def cart_id(client):
    return client.post("/store/carts").json()["id"]


def _code(response):
    return response.status_code, response.json()["error"]["code"]


def test_unknown_variant_is_refused(client, cart_id):
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": "var_nope", "quantity": 1})
    assert _code(response) == (422, "unknown_variant")


def test_unpublished_variant_is_refused(client, toolbox, cart_id):
    draft = make_variant(toolbox, status="draft")
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": draft, "quantity": 1})
    assert _code(response) == (422, "unknown_variant")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True])
def test_quantity_must_be_a_positive_integer(client, toolbox, cart_id, quantity):
    variant = make_variant(toolbox)
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": quantity})
    assert _code(response) == (422, "invalid_input")


def test_quantity_over_the_line_limit_is_refused(client, toolbox, cart_id):
    variant = make_variant(toolbox, stock=5000)
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1001})
    assert _code(response) == (422, "quantity_over_limit")


def test_quantity_over_availability_is_refused(client, toolbox, cart_id):
    variant = make_variant(toolbox, stock=2)
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 3})
    assert _code(response) == (409, "out_of_stock")
    assert response.json()["error"]["details"]["available"] == 2


def test_too_many_lines_are_refused(client, toolbox, cart_id):
    toolbox.settings.cart.max_lines = 1
    first, second = make_variant(toolbox), make_variant(toolbox)
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": first, "quantity": 1})
    response = client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": second, "quantity": 1})
    assert _code(response) == (422, "too_many_lines")


def test_bad_phone_and_incomplete_address_are_refused(client, cart_id):
    assert _code(client.patch(f"/store/carts/{cart_id}", json={"phone": "12345"})) == (422, "invalid_phone")
    assert _code(client.patch(f"/store/carts/{cart_id}", json={"address": {"city": "Toshkent"}})) \
        == (422, "invalid_input")


def test_client_cannot_send_a_shipping_price(client, toolbox, cart_id):
    variant = make_variant(toolbox)
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    response = client.post(f"/store/carts/{cart_id}/shipping",
                           json={"provider_id": "flat", "option_id": "flat", "amount": 0})
    assert _code(response) == (422, "invalid_input")
    response = client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "dhl", "option_id": "x"})
    assert _code(response) == (422, "unknown_shipping_provider")


def test_unknown_payment_provider_is_refused(client, cart_id):
    response = client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "bitcoin"})
    assert _code(response) == (422, "unknown_payment_provider")


def test_another_customers_cart_is_refused(client, toolbox):
    _, alice = sign_in(toolbox, "+998901111111")
    _, bob = sign_in(toolbox, "+998902222222")
    cart_id = client.post("/store/carts", headers=alice).json()["id"]
    assert _code(client.get(f"/store/carts/{cart_id}", headers=bob)) == (403, "cart_forbidden")
    assert _code(client.get(f"/store/carts/{cart_id}")) == (403, "cart_forbidden")
    assert _code(client.post(f"/store/carts/{cart_id}/complete", headers=bob)) == (403, "cart_forbidden")


def test_completing_without_shipping_or_payment_is_refused(client, toolbox, cart_id):
    variant = make_variant(toolbox)
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567"})
    response = client.post(f"/store/carts/{cart_id}/complete")
    assert _code(response) == (422, "checkout_incomplete")
    assert set(response.json()["error"]["details"]["missing"]) == {"shipping", "payment"}
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"})
    response = client.post(f"/store/carts/{cart_id}/complete")
    assert response.json()["error"]["details"]["missing"] == ["address", "payment"]
    assert stock_of(toolbox, variant) == (10, 0)
    assert outbox(toolbox, "order.placed") == []


def test_completing_an_empty_cart_is_refused(client, cart_id):
    response = client.post(f"/store/carts/{cart_id}/complete")
    assert _code(response) == (422, "checkout_incomplete")
    assert "lines" in response.json()["error"]["details"]["missing"]


def test_changing_lines_drops_the_shipping_choice(client, toolbox, cart_id):
    variant = make_variant(toolbox)
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"address": ADDRESS})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "flat", "option_id": "flat"})
    cart = client.put(f"/store/carts/{cart_id}/lines/{variant}", json={"quantity": 2}).json()
    assert cart["shipping"] is None
    assert cart["totals"]["shipping"] == 0


def test_out_of_stock_at_completion_leaves_nothing_behind(client, toolbox, cart_id):
    from toolbox_core.inventory.service import apply_levels
    from toolbox_core.providers import StockLevel

    variant = make_variant(toolbox, sku="LAST-ONE", stock=1)
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567"})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "pickup", "option_id": "pickup"})
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "cash_on_delivery"})
    with toolbox.db.transaction() as session:
        apply_levels(session, [StockLevel("LAST-ONE", 0)])
    response = client.post(f"/store/carts/{cart_id}/complete")
    assert _code(response) == (409, "out_of_stock")
    assert client.get(f"/store/carts/{cart_id}").json()["status"] == "open"
    assert outbox(toolbox, "order.placed") == []


def test_a_crash_in_the_middle_of_checkout_leaves_no_half_order_and_no_reservation(toolbox, monkeypatch):
    from sqlalchemy import func, select

    from tests.checkout.helpers import ready_cart
    from toolbox_core.cart.service import CartService
    from toolbox_core.checkout import service as checkout
    from toolbox_core.orders.models import Order

    variant = make_variant(toolbox, stock=3)
    cart_id = ready_cart(toolbox, variant, quantity=2)

    def crash(*args, **kwargs):
        raise RuntimeError("process died")

    monkeypatch.setattr(checkout, "emit", crash)  # the last step inside the transaction
    with pytest.raises(RuntimeError):
        checkout.CheckoutService(toolbox).complete(cart_id, None)
    with toolbox.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert stock_of(toolbox, variant) == (3, 0)
    assert CartService(toolbox).get(cart_id, None)["status"] == "open"
    monkeypatch.undo()
    assert checkout.CheckoutService(toolbox).complete(cart_id, None).status == "placed"


def test_completing_with_a_bad_return_url_or_an_unknown_field_is_refused_and_places_nothing(client, toolbox):
    cart_id = ready_cart(toolbox, make_variant(toolbox, stock=2))
    for body in ({"return_url": "javascript:alert(1)"}, {"return_url": "https://shop.uz/" + "x" * 2000},
                 {"total": 1}):
        assert _code(client.post(f"/store/carts/{cart_id}/complete", json=body)) == (422, "invalid_input")
    assert outbox(toolbox, "order.placed") == []
    assert client.get(f"/store/carts/{cart_id}").json()["status"] == "open"


def test_looking_up_a_guest_order_with_a_malformed_or_wrong_phone_is_refused(client, toolbox):
    from toolbox_core.checkout.service import CheckoutService

    order_id = CheckoutService(toolbox).complete(ready_cart(toolbox, make_variant(toolbox)), None).order_id
    assert _code(client.get(f"/store/orders/{order_id}", params={"phone": "12345"})) == (422, "invalid_phone")
    assert _code(client.get(f"/store/orders/{order_id}", params={"phone": "+998 90 000 00 00"})) \
        == (404, "order_not_found")
    assert _code(client.get(f"/store/orders/{order_id}")) == (404, "order_not_found")


def test_admin_cancel_with_an_unknown_field_or_an_overlong_reason_is_refused_and_cancels_nothing(client, toolbox):
    from toolbox_core.checkout.service import CheckoutService

    order_id = CheckoutService(toolbox).complete(ready_cart(toolbox, make_variant(toolbox)), None).order_id
    headers = admin_headers(toolbox)
    for body in ({"reason": "x" * 501}, {"refund": False}, {"reason": 5}):
        response = client.post(f"/admin/orders/{order_id}/cancel", headers=headers, json=body)
        assert _code(response) == (422, "invalid_input")
    assert client.get(f"/admin/orders/{order_id}", headers=headers).json()["status"] == "placed"
    assert _code(client.post("/admin/orders/ord_nope/cancel", headers=headers)) == (404, "order_not_found")
