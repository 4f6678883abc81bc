"""Tracking: BTS statuses reach our shipments by webhook (form or JSON, secret token) and by polling."""

from __future__ import annotations

import json

from bts_helpers import WEBHOOK_SECRET, cart_with, place_order
from toolbox_bts.jobs import poll_tracking
from toolbox_bts.tracking import map_status

from toolbox_core.api import PaymentService, ShipmentService


class _Progress:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def total(self, count: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def message(self, text: str) -> None:
        self.messages.append(text)


def _shipped(client, toolbox):
    cart_id = cart_with(client, toolbox)
    client.post("/store/bts/shipping-method", json={"cart_id": cart_id, "option": "branch_to_door"})
    order = place_order(client, cart_id)
    toolbox.events.drain()
    [shipment] = ShipmentService(toolbox).for_order(order["id"])
    return order, shipment


def _changes(toolbox):
    from sqlalchemy import text

    with toolbox.db.session() as session:
        rows = session.execute(text("SELECT payload FROM outbox_events WHERE name = 'shipment.status_changed' "
                                    "ORDER BY occurred_at")).all()
    return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]


def test_status_codes_map_to_fulfilment_statuses():
    assert [map_status(c) for c in ("100", "200", "700", "1100", "1200", "1300", "1400")] == [
        "created", "in_transit", "in_transit", "in_transit", "delivered", "canceled", "returned"]
    assert map_status("abc") is None


def test_form_webhook_moves_the_shipment_and_emits_the_event(client, toolbox):
    order, shipment = _shipped(client, toolbox)
    text = json.dumps({"clientId": order["number"], "orderId": int(shipment.external_id),
                       "barcode": shipment.tracking_number, "status": {"id": 700, "name": "В пути"}})
    reply = client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", data={"text": text})
    assert reply.status_code == 200 and reply.json()["result"] == "applied"
    assert ShipmentService(toolbox).get(shipment.id).status == "in_transit"
    [change] = _changes(toolbox)
    assert (change["previous_status"], change["status"], change["order_number"]) == \
        ("created", "in_transit", order["number"])
    repeat = client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", data={"text": text})
    assert repeat.status_code == 200 and len(_changes(toolbox)) == 1


def test_json_webhook_delivered_captures_the_cash(client, toolbox):
    order, _ = _shipped(client, toolbox)
    body = {"clientId": order["number"], "status": {"code": "1200", "name": "Доставлен"}}
    reply = client.post("/bts/webhook", json=body, headers={"token": WEBHOOK_SECRET})
    assert reply.status_code == 200 and reply.json()["shipment_status"] == "delivered"
    assert PaymentService(toolbox).for_order(order["id"]).status == "captured"
    assert [c["status"] for c in _changes(toolbox)] == ["delivered"]


def test_webhook_refuses_bad_tokens_and_bad_bodies(client, toolbox):
    order, shipment = _shipped(client, toolbox)
    body = {"clientId": order["number"], "status": {"id": 1200}}
    assert client.post("/bts/webhook", json=body).status_code == 403
    assert client.post("/bts/webhook?token=wrong", json=body).status_code == 403
    assert client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", content=b"{not json",
                       headers={"content-type": "application/json"}).status_code == 400
    assert client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", json={"hello": 1}).status_code == 400
    too_big = client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", content=b"x" * 70_000)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    unknown = client.post(f"/bts/webhook?token={WEBHOOK_SECRET}", json={"orderId": 1, "status": {"id": 700}})
    assert unknown.json()["result"] == "unknown_shipment"
    assert ShipmentService(toolbox).get(shipment.id).status == "created"


def test_polling_moves_shipments_not_yet_final(client, toolbox, bts):
    _, shipment = _shipped(client, toolbox)
    bts.set_status(int(shipment.external_id), 800)
    progress = _Progress()
    poll_tracking(toolbox, progress)
    assert ShipmentService(toolbox).get(shipment.id).status == "in_transit"
    bts.set_status(int(shipment.external_id), 1400)
    poll_tracking(toolbox, progress)
    assert ShipmentService(toolbox).get(shipment.id).status == "returned"
    polled = bts.calls["/v1/order/track"]
    poll_tracking(toolbox, progress)  # final: not asked again
    assert bts.calls["/v1/order/track"] == polled
