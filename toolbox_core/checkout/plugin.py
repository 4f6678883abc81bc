"""Built-in plugin: checkout routes, order events and the unpaid-order expiry job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from toolbox_core.events.types import EventType, ScheduledJob
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.checkout"

#: How often the expiry job looks for unpaid online orders past their deadline.
EXPIRY_INTERVAL_SECONDS = 60


def expire_unpaid_orders(toolbox: Any, progress: Any = None) -> int:
    """Scheduled job: cancel online orders unpaid after ``payment_timeout_seconds``, release stock."""
    from toolbox_core.orders.service import expire_unpaid

    return len(expire_unpaid(toolbox))


@hookimpl
def register_routes(toolbox: Any) -> list[APIRouter]:
    from toolbox_core.checkout.store_api import build_router

    return [build_router(toolbox)]


@hookimpl
def scheduled_jobs(toolbox: Any) -> list[ScheduledJob]:
    return [ScheduledJob("checkout.expire_unpaid_orders", expire_unpaid_orders,
                         interval_seconds=EXPIRY_INTERVAL_SECONDS,
                         description="Cancel unpaid online orders after the payment timeout; release their stock")]


@hookimpl
def event_types() -> list[EventType]:
    order = {"order_id": "order id", "number": "human-friendly order number"}
    return [
        EventType("order.placed", "A cart became an order (stock reserved)", {
            **order, "customer_id": "customer id or null for a guest", "phone": "+998XXXXXXXXX",
            "total": "tiyin", "currency": "ISO currency (UZS)",
            "status": "placed (pay on delivery) or pending_payment (online)",
            "payment_provider_id": "payment provider id", "locale": "the shopper's locale",
            "shipping": "the delivery choice: {provider_id, option_id, name, amount (tiyin)}"}),
        EventType("order.canceled", "An order was canceled; its stock was released or restocked",
                  {**order, "reason": "why", "payment_status": "payment status after canceling",
                   "total": "tiyin", "currency": "ISO currency (UZS)", "phone": "+998XXXXXXXXX",
                   "locale": "the shopper's locale"}),
        EventType("order.fulfilled", "An order was handed to delivery", order),
        EventType("order.delivered", "An order reached the customer", order),
    ]
