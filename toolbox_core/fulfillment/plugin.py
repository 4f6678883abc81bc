"""Built-in plugin: shipments (admin routes) and their events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from toolbox_core.events.types import EventType
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.fulfillment"

_SHIPMENT = {
    "shipment_id": "shipment id",
    "order_id": "order id",
    "order_number": "human-friendly order number",
    "carrier": "carrier name (e.g. BTS Express)",
    "tracking_number": "the carrier's tracking number (barcode), or null",
    "tracking_url": "public tracking page, or null",
    "status": "created, in_transit, delivered, returned or canceled",
    "phone": "the order's phone, +998XXXXXXXXX",
    "locale": "the order's locale",
}


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.fulfillment import admin_api

    return [admin_api.build_router(toolbox)]


@hookimpl
def event_types() -> list[EventType]:
    return [
        EventType("shipment.created", "A carrier shipment was created for an order", dict(_SHIPMENT)),
        EventType("shipment.status_changed", "A shipment moved (in transit, delivered, returned, canceled)",
                  {**_SHIPMENT, "previous_status": "the status before this change"}),
    ]
