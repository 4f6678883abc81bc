"""Built-in plugin: cash on delivery and the payment events."""

from __future__ import annotations

from typing import Any

from toolbox_core.events.types import EventType
from toolbox_core.payments.providers import CashOnDeliveryProvider
from toolbox_core.plugins import hookimpl

PLUGIN_NAME = "core.payments"

_PAYMENT = {"order_id": "the order paid for", "payment_id": "the kernel payment id",
            "provider_id": "payment provider id (payme, click, cash_on_delivery...)",
            "number": "human-friendly order number", "total": "order total, tiyin",
            "phone": "+998XXXXXXXXX of the order", "locale": "the shopper's locale (ru, uz)"}


@hookimpl
def payment_providers(toolbox: Any) -> list[Any]:
    return [CashOnDeliveryProvider()]


@hookimpl
def event_types() -> list[EventType]:
    return [
        EventType("payment.authorized", "A gateway holds the money for an order",
                  {**_PAYMENT, "amount": "tiyin"}),
        EventType("payment.captured", "An order's payment was taken (online capture or cash collected)",
                  {**_PAYMENT, "amount": "tiyin"}),
        EventType("payment.canceled", "A payment will not happen (gateway cancel)", _PAYMENT),
        EventType("payment.refunded", "Money was returned to the payer", {**_PAYMENT, "amount": "tiyin"}),
        EventType("payment.refund_requested",
                  "Staff asked for a refund the provider cannot make through its API (e.g. Payme: start it "
                  "in the merchant cabinet); the payment is refund_pending",
                  {**_PAYMENT, "amount": "tiyin to return", "reason": "why"}),
        EventType("payment.refund_required",
                  "Money was captured after the order was canceled (late capture); it must be returned",
                  {**_PAYMENT, "amount": "tiyin captured"}),
    ]
