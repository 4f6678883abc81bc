"""Kernel contracts v1.1 for payment gateways: reports inside the plugin's transaction, gateway
holds, late captures, refund capabilities, partial refunds, order views, per-router error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select

from tests.checkout.helpers import admin_headers, make_variant, outbox, ready_cart, stock_of
from tests.fakes.payments import FakeOnlineProvider
from toolbox_core.api import (
    InvalidInput,
    NotFound,
    PaymentService,
    get_order_view,
    order_view_in_session,
    own_error_route,
)
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.db.base import utcnow
from toolbox_core.orders.models import Order, OrderHistory
from toolbox_core.orders.service import OrderService, expire_unpaid
from toolbox_core.payments.models import Payment
from toolbox_core.plugins.guard import ProviderGuard


class CabinetRefundGateway(FakeOnlineProvider):
    """A gateway like Payme: refunds start in its merchant cabinet, never through an API call."""

    def __init__(self) -> None:
        super().__init__(id="cabinet", name="Cabinet gateway")
        self.refund_capability = "gateway_initiated"
        self.payment_timeout_seconds = 600


@pytest.fixture
def gateway(toolbox):
    provider = FakeOnlineProvider()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    return provider


@pytest.fixture
def cabinet(toolbox):
    provider = CabinetRefundGateway()
    toolbox.payment_providers[provider.id] = ProviderGuard(provider)
    return provider


def _placed(toolbox, provider: str = "test_online", stock: int = 3, quantity: int = 1):
    variant = make_variant(toolbox, stock=stock)
    return variant, CheckoutService(toolbox).complete(ready_cart(toolbox, variant, quantity=quantity,
                                                                 provider=provider), None)


# ------------------------------------------------------------------ reports in the plugin's transaction
def test_a_report_in_the_plugins_transaction_commits_and_rolls_back_with_it(toolbox, gateway):
    _, result = _placed(toolbox)
    payments = PaymentService(toolbox)
    with pytest.raises(RuntimeError), toolbox.db.transaction() as session:
        payments.capture_in_session(session, "test_online", result.payment_id, gateway_transaction_id="gw-1",
                                    amount=result.total)
        raise RuntimeError("the plugin's own write failed after the report")
    assert payments.get(result.payment_id).status == "pending"
    assert outbox(toolbox, "payment.captured") == []

    with toolbox.db.transaction() as session:
        done = payments.capture_in_session(session, "test_online", result.payment_id,
                                           gateway_transaction_id="gw-1", amount=result.total)
    assert (done.replayed, done.payment_status) == (False, "captured")
    assert len(outbox(toolbox, "payment.captured")) == 1


def test_every_in_session_report_works_and_replays(toolbox, gateway):
    _, first = _placed(toolbox)
    _, second = _placed(toolbox)
    payments = PaymentService(toolbox)
    with toolbox.db.transaction() as session:
        payments.authorize_in_session(session, "test_online", first.payment_id, gateway_transaction_id="a",
                                      amount=first.total)
        payments.cancel_in_session(session, "test_online", first.payment_id, gateway_transaction_id="a",
                                   reason="timeout")
    with toolbox.db.transaction() as session:
        payments.capture_in_session(session, "test_online", second.payment_id, gateway_transaction_id="b",
                                    amount=second.total)
        refund = payments.refund_in_session(session, "test_online", second.payment_id,
                                            gateway_transaction_id="b", amount=second.total)
    assert refund.payment_status == "refunded"
    with toolbox.db.transaction() as session:
        assert payments.refund_in_session(session, "test_online", second.payment_id,
                                          gateway_transaction_id="b", amount=second.total).replayed
    canceled = OrderService(toolbox).get(first.order_id)
    assert (canceled["status"], canceled["payment_status"]) == ("canceled", "canceled")
    assert OrderService(toolbox).get(second.order_id)["payment_status"] == "refunded"


def test_a_capture_in_session_before_the_storefront_completed_the_cart_completes_it(toolbox, gateway):
    variant = make_variant(toolbox, stock=2)
    cart_id = ready_cart(toolbox, variant, provider="test_online")
    with toolbox.db.session() as session:
        payment = session.scalar(select(Payment).where(Payment.cart_id == cart_id))
        payment_id, amount = payment.id, payment.amount
    with toolbox.db.transaction() as session:
        done = PaymentService(toolbox).capture_in_session(session, "test_online", payment_id,
                                                          gateway_transaction_id="early", amount=amount)
    order = OrderService(toolbox).get(done.order_id)
    assert (order["status"], order["payment_status"]) == ("placed", "paid")
    assert stock_of(toolbox, variant) == (1, 0)
    assert len(outbox(toolbox, "order.placed")) == 1


# ------------------------------------------------------------------ gateway holds and timeouts
def test_the_timeout_is_per_provider(toolbox, cabinet, gateway):
    _, short = _placed(toolbox, provider="cabinet")
    _, default = _placed(toolbox)
    with toolbox.db.session() as session:
        short_deadline = session.get(Order, short.order_id).payment_expires_at
        default_deadline = session.get(Order, default.order_id).payment_expires_at
    assert timedelta(seconds=590) < short_deadline - session.get(Order, short.order_id).created_at \
        < timedelta(seconds=610)
    assert default_deadline - short_deadline > timedelta(hours=11)


def test_a_gateway_hold_keeps_the_order_from_expiring_until_hold_until(toolbox, cabinet):
    variant, result = _placed(toolbox, provider="cabinet", stock=2)
    hold_until = utcnow() + timedelta(hours=12)
    PaymentService(toolbox).authorize("cabinet", result.payment_id, gateway_transaction_id="tx-1",
                                      amount=result.total, hold_until=hold_until)
    assert expire_unpaid(toolbox, now=utcnow() + timedelta(hours=1)) == []  # past the provider's 600 s
    assert OrderService(toolbox).get(result.order_id)["status"] == "pending_payment"
    assert stock_of(toolbox, variant) == (2, 1)
    assert expire_unpaid(toolbox, now=hold_until + timedelta(seconds=1)) == [result.order_id]
    assert stock_of(toolbox, variant) == (2, 0)


def test_an_authorized_order_without_a_hold_still_expires(toolbox, cabinet):
    _, result = _placed(toolbox, provider="cabinet")
    PaymentService(toolbox).authorize("cabinet", result.payment_id, gateway_transaction_id="tx-1",
                                      amount=result.total)
    assert expire_unpaid(toolbox, now=utcnow() + timedelta(hours=1)) == [result.order_id]


# ------------------------------------------------------------------ refund capability and partial refunds
def test_admin_cancel_of_a_paid_order_at_a_cabinet_refund_gateway_records_a_refund_request(client, toolbox,
                                                                                           cabinet):
    variant, result = _placed(toolbox, provider="cabinet", stock=2)
    PaymentService(toolbox).capture("cabinet", result.payment_id, gateway_transaction_id="tx", amount=result.total)
    response = client.post(f"/admin/orders/{result.order_id}/cancel", headers=admin_headers(toolbox, "orders:write"),
                           json={"reason": "customer changed their mind"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["payment_status"], body["payment"]["status"]) == \
        ("canceled", "refund_pending", "refund_pending")
    assert "refund_requested" in [h["kind"] for h in body["history"]]
    assert cabinet.refunds == []  # the kernel never asked the gateway
    assert [e["amount"] for e in outbox(toolbox, "payment.refund_requested")] == [result.total]
    assert stock_of(toolbox, variant) == (2, 0)

    # The merchant refunds in the cabinet; the gateway reports it.
    PaymentService(toolbox).refund("cabinet", result.payment_id, gateway_transaction_id="tx", amount=result.total)
    order = OrderService(toolbox).get(result.order_id)
    assert (order["status"], order["payment_status"]) == ("canceled", "refunded")


def test_partial_refunds_over_http_are_bounded_validated_and_idempotent(client, toolbox, gateway):
    _, result = _placed(toolbox)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    url = f"/admin/orders/{result.order_id}/refunds"
    headers = admin_headers(toolbox, "orders:write")
    for bad in ({"amount": 0}, {"amount": -5}, {"amount": "100"}, {"amount": 1.5}, {"amount": True},
                {"amount": 10**15}, {}, {"amount": 100, "reason": "x" * 501}, {"amount": 100, "extra": 1}):
        response = client.post(url, headers=headers, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    too_much = client.post(url, headers=headers, json={"amount": result.total + 1})
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "amount_mismatch")
    assert client.post("/admin/orders/ord_nope/refunds", headers=headers, json={"amount": 1}).status_code == 404
    assert client.post(url, json={"amount": 100}).status_code == 401

    keyed = {**headers, "Idempotency-Key": "refund-1"}
    first = client.post(url, headers=keyed, json={"amount": 100_000, "reason": "one drill was broken"})
    assert first.status_code == 200, first.text
    assert (first.json()["payment_status"], first.json()["status"]) == ("partially_refunded", "placed")
    again = client.post(url, headers=keyed, json={"amount": 100_000, "reason": "one drill was broken"})
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert gateway.refunds == [(result.payment_id, 100_000)]

    rest = client.post(url, headers=headers, json={"amount": result.total - 100_000})
    assert rest.json()["payment_status"] == "refunded"
    assert gateway.refunds[-1] == (result.payment_id, result.total - 100_000)
    assert client.post(url, headers=headers, json={"amount": 1}).status_code == 409
    assert [e["amount"] for e in outbox(toolbox, "payment.refunded")] == [100_000, result.total - 100_000]


def test_a_refund_with_an_overlong_idempotency_key_is_refused_before_the_gateway_refunds(client, toolbox, gateway):
    _, result = _placed(toolbox)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    keyed = {**admin_headers(toolbox, "orders:write"), "Idempotency-Key": "k" * 100}
    response = client.post(f"/admin/orders/{result.order_id}/refunds", headers=keyed, json={"amount": 100_000})
    assert response.status_code == 422, response.text
    assert gateway.refunds == []
    # The service refuses it too (a key it could not record), before the provider is asked.
    with pytest.raises(InvalidInput):
        PaymentService(toolbox).refund_through_provider(result.payment_id, actor="test", amount=1,
                                                        request_key="k" * 100)
    assert gateway.refunds == []
    assert OrderService(toolbox).get(result.order_id)["payment_status"] == "paid"


def test_a_partial_refund_at_a_cabinet_gateway_is_a_request(client, toolbox, cabinet):
    _, result = _placed(toolbox, provider="cabinet")
    PaymentService(toolbox).capture("cabinet", result.payment_id, gateway_transaction_id="tx", amount=result.total)
    response = client.post(f"/admin/orders/{result.order_id}/refunds", headers=admin_headers(toolbox, "orders:write"),
                           json={"amount": 50_000})
    assert response.status_code == 200, response.text
    assert response.json()["payment_status"] == "refund_pending"
    assert cabinet.refunds == []
    assert outbox(toolbox, "payment.refund_requested")[0]["amount"] == 50_000


def test_one_idempotency_key_on_two_orders_refunds_both(client, toolbox, cabinet):
    headers = {**admin_headers(toolbox, "orders:write"), "Idempotency-Key": "same-key"}
    for _ in range(2):
        _, result = _placed(toolbox, provider="cabinet")
        PaymentService(toolbox).capture("cabinet", result.payment_id, gateway_transaction_id=result.payment_id,
                                        amount=result.total)
        response = client.post(f"/admin/orders/{result.order_id}/refunds", headers=headers, json={"amount": 50_000})
        assert response.status_code == 200, response.text
        assert (response.json()["replayed"], response.json()["payment_status"]) == (False, "refund_pending")
    assert [e["amount"] for e in outbox(toolbox, "payment.refund_requested")] == [50_000, 50_000]


# ------------------------------------------------------------------ late capture
def test_a_capture_after_an_admin_cancel_is_recorded_as_refund_required(client, toolbox, gateway):
    variant, result = _placed(toolbox, stock=1)
    client.post(f"/admin/orders/{result.order_id}/cancel", headers=admin_headers(toolbox, "orders:write"))
    late = PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw",
                                           amount=result.total)
    assert late.refund_required
    with toolbox.db.session() as session:
        kinds = list(session.scalars(select(OrderHistory.kind).where(OrderHistory.order_id == result.order_id)))
    assert "payment_captured_late" in kinds
    assert stock_of(toolbox, variant) == (1, 0)
    # ...and staff can then return it through the provider.
    refunded = client.post(f"/admin/orders/{result.order_id}/refunds", headers=admin_headers(toolbox, "*"),
                           json={"amount": result.total})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["payment_status"] == "refunded"
    assert gateway.refunds == [(result.payment_id, result.total)]


# ------------------------------------------------------------------ reads for gateways
def test_a_gateway_finds_the_payment_by_order_number(toolbox, gateway):
    _, result = _placed(toolbox)
    info = PaymentService(toolbox).for_order_number(result.number)
    assert (info.id, info.order_id, info.amount) == (result.payment_id, result.order_id, result.total)
    for unknown in ("999999", "", "9" * 50):
        with pytest.raises(NotFound) as missing:
            PaymentService(toolbox).for_order_number(unknown)
        assert missing.value.code == "order_not_found"


def test_the_order_view_has_the_lines_and_shipping_as_at_purchase(toolbox, gateway):
    toolbox.settings.checkout.shipping_mxik_code = "10112006002000000"
    toolbox.settings.checkout.shipping_package_code = "1545"
    toolbox.settings.checkout.shipping_vat_percent = 12
    _, result = _placed(toolbox, quantity=2)
    toolbox.settings.checkout.shipping_mxik_code = "00000000000000000"  # a later change is not retroactive

    by_id, by_number = get_order_view(toolbox, result.order_id), get_order_view(toolbox, result.number)
    assert by_id == by_number
    assert (by_id.number, by_id.total, by_id.currency, by_id.phone) == (result.number, result.total, "UZS",
                                                                        "+998901234567")
    line = by_id.lines[0]
    assert (line.quantity, line.unit_price, line.mxik_code, line.package_code, line.vat_percent, line.discount) == \
        (2, 1_500_000, "00702001001000001", "1234", 12, 0)
    assert by_id.subtotal == line.total
    assert by_id.shipping.amount == by_id.shipping_total == 2_500_000
    assert (by_id.shipping.mxik_code, by_id.shipping.package_code, by_id.shipping.vat_percent) == \
        ("10112006002000000", "1545", 12)
    assert by_id.payment.id == result.payment_id
    with toolbox.db.transaction() as session:
        locked = order_view_in_session(session, result.number, lock=True)
    assert locked.id == result.order_id
    for unknown in ("nope", "", "x" * 500):
        with pytest.raises(NotFound):
            get_order_view(toolbox, unknown)


# ------------------------------------------------------------------ event payloads
def test_order_placed_and_payment_captured_carry_what_notifiers_need(toolbox, gateway):
    _, result = _placed(toolbox)
    PaymentService(toolbox).capture("test_online", result.payment_id, gateway_transaction_id="gw", amount=result.total)
    placed = outbox(toolbox, "order.placed")[0]
    assert placed["currency"] == "UZS"
    assert placed["shipping"] == {"provider_id": "flat", "option_id": "flat", "name": "Курьер",
                                  "amount": 2_500_000}
    captured = outbox(toolbox, "payment.captured")[0]
    assert {k: captured[k] for k in ("order_id", "number", "total", "phone", "locale", "amount")} == {
        "order_id": result.order_id, "number": result.number, "total": result.total, "phone": "+998901234567",
        "locale": "ru", "amount": result.total}


def test_order_canceled_carries_total_phone_and_locale(toolbox, gateway):
    _, result = _placed(toolbox)
    PaymentService(toolbox).cancel("test_online", result.payment_id, gateway_transaction_id="gw")
    canceled = outbox(toolbox, "order.canceled")[0]
    assert (canceled["total"], canceled["phone"], canceled["locale"]) == (result.total, "+998901234567", "ru")


# ------------------------------------------------------------------ error shape per router
class Body(BaseModel):
    n: int


def test_a_router_with_its_own_error_route_answers_every_error_itself():
    def jsonrpc_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": {"code": -32700, "kind": type(exc).__name__}}, status_code=200)

    own = APIRouter(route_class=own_error_route(jsonrpc_error))

    @own.post("/own")
    def own_route(body: Body) -> dict[str, int]:
        if body.n < 0:
            raise InvalidInput("negative")
        if body.n == 0:
            raise ZeroDivisionError
        return {"n": body.n}

    kernel = APIRouter()

    @kernel.post("/kernel")
    def kernel_route(body: Body) -> dict[str, int]:
        return {"n": body.n}

    from toolbox_core.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(own)
    app.include_router(kernel)
    with TestClient(app) as http:
        assert http.post("/own", json={"n": 1}).json() == {"n": 1}
        for body, kind in ((b"{not json", "RequestValidationError"), (b'{"n": "x"}', "RequestValidationError"),
                           (b'{"n": -1}', "InvalidInput"), (b'{"n": 0}', "ZeroDivisionError")):
            response = http.post("/own", content=body, headers={"content-type": "application/json"})
            assert (response.status_code, response.json()["error"]["kind"]) == (200, kind)
        assert http.post("/kernel", content=b"{not json").status_code == 422  # others keep the kernel's shape

