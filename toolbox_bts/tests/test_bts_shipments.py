"""Shipments: created at BTS when an order is ready, once per order number, with label and cancel."""

from __future__ import annotations

import pytest
from bts_helpers import PHONE, cart_with, place_order
from sqlalchemy import text
from toolbox_bts.jobs import ship_when_ready

from tests.fakes.bts import calculator_price
from toolbox_core.api import Event, PermanentFailure, ShipmentService
from toolbox_core.testing import admin_headers


def _cod_order(client, toolbox, *, option="branch_to_branch", branch="601"):
    cart_id = cart_with(client, toolbox, weight_grams=1_200, price=20_000_000)
    body = {"cart_id": cart_id, "option": option} | ({"branch_code": branch} if option == "branch_to_branch" else {})
    assert client.post("/store/bts/shipping-method", json=body).status_code == 200
    return place_order(client, cart_id)


def test_a_cash_on_delivery_order_is_shipped_by_a_job_with_the_amount_to_collect(client, toolbox, bts):
    order = _cod_order(client, toolbox)
    toolbox.events.drain()
    [sent] = bts.orders_for(order["number"])
    body = sent["body"]
    assert body["dropoff_type"] == "branch" and body["receiver"]["branch_code"] == "601"
    assert body["receiver"]["phone"] == PHONE and body["sender"]["city_code"] == "1000"
    assert body["bringBackMoney"] == 1 and body["back_money"] * 100 == order["total"]
    assert body["cargo"]["weight"] == 1.2
    [shipment] = ShipmentService(toolbox).for_order(order["id"])
    assert shipment.provider_id == "bts" and shipment.status == "created"
    assert shipment.tracking_number == sent["barcode"] and shipment.external_id is not None
    assert shipment.tracking_url.endswith(sent["barcode"])
    assert shipment.cost == calculator_price("branch_to_branch", "1000", "6000", 1.2) * 100
    assert shipment.cod_amount == order["total"]


def test_shipment_creation_is_idempotent_on_our_order_number(client, toolbox, bts, provider):
    order = _cod_order(client, toolbox)
    shipments = ShipmentService(toolbox)
    request = shipments.request_for(order["id"])
    # a worker that created the BTS order and crashed before recording it: the retry reuses it
    first = provider.create_shipment(request)
    again = provider.create_shipment(request)
    assert first.external_id == again.external_id
    toolbox.events.drain()
    shipments.ship(order["id"], "bts")
    assert len(bts.orders_for(order["number"])) == 1
    assert len(shipments.for_order(order["id"])) == 1


def test_an_online_order_ships_only_once_paid_and_without_cash_on_delivery(client, toolbox, bts):
    from dataclasses import dataclass

    from toolbox_core.api import PaymentAction, PaymentService

    @dataclass
    class Gateway:
        id: str = "gateway"
        name: str = "Gateway"
        online: bool = True

        def initiate(self, request):
            return PaymentAction("redirect", url="https://pay.example/x")

        def refund(self, payment_id, amount):
            raise NotImplementedError

    toolbox.__dict__["payment_providers"] = {**toolbox.payment_providers, "gateway": Gateway()}
    cart_id = cart_with(client, toolbox)
    client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door"})
    order = place_order(client, cart_id, payment="gateway")
    toolbox.events.drain()
    assert bts.orders_for(order["number"]) == []
    payment = PaymentService(toolbox).for_order(order["id"])
    PaymentService(toolbox).capture("gateway", payment.id, gateway_transaction_id="tx-1", amount=order["total"])
    toolbox.events.drain()
    [sent] = bts.orders_for(order["number"])
    assert sent["body"]["bringBackMoney"] == 0 and sent["body"]["dropoff_type"] == "courier"
    assert sent["body"]["receiver"]["city_code"] == "6000"


def test_admin_gets_the_label_pdf_and_cancels_while_bts_allows(client, toolbox, bts):
    order = _cod_order(client, toolbox)
    toolbox.events.drain()
    headers = admin_headers(toolbox, "orders:write")
    [shipment] = client.get(f"/admin/orders/{order['id']}/shipments", headers=headers).json()["items"]
    label = client.get(f"/admin/shipments/{shipment['id']}/label", headers=headers)
    assert label.status_code == 200 and label.content.startswith(b"%PDF")
    canceled = client.post(f"/admin/shipments/{shipment['id']}/cancel", headers=headers)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert bts.orders[int(shipment["external_id"])]["status"] == 1300


def test_cancel_is_refused_once_bts_has_the_parcel(client, toolbox, bts):
    order = _cod_order(client, toolbox)
    toolbox.events.drain()
    [shipment] = ShipmentService(toolbox).for_order(order["id"])
    bts.set_status(int(shipment.external_id), 700)
    ShipmentService(toolbox).refresh(shipment.id)
    refused = client.post(f"/admin/shipments/{shipment.id}/cancel", headers=admin_headers(toolbox))
    assert refused.status_code == 409


def test_an_order_bts_refuses_is_parked_not_retried_forever(client, toolbox, bts):
    order = _cod_order(client, toolbox, option="branch_to_door")
    with toolbox.db.transaction() as session:  # a phone BTS rejects (422 on receiver.phone)
        session.execute(text("UPDATE orders SET phone = '+99890' WHERE id = :id"), {"id": order["id"]})
    with pytest.raises(PermanentFailure):
        ship_when_ready(Event("evt-1", "order.placed", {"order_id": order["id"], "status": "placed"}), toolbox)
    assert bts.orders_for(order["number"]) == []


def test_canceling_the_order_cancels_its_bts_shipment(client, toolbox, bts):
    order = _cod_order(client, toolbox)
    toolbox.events.drain()
    [shipment] = ShipmentService(toolbox).for_order(order["id"])
    canceled = client.post(f"/admin/orders/{order['id']}/cancel", headers=admin_headers(toolbox, "orders:write"))
    assert canceled.status_code == 200, canceled.text
    toolbox.events.drain()
    assert ShipmentService(toolbox).get(shipment.id).status == "canceled"
    assert bts.orders[int(shipment.external_id)]["status"] == 1300


def test_a_cancel_while_bts_is_down_is_retried_later(client, toolbox, bts):
    from toolbox_bts.jobs import cancel_with_order

    from toolbox_core.api import RetryLater

    order = _cod_order(client, toolbox)
    toolbox.events.drain()
    [shipment] = ShipmentService(toolbox).for_order(order["id"])
    bts.down = True
    with pytest.raises(RetryLater):
        cancel_with_order(Event("evt-2", "order.canceled", {"order_id": order["id"]}), toolbox)
    assert ShipmentService(toolbox).get(shipment.id).status == "created"
