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
from sqlalchemy.orm import Session, lazyload

from toolbox_core.errors import NotFound
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import remember_locks
from toolbox_core.payments.models import Payment
from toolbox_core.payments.views import payment_info
from toolbox_core.providers import LineView, OrderView, ShippingLine

#: Longest key accepted (order ids are 40 characters, numbers 20).
MAX_KEY_LENGTH = 40


def get_order_view(toolbox: Any, key: str) -> OrderView:
    """The order whose id or number is ``key``; 404 ``order_not_found`` otherwise."""
    with toolbox.db.session() as session:
        return order_view_in_session(session, key)


def order_view_in_session(session: Session, key: str, *, lock: bool = False, lines: bool = True) -> OrderView:
    """:func:`get_order_view` inside the caller's transaction.

    ``lock=True`` locks the payment row, then the order row (``FOR UPDATE``, the kernel's one
    lock order), so a gateway callback can decide on a consistent order. ``lines=False``
    leaves the view's ``lines`` empty, for a caller that does not need them (one query less).

    A gateway callback runs this on every call, so it reads no more than it returns: the order
    and its payment in one statement (two, locked: payment, then order), the lines in one more
    when asked for, and never the order's history.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise NotFound("no such order", code="order_not_found")
    named = or_(Order.id == key, Order.number == key)
    # Loaded only when used: the lines below when asked for, the history never (``note()``
    # adds to it without loading it).
    lazy = (lazyload(Order.items), lazyload(Order.history))
    if lock:
        order, payment = _lock_named(session, key, lazy)
    else:
        row = session.execute(select(Order, Payment).outerjoin(Payment, Payment.order_id == Order.id)
                              .where(named).options(*lazy).limit(1)).first()
        if row is None:
            raise NotFound("no such order", code="order_not_found")
        order, payment = row
    return _view(order, payment, lines=lines)


def _lock_named(session: Session, key: str, options: tuple[Any, ...]) -> tuple[Order, Payment | None]:
    """The payment, then the order named by ``key`` (id or number), locked ``FOR UPDATE`` as
    :func:`~toolbox_core.orders.service.lock_order` does, and recorded by :func:`~toolbox_core.orders.service.remember_locks`."""
    order_id = select(Order.id).where(or_(Order.id == key, Order.number == key)).limit(1).scalar_subquery()
    payment = session.scalar(select(Payment).where(Payment.order_id == order_id).with_for_update()
                             .execution_options(populate_existing=True))
    if payment is None:  # an order without a payment (or no such order)
        found = session.scalar(select(Order.id).where(or_(Order.id == key, Order.number == key)).limit(1))
    else:
        found = payment.order_id
    order = session.scalar(select(Order).where(Order.id == found).options(*options).with_for_update()
                           .execution_options(populate_existing=True)) if found is not None else None
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    remember_locks(session, order, payment)
    return order, payment


def _view(order: Order, payment: Any, *, lines: bool = True) -> OrderView:
    items = order.items if lines else ()
    view_lines = tuple(
        LineView(variant_id=i.variant_id, sku=i.sku, title=i.title, quantity=i.quantity, unit_price=i.unit_price,
                 weight_grams=i.weight_grams, mxik_code=i.mxik_code, package_code=i.package_code,
                 vat_percent=i.vat_percent, discount=0, unit_code=None)
        for i in items
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
        discount_total=order.discount_total, total=order.total, created_at=created, lines=view_lines,
        shipping=shipping,
        payment=payment_info(payment, order.number, order.status) if payment is not None else None,
    )
