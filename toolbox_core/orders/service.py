"""Order lifecycle: numbering, history, cancel / fulfil / deliver, and read models.

State changes lock the payment row first, then the order row (the same order the payment
service uses), so a gateway capture and an admin cancel or the expiry job never interleave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, object_session

from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, NotFound
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.models import Counter, Order, OrderHistory
from toolbox_core.payments.models import Payment, PaymentTransaction

ORDER_NUMBER_START = 1000


def next_order_number(session: Session) -> str:
    """The next sequential order number (``"1001"``, ``"1002"``...); row-locked until commit."""
    bump = (update(Counter).where(Counter.name == "order_number").values(value=Counter.value + 1)
            .returning(Counter.value))
    result = session.execute(bump).scalar()
    if result is None:  # the very first order: create the counter, racing writers tolerated
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Counter).values(name="order_number", value=ORDER_NUMBER_START)
                        .on_conflict_do_nothing(index_elements=["name"]))
        result = session.execute(bump).scalar()
    return str(result)


def note(order: Order, kind: str, message: str = "", actor: str = "system") -> None:
    entry = OrderHistory(kind=kind, message=message, actor=actor, at=utcnow())
    session = object_session(order)
    if session is not None and "history" in sa_inspect(order).unloaded:
        # Not loaded (a gateway callback never reads it): add the entry without loading the
        # whole history first; a later read in this session autoflushes and sees it.
        entry.order_id = order.id
        session.add(entry)
    else:
        order.history.append(entry)


def payment_of(session: Session, order_id: str, *, lock: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.order_id == order_id)
    return session.scalar(stmt.with_for_update().execution_options(populate_existing=True) if lock else stmt)


def held_locks(session: Session) -> dict[tuple[str, str], Any]:
    """The rows this session's current transaction locked ``FOR UPDATE``: ``(table, id)`` → object.

    A row locked (and reloaded) once in a transaction is current until COMMIT, so a later step
    of the same transaction (a gateway report after the plugin locked the order) uses it as it
    is instead of locking and reloading it again. Keeping the objects here also keeps them in
    the session's (weak) identity map.
    """
    transaction = session.get_transaction()
    held = session.info.get("toolbox.locks")
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info["toolbox.locks"] = held
    return held[1]


def lock_order(session: Session, order_id: str) -> tuple[Order, Payment | None]:
    """Payment row, then order row, locked for update (one global lock order)."""
    payment = payment_of(session, order_id, lock=True)
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    held = held_locks(session)
    held[("orders", order.id)] = order
    if payment is not None:
        held[("payments", payment.id)] = payment
    return order, payment


def cancel_in_session(session: Session, order: Order, payment: Payment | None, *, reason: str, actor: str,
                      refunded: bool = False) -> None:
    """Cancel ``order``: release held stock (or put sold stock back), close the payment, emit."""
    if order.status == "canceled":
        return
    inventory.release(session, order.id)
    inventory.restock(session, order.id)
    order.status = "canceled"
    order.canceled_at = utcnow()
    if payment is not None and payment.status in ("pending", "authorized"):
        payment.status = "canceled"
        order.payment_status = "canceled"
    if refunded:
        order.payment_status = "refunded"
    note(order, "canceled", reason, actor)
    emit(session, "order.canceled", {"order_id": order.id, "number": order.number, "reason": reason,
                                     "payment_status": order.payment_status, "total": order.total,
                                     "currency": order.currency, "phone": order.phone, "locale": order.locale})


def check_cancellable(order: Order) -> None:
    """409 when ``order`` may no longer be canceled (already canceled, or delivered)."""
    if order.status == "canceled":
        raise Conflict("the order is already canceled", code="order_canceled")
    if order.fulfillment_status == "delivered":
        raise Conflict("a delivered order cannot be canceled", code="order_delivered")


def payment_event(order: Order | None, payment: Payment, **extra: Any) -> dict[str, Any]:
    """The payload of the ``payment.*`` events: the payment plus what notifiers need of the order."""
    payload: dict[str, Any] = {"order_id": payment.order_id, "payment_id": payment.id,
                               "provider_id": payment.provider_id}
    if order is not None:
        payload.update(number=order.number, total=order.total, phone=order.phone, locale=order.locale)
    payload.update(extra)
    return payload


def capture_cash_in_session(session: Session, order: Order, payment: Payment, *, actor: str) -> None:
    """Cash collected by the courier: record the capture of a pay-on-delivery payment."""
    session.add(PaymentTransaction(id=new_id("ptx"), payment_id=payment.id, provider_id=payment.provider_id,
                                   gateway_transaction_id=f"cash:{order.id}", kind="capture",
                                   amount=payment.amount, currency=payment.currency, data={"actor": actor}))
    payment.status = "captured"
    payment.captured_amount = payment.amount
    order.payment_status = "paid"
    note(order, "payment_captured", "cash collected", actor)
    emit(session, "payment.captured", payment_event(order, payment, amount=payment.amount))


def expire_unpaid(toolbox: Any, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Cancel online orders still unpaid after ``payment_timeout_seconds``; returns their ids."""
    now = now or datetime.now(UTC)
    with toolbox.db.session() as session:
        ids = list(session.scalars(
            select(Order.id).where(Order.status == "pending_payment", Order.payment_expires_at <= now)
            .order_by(Order.payment_expires_at).limit(limit)
        ))
    expired = []
    for order_id in ids:
        with toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            if order.status != "pending_payment" or (payment is not None and payment.status == "captured"):
                continue
            cancel_in_session(session, order, payment, reason="payment_timeout", actor="system")
            expired.append(order_id)
    return expired


# ------------------------------------------------------------------------------ read models
def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def serialize_order(order: Order, payment: Payment | None = None, *, admin: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "payment_status": order.payment_status,
        "fulfillment_status": order.fulfillment_status,
        "locale": order.locale,
        "phone": order.phone,
        "email": order.email,
        "address": order.address,
        "shipping": order.shipping,
        "currency": order.currency,
        "totals": {"subtotal": order.subtotal, "shipping": order.shipping_total,
                   "discount": order.discount_total, "total": order.total},
        "items": [
            {"variant_id": i.variant_id, "product_id": i.product_id, "sku": i.sku, "title": i.title,
             "quantity": i.quantity, "unit_price": i.unit_price, "total": i.total}
            for i in order.items
        ],
        "payment": None,
        "created_at": _iso(order.created_at),
        "payment_expires_at": _iso(order.payment_expires_at),
        "history": [{"at": _iso(h.at), "kind": h.kind, "message": h.message, "actor": h.actor}
                    for h in order.history],
    }
    if payment is not None:
        data["payment"] = {"id": payment.id, "provider_id": payment.provider_id, "status": payment.status,
                           "amount": payment.amount, "action": payment.action}
    if admin:
        data["customer_id"] = order.customer_id
        data["cart_id"] = order.cart_id
    return data


class OrderService:
    """Reading and changing orders (admin and store API)."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    def get(self, order_id: str, *, admin: bool = False) -> dict[str, Any]:
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            return serialize_order(order, payment_of(session, order_id), admin=admin)

    def get_for_shopper(self, order_id: str, customer_id: str | None, phone: str | None) -> dict[str, Any]:
        """A customer's own order, or a guest's order by its id plus the phone it was placed with."""
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            allowed = order is not None and (
                (customer_id is not None and order.customer_id == customer_id)
                or (phone is not None and order.phone == phone)
            )
            if not allowed:
                raise NotFound("no such order", code="order_not_found")
            return serialize_order(order, payment_of(session, order_id))

    def list(self, *, customer_id: str | None = None, status: str | None = None,
             payment_status: str | None = None, fulfillment_status: str | None = None,
             q: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        stmt = select(Order)
        if customer_id is not None:
            stmt = stmt.where(Order.customer_id == customer_id)
        if status:
            stmt = stmt.where(Order.status == status)
        if payment_status:
            stmt = stmt.where(Order.payment_status == payment_status)
        if fulfillment_status:
            stmt = stmt.where(Order.fulfillment_status == fulfillment_status)
        if q:
            like = f"%{q.strip()}%"
            stmt = stmt.where(or_(Order.number == q.strip().lstrip("#"), Order.phone.like(like),
                                  Order.id == q.strip()))
        with self.toolbox.db.session() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            orders = session.scalars(stmt.order_by(Order.created_at.desc(), Order.id.desc())
                                     .limit(limit).offset(offset)).all()
            return {"items": [serialize_order(o, admin=customer_id is None) for o in orders],
                    "total": total, "limit": limit, "offset": offset}

    # -------------------------------------------------------------- admin changes
    # (cancel and refunds involve the payment provider: see toolbox_core.workflows.orders)
    def fulfill(self, order_id: str, *, actor: str) -> dict[str, Any]:
        """Mark shipped/handed over: held stock becomes sold."""
        with self.toolbox.db.transaction() as session:
            order, _ = lock_order(session, order_id)
            if order.status != "placed" or order.fulfillment_status != "unfulfilled":
                raise Conflict(f"cannot fulfil an order that is {order.status}/{order.fulfillment_status}",
                               code="invalid_order_state")
            inventory.convert(session, order.id)
            order.fulfillment_status = "fulfilled"
            note(order, "fulfilled", "", actor)
            emit(session, "order.fulfilled", {"order_id": order.id, "number": order.number})
        return self.get(order_id, admin=True)

    def deliver(self, order_id: str, *, actor: str) -> dict[str, Any]:
        """Mark delivered; cash on delivery is captured at this moment."""
        with self.toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            deliver_in_session(self.toolbox, session, order, payment, actor=actor)
        return self.get(order_id, admin=True)


def is_online(toolbox: Any, payment: Payment) -> bool:
    """Whether ``payment`` is taken by an online gateway (else it is cash on delivery)."""
    provider = toolbox.payment_providers.get(payment.provider_id)
    return bool(getattr(provider, "online", False))


def deliver_in_session(toolbox: Any, session: Session, order: Order, payment: Payment | None, *,
                       actor: str) -> None:
    """Mark a locked ``order`` delivered; cash on delivery is captured here, in the caller's transaction."""
    if order.status != "placed" or order.fulfillment_status == "delivered":
        raise Conflict(f"cannot deliver an order that is {order.status}/{order.fulfillment_status}",
                       code="invalid_order_state")
    inventory.convert(session, order.id)
    order.fulfillment_status = "delivered"
    order.status = "completed"
    note(order, "delivered", "", actor)
    if payment is not None and payment.status == "pending" and not is_online(toolbox, payment):
        capture_cash_in_session(session, order, payment, actor=actor)
    emit(session, "order.delivered", {"order_id": order.id, "number": order.number})
