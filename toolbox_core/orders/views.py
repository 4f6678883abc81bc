"""Orders as gateways read them: :class:`~toolbox_core.providers.OrderView`, by id or number.

Everything comes from the order as it was at purchase: its items keep the title, price and
fiscal codes of that moment, and its shipping keeps the delivery service's fiscal codes that
the ``checkout`` settings had then (``shipping_mxik_code``, ``shipping_package_code``,
``shipping_vat_percent``).
"""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, lazyload

from toolbox_core.errors import NotFound
from toolbox_core.orders.models import Order, OrderItem
from toolbox_core.orders.service import remember_locks
from toolbox_core.payments.models import Payment
from toolbox_core.payments.views import payment_info
from toolbox_core.providers import LineView, OrderView, ShippingLine

#: Longest key accepted (order ids are 40 characters, numbers 20).
MAX_KEY_LENGTH = 40

# Every callback runs these: built once, with the key as a bound parameter. Unlocked, the view
# is read with core statements (plain rows, no identity map); locked, the payment and order are
# ORM objects, which the kernel's payment service goes on changing in the same transaction.
_ORDERS, _PAYMENTS, _ITEMS = Order.__table__, Payment.__table__, OrderItem.__table__
#: The order named by ``b_key``: its id or its number (every gateway read uses this one condition).
NAMED_ORDER = _NAMED = or_(Order.id == bindparam("b_key"), Order.number == bindparam("b_key"))
_READ = (select(*_ORDERS.c, *_PAYMENTS.c).select_from(_ORDERS.outerjoin(_PAYMENTS, _PAYMENTS.c.order_id == _ORDERS.c.id))
         .where(_NAMED).limit(1))
_LINES = select(_ITEMS).where(_ITEMS.c.order_id == bindparam("b_order")).order_by(_ITEMS.c.position)
_ORDER_KEYS = tuple(c.key for c in _ORDERS.c)
_PAYMENT_KEYS = tuple(c.key for c in _PAYMENTS.c)
_LAZY = (lazyload(Order.items), lazyload(Order.history))
_LOCK_PAYMENT = (select(Payment).where(Payment.order_id == select(Order.id).where(_NAMED).limit(1).scalar_subquery())
                 .with_for_update().execution_options(populate_existing=True))
_FIND_ORDER = select(Order.id).where(_NAMED).limit(1)
_LOCK_ORDER = (select(Order).where(Order.id == bindparam("b_order")).options(*_LAZY).with_for_update()
               .execution_options(populate_existing=True))


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
    if lock:
        # Loaded only when used: the lines when asked for, the history never (``note()``
        # adds to it without loading it).
        order, payment = _lock_named(session, key)
        return order_view_of(order, payment, order.items if lines else ())
    row = session.connection().execute(_READ, {"b_key": key}).first()
    if row is None:
        raise NotFound("no such order", code="order_not_found")
    split = len(_ORDER_KEYS)
    read = SimpleNamespace(**dict(zip(_ORDER_KEYS, row[:split], strict=True)))
    payment = SimpleNamespace(**dict(zip(_PAYMENT_KEYS, row[split:], strict=True))) if row[split] is not None else None
    items = session.connection().execute(_LINES, {"b_order": read.id}).all() if lines else ()
    return order_view_of(read, payment, items)


def _lock_named(session: Session, key: str) -> tuple[Order, Payment | None]:
    """The payment, then the order named by ``key`` (id or number), locked ``FOR UPDATE`` as
    :func:`~toolbox_core.orders.service.lock_order` does, and recorded by :func:`~toolbox_core.orders.service.remember_locks`."""
    payment = session.scalar(_LOCK_PAYMENT, {"b_key": key})
    # No payment: an order without one (or no such order).
    found = session.scalar(_FIND_ORDER, {"b_key": key}) if payment is None else payment.order_id
    order = session.scalar(_LOCK_ORDER, {"b_order": found}) if found is not None else None
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    remember_locks(session, order, payment)
    return order, payment


def order_view_of(order: Any, payment: Any, items: Any) -> OrderView:
    """The view of ``order`` (an ORM object or a row namespace) with ``items`` as its lines
    (and ``payment``, ``None`` for none)."""
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
