"""Online payment with a test gateway: pending → captured, pending → expired, cancel, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.checkout.helpers import make_variant, outbox, ready_cart, stock_of
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import PaymentService
from toolbox_core.checkout.plugin import expire_unpaid_orders
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, InvalidInput, ToolboxError
from toolbox_core.orders.service import OrderService
from toolbox_core.plugins.guard import ProviderGuard
from toolbox_core.workflows.orders import OrderWorkflow


@pytest.fixture
def gateway(toolbox):
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    return provider


def test_online_order_waits_with_stock_reserved_then_capture_makes_it_paid(toolbox, gateway):
    variant = make_variant(toolbox, stock=3)
    cart_id = ready_cart(toolbox, variant, quantity=2, provider="test_online")
    result = CheckoutService(toolbox).complete(cart_id, None)
    assert result.status == "pending_payment"
    assert result.action["kind"] == "redirect"
    assert gateway.initiated[0].amount == result.total
    assert stock_of(toolbox, variant) == (3, 2)

    payments = PaymentService(toolbox)
    captured = payments.capture("test_online", result.payment_id, gateway_transaction_id="gw-1", amount=result.total)
    again = payments.capture("test_online", result.payment_id, gateway_transaction_id="gw-1", amount=result.total)
    assert (captured.replayed, again.replayed) == (False, True)
    assert again.transaction_id == captured.transaction_id

    order = OrderService(toolbox).get(result.order_id, admin=True)
    assert (order["status"], order["payment_status"]) == ("placed", "paid")
    assert stock_of(toolbox, variant) == (1, 0)
    assert len(outbox(toolbox, "payment.captured")) == 1


def test_capture_with_the_wrong_amount_or_currency_is_refused(toolbox, gateway):
    variant = make_variant(toolbox)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider="test_online"), None)
    payments = PaymentService(toolbox)
    with pytest.raises(InvalidInput) as wrong:
        payments.capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total - 1)
    assert wrong.value.code == "amount_mismatch"
    with pytest.raises(InvalidInput) as currency:
        payments.capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total,
                         currency="USD")
    assert currency.value.code == "currency_mismatch"
    with pytest.raises(Conflict) as other:
        payments.capture("cash_on_delivery", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    assert other.value.code == "provider_mismatch"
    assert OrderService(toolbox).get(result.order_id)["payment_status"] == "awaiting"


def test_unpaid_order_expires_releasing_stock_and_a_late_capture_is_kept_as_refund_required(toolbox, gateway):
    variant = make_variant(toolbox, stock=2)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, quantity=2, provider="test_online"), None)
    assert stock_of(toolbox, variant) == (2, 2)
    assert expire_unpaid_orders(toolbox, None) == 0  # not yet due

    from toolbox_core.orders.models import Order

    with toolbox.db.transaction() as session:
        session.get(Order, result.order_id).payment_expires_at = utcnow() - timedelta(seconds=1)
    assert expire_unpaid_orders(toolbox, None) == 1
    assert expire_unpaid_orders(toolbox, None) == 0

    order = OrderService(toolbox).get(result.order_id)
    assert (order["status"], order["payment_status"]) == ("canceled", "canceled")
    assert stock_of(toolbox, variant) == (2, 0)
    assert [e["reason"] for e in outbox(toolbox, "order.canceled")] == ["payment_timeout"]
    # The gateway took the money anyway: recorded, never lost, and flagged for a refund.
    late = PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="late",
                                           amount=result.total)
    assert (late.refund_required, late.payment_status) == (True, "refund_required")
    again = PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="late",
                                            amount=result.total)
    assert (again.replayed, again.refund_required) == (True, True)
    order = OrderService(toolbox).get(result.order_id)
    assert (order["status"], order["payment_status"]) == ("canceled", "refund_required")
    assert stock_of(toolbox, variant) == (2, 0)  # nothing sold out of released stock
    assert outbox(toolbox, "payment.captured") == []
    assert [e["amount"] for e in outbox(toolbox, "payment.refund_required")] == [result.total]


def test_gateway_cancel_releases_stock_once(toolbox, gateway):
    variant = make_variant(toolbox, stock=1)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider="test_online"), None)
    payments = PaymentService(toolbox)
    payments.cancel("test_online", result.payment_id, gateway_transaction_id="gw-9", reason="timeout")
    assert payments.cancel("test_online", result.payment_id, gateway_transaction_id="gw-9").replayed
    assert stock_of(toolbox, variant) == (1, 0)
    assert len(outbox(toolbox, "order.canceled")) == 1


def test_failing_payment_initiation_undoes_the_order_and_reopens_the_cart(toolbox, gateway):
    variant = make_variant(toolbox, stock=1)
    cart_id = ready_cart(toolbox, variant, provider="test_online")
    gateway.fail_initiate = True
    with pytest.raises(ToolboxError) as failed:
        CheckoutService(toolbox).complete(cart_id, None)
    assert failed.value.code == "payment_provider_error"
    assert stock_of(toolbox, variant) == (1, 0)

    from toolbox_core.cart.service import CartService

    carts = CartService(toolbox)
    assert carts.get(cart_id, None)["status"] == "open"
    carts.select_payment(cart_id, None, "cash_on_delivery")
    assert CheckoutService(toolbox).complete(cart_id, None).status == "placed"


def test_admin_cancel_of_a_paid_order_refunds_through_the_provider(client, toolbox, gateway):
    from toolbox_core.admin.auth import create_key

    variant = make_variant(toolbox, stock=2)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider="test_online"), None)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    _, key = create_key(toolbox, "ops", ["orders:write"])
    response = client.post(f"/admin/orders/{result.order_id}/cancel", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["payment_status"]) == ("canceled", "refunded")
    assert gateway.refunds == [(result.payment_id, result.total)]
    assert stock_of(toolbox, variant) == (2, 0)
    assert len(outbox(toolbox, "payment.refunded")) == 1
    again = client.post(f"/admin/orders/{result.order_id}/cancel", headers={"Authorization": f"Bearer {key}"})
    assert again.status_code == 409


def test_online_checkout_over_http_returns_the_redirect_and_the_order_shows_it(client, toolbox, gateway):
    variant = make_variant(toolbox, stock=2)
    cart_id = client.post("/store/carts").json()["id"]
    client.post(f"/store/carts/{cart_id}/lines", json={"variant_id": variant, "quantity": 1})
    client.patch(f"/store/carts/{cart_id}", json={"phone": "+998901234567"})
    client.post(f"/store/carts/{cart_id}/shipping", json={"provider_id": "pickup", "option_id": "pickup"})
    client.post(f"/store/carts/{cart_id}/payment-session", json={"provider_id": "test_online"})
    toolbox.settings.storefront_origins = ["https://shop.uz"]
    done = client.post(f"/store/carts/{cart_id}/complete", json={"return_url": "https://shop.uz/thanks"})
    assert done.status_code == 201, done.text
    order = done.json()["order"]
    assert order["status"] == "pending_payment"
    assert order["action"] == {"kind": "redirect", "url": f"https://gateway.test/pay/{order['payment_id']}",
                               "fields": {}, "data": {}}
    assert gateway.initiated[0].return_url == "https://shop.uz/thanks"
    seen = client.get(f"/store/orders/{order['id']}", params={"phone": "+998901234567"}).json()
    assert seen["payment"]["action"]["kind"] == "redirect"
    assert seen["payment_expires_at"] is not None


def test_a_second_cancel_while_the_refund_is_with_the_provider_is_refused_and_refunds_nothing(toolbox, gateway):
    variant = make_variant(toolbox, stock=2)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider="test_online"), None)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    second: list[str] = []
    refund = gateway.refund

    def refund_while_another_admin_cancels(payment_id: str, amount: int):
        try:
            OrderWorkflow(toolbox).cancel(result.order_id, actor="admin:other")
        except Conflict as exc:
            second.append(exc.code)
        return refund(payment_id, amount)

    gateway.refund = refund_while_another_admin_cancels
    order = OrderWorkflow(toolbox).cancel(result.order_id, actor="admin:ops")
    assert second == ["refund_in_progress"]
    assert gateway.refunds == [(result.payment_id, result.total)]
    assert (order["status"], order["payment_status"]) == ("canceled", "refunded")
    assert len(outbox(toolbox, "payment.refunded")) == 1


def test_a_refused_refund_leaves_the_order_paid_so_the_cancel_can_be_retried(toolbox, gateway):
    from toolbox_core.providers import RefundResult

    variant = make_variant(toolbox, stock=2)
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, variant, provider="test_online"), None)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    refund = gateway.refund
    gateway.refund = lambda payment_id, amount: RefundResult(succeeded=False, message="try later")
    with pytest.raises(ToolboxError) as refused:
        OrderWorkflow(toolbox).cancel(result.order_id, actor="admin:ops")
    assert refused.value.code == "refund_failed"
    assert OrderService(toolbox).get(result.order_id)["payment"]["status"] == "captured"
    gateway.refund = refund
    order = OrderWorkflow(toolbox).cancel(result.order_id, actor="admin:ops")
    assert (order["status"], order["payment_status"]) == ("canceled", "refunded")


def test_a_gateway_can_look_up_the_payment_of_an_order(toolbox, gateway):
    result = CheckoutService(toolbox).complete(ready_cart(toolbox, make_variant(toolbox), provider="test_online"), None)
    info = PaymentService(toolbox).for_order(result.order_id)
    assert (info.id, info.order_number, info.amount, info.status) == (result.payment_id, result.number, result.total,
                                                                      "pending")
    with pytest.raises(ToolboxError) as missing:
        PaymentService(toolbox).for_order("ord_nope")
    assert missing.value.code == "payment_not_found"


def test_a_payment_session_canceled_at_the_gateway_before_checkout_can_be_chosen_again(toolbox, gateway):
    from toolbox_core.cart.service import CartService

    variant = make_variant(toolbox, stock=1)
    cart_id = ready_cart(toolbox, variant, provider="test_online")
    carts = CartService(toolbox)
    session_id = carts.get(cart_id, None)["payment"]["id"]
    PaymentService(toolbox).cancel("test_online", session_id, gateway_transaction_id="gw-early", reason="declined")

    with pytest.raises(ToolboxError) as incomplete:  # the canceled session is no longer the cart's
        CheckoutService(toolbox).complete(cart_id, None)
    assert incomplete.value.details == {"missing": ["payment"]}
    assert carts.get(cart_id, None)["payment"] is None

    carts.select_payment(cart_id, None, "test_online")  # a new session, not the canceled one revived
    assert carts.get(cart_id, None)["payment"]["id"] != session_id
    result = CheckoutService(toolbox).complete(cart_id, None)
    assert result.status == "pending_payment"
    assert PaymentService(toolbox).get(session_id).status == "canceled"
