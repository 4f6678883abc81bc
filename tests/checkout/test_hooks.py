"""The checkout domains register through the same hooks as outside plugins."""

from __future__ import annotations

EMITTED = {
    "order.placed", "order.canceled", "order.fulfilled", "order.delivered", "payment.authorized",
    "payment.captured", "payment.canceled", "payment.refunded", "inventory.updated",
}


def test_hook_scheduled_jobs_registers_the_unpaid_order_expiry(toolbox):
    jobs = [job for _, items in toolbox.plugins.call_each("scheduled_jobs", toolbox=toolbox) for job in items]
    expiry = next(job for job in jobs if job.name == "checkout.expire_unpaid_orders")
    assert expiry.interval_seconds and expiry.interval_seconds <= 300
    assert expiry.func(toolbox, None) == 0


def test_hook_event_types_declares_every_event_the_checkout_domains_emit(toolbox):
    declared = {t.name: t for _, items in toolbox.plugins.call_each("event_types") for t in items}
    assert set(declared) >= EMITTED
    assert "order_id" in declared["order.placed"].payload


def test_hook_shipping_and_payment_providers_of_the_kernel(toolbox):
    assert {"pickup", "flat"} <= set(toolbox.shipping_providers)
    assert "cash_on_delivery" in toolbox.payment_providers
    assert toolbox.payment_providers["cash_on_delivery"].online is False
