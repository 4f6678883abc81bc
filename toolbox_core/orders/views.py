"""Orders as gateways read them: :class:`~toolbox_core.providers.OrderView`, by id or number.

Everything comes from the order as it was at purchase: its items keep the title, price and
fiscal codes of that moment, and its shipping keeps the delivery service's fiscal codes that
the ``checkout`` settings had then (``shipping_mxik_code``, ``shipping_package_code``,
``shipping_vat_percent``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from toolbox_core.errors import NotFound
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import lock_order, payment_of
from toolbox_core.payments.views import payment_info
from toolbox_core.providers import LineView, OrderView, ShippingLine

#: Longest key accepted (order ids are 40 characters, numbers 20).
MAX_KEY_LENGTH = 40


def get_order_view(toolbox: Any, key: str) -> OrderView:
    """The order whose id or number is ``key``; 404 ``order_not_found`` otherwise."""
    with toolbox.db.session() as session:
        return order_view_in_session(session, key)


def order_view_in_session(session: Session, key: str, *, lock: bool = False) -> OrderView:
    """:func:`get_order_view` inside the caller's transaction.

    ``lock=True`` locks the payment row, then the order row (``FOR UPDATE``, the kernel's one
    lock order), so a gateway callback can decide on a consistent order.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise NotFound("no such order", code="order_not_found")
    order_id = session.scalar(select(Order.id).where(or_(Order.id == key, Order.number == key)).limit(1))
    if order_id is None:
        raise NotFound("no such order", code="order_not_found")
    if lock:
        order, payment = lock_order(session, order_id)
    else:
        order = session.get(Order, order_id)
        payment = payment_of(session, order_id)
    return _view(order, payment)


def _view(order: Order, payment: Any) -> OrderView:
    lines = tuple(
        LineView(variant_id=i.variant_id, sku=i.sku, title=i.title, quantity=i.quantity, unit_price=i.unit_price,
                 weight_grams=i.weight_grams, mxik_code=i.mxik_code, package_code=i.package_code,
                 vat_percent=i.vat_percent, discount=0, unit_code=None)
        for i in order.items
    )
    shipping = None
    if order.shipping:
        fiscal = order.shipping.get("fiscal") or {}
        shipping = ShippingLine(title=str(order.shipping.get("name") or "Delivery"), amount=order.shipping_total,
                                mxik_code=fiscal.get("mxik_code"), package_code=fiscal.get("package_code"),
                                vat_percent=fiscal.get("vat_percent"))
    created = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
    return OrderView(
        id=order.id, number=order.number or "", status=order.status, payment_status=order.payment_status,
        fulfillment_status=order.fulfillment_status, locale=order.locale, phone=order.phone,
        currency=order.currency, subtotal=order.subtotal, shipping_total=order.shipping_total,
        discount_total=order.discount_total, total=order.total, created_at=created, lines=lines,
        shipping=shipping,
        payment=payment_info(payment, order.number, order.status) if payment is not None else None,
    )
