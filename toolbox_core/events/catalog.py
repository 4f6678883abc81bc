"""The kernel's event types: what order, payment, catalog, inventory and customer code emits."""

from __future__ import annotations

from toolbox_core.events.types import EventType

_ORDER = {
    "order_id": "Order id (`ord_...`)",
    "order_number": "Human order number shown to the customer",
    "customer_id": "Customer id, or null for a guest order",
    "amount": "Order total in tiyin (integer)",
}
_PAYMENT = {
    "order_id": "Order id (`ord_...`)",
    "order_number": "Human order number shown to the customer",
    "customer_id": "Customer id, or null for a guest order",
    "amount": "Amount in tiyin (integer)",
}
_PRODUCT = {"product_id": "Product id (`prod_...`)", "handle": "Product URL handle"}

#: Internal: a job enqueued in embedded mode, kept in the outbox until the subscriber runs it.
JOB_REQUESTED = "_jobs.requested"

KERNEL_EVENT_TYPES: list[EventType] = [
    EventType("order.placed", "An order was placed at checkout.", dict(_ORDER)),
    EventType("order.canceled", "An order was canceled; its stock reservations are released.", dict(_ORDER)),
    EventType("order.fulfilled", "An order was handed over to the customer or the carrier.", dict(_ORDER)),
    EventType("payment.captured", "A payment for an order was captured.", dict(_PAYMENT)),
    EventType("payment.refunded", "A payment for an order was refunded (fully or partly).", dict(_PAYMENT)),
    EventType("product.created", "A product was created.", dict(_PRODUCT)),
    EventType("product.updated", "A product or one of its variants changed.", dict(_PRODUCT)),
    EventType("product.deleted", "A product was deleted.", dict(_PRODUCT)),
    EventType(
        "inventory.updated",
        "The available quantity of a SKU at a location changed.",
        {
            "sku": "Variant SKU",
            "location": "Stock location id",
            "available": "Quantity available to sell now (integer)",
        },
    ),
    EventType(
        "customer.created",
        "A customer account was created (first sign-in with a phone number).",
        {"customer_id": "Customer id (`cus_...`)", "phone": "Phone in the form +998XXXXXXXXX"},
    ),
    EventType(
        JOB_REQUESTED,
        "Internal (embedded mode only): `toolbox.jobs.enqueue` was called; the built-in subscriber "
        "`core.jobs` runs the job. Wildcard subscribers never receive it.",
        {"job": "Job name (`JobSpec.name`)", "kwargs": "Keyword arguments for the job"},
    ),
]
