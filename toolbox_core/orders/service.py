"""Order lifecycle: numbering, history, cancel / fulfil / deliver, and read models.

State changes lock the payment row first, then the order row (the same order the payment
service uses), so a gateway capture and an admin cancel or the expiry job never interleave.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, object_session

from toolbox_core.clientip import address_bucket
from toolbox_core.customers.phone import InvalidPhone, normalize_phone
from toolbox_core.customers.schemas import public_address
from toolbox_core.db.base import utcnow
from toolbox_core.db.upsert import insert_ignoring
from toolbox_core.errors import Conflict, NotFound, RateLimited
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.combined import history_values
from toolbox_core.orders.models import Counter, Order, OrderHistory
from toolbox_core.params import CreatedRange
from toolbox_core.payments.models import Payment, PaymentTransaction
from toolbox_core.schemas import iso_utc

ORDER_NUMBER_START = 1000
#: Window of the guest order-lookup limits.
LOOKUP_WINDOW_SECONDS = 3600
#: On PostgreSQL order numbers come from this sequence (migration ``0003_checkoutperf``), so
#: concurrent checkouts never queue on one counter row. A sequence is not transactional: a
#: checkout that fails after drawing its number (rare: it is drawn after stock is held, as the
#: last step but one) leaves a gap. Numbers stay unique and increasing, never reused. SQLite keeps
#: the ``order_number`` row of :class:`Counter` (its writers are serialized anyway; no gaps).
ORDER_NUMBER_SEQUENCE = "order_numbers"

def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def next_order_number(session: Session) -> str:
    """The next sequential order number (``"1001"``, ``"1002"``...).

    PostgreSQL: ``nextval`` of :data:`ORDER_NUMBER_SEQUENCE` (no lock, gaps possible);
    SQLite: the counter row, locked until commit.
    """
    if _is_postgres(session):
        return str(session.execute(text(f"SELECT nextval('{ORDER_NUMBER_SEQUENCE}')")).scalar_one())
    bump = (update(Counter).where(Counter.name == "order_number").values(value=Counter.value + 1)
            .returning(Counter.value))
    result = session.execute(bump).scalar()
    if result is None:  # the very first order: create the counter, racing writers tolerated
        session.execute(insert_ignoring("sqlite", Counter, {"name": "order_number", "value": ORDER_NUMBER_START},
                                        conflict=["name"]))
        result = session.execute(bump).scalar()
    return str(result)


def number_order(session: Session, order_id: str, *, kind: str, message: str, actor: str) -> str:
    """Give the stored order ``order_id`` the next number and note ``kind`` in its history
    (``{number}`` in ``message`` becomes the number); returns the number.

    For callers that wrote the order with core statements (SQLite's checkout; PostgreSQL's
    draws the number inside its one placing statement): three statements.
    """
    at = utcnow()
    number = next_order_number(session)
    session.execute(update(Order.__table__).where(Order.id == order_id).values(number=number, updated_at=at))
    session.execute(insert(OrderHistory.__table__).values(order_id=order_id, at=at, kind=kind, actor=actor,
                                                          message=message.replace("{number}", number)))
    return number


#: The history entry of a stored order whose history is not loaded (core, no unit of work).
_INSERT_NOTE = insert(OrderHistory.__table__)


def note_row(session: Session, order_id: str, kind: str, message: str = "", actor: str = "system") -> None:
    """Add an entry to the history of the stored order ``order_id`` (one INSERT, nothing loaded)."""
    session.connection().execute(_INSERT_NOTE, history_values(order_id, kind, message, actor, utcnow()))


def note(order: Order, kind: str, message: str = "", actor: str = "system") -> None:
    """Add an entry to ``order``'s history (in its session's transaction)."""
    session = object_session(order)
    state = sa_inspect(order)
    if session is not None and state.persistent and "history" in state.unloaded:
        # Not loaded (a gateway callback never reads it): write the entry at once without
        # loading the whole history first; a later read of the history sees it.
        note_row(session, order.id, kind, message, actor)
    else:
        order.history.append(OrderHistory(kind=kind, message=message, actor=actor, at=utcnow()))


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
    remember_locks(session, order, payment)
    return order, payment


def remember_locks(session: Session, order: Order, payment: Payment | None) -> None:
    """Note that this transaction holds the row locks of ``order`` (and ``payment``)."""
    held = held_locks(session)
    held[("orders", order.id)] = order
    if payment is not None:
        held[("payments", payment.id)] = payment


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
    return iso_utc(value)


#: Prefix of the actor of a change made with an admin API key (``admin:<key name>``).
STAFF_ACTOR_PREFIX = "admin:"
#: What a shopper sees instead of a staff key's name.
STORE_ACTOR = "store"


def shopper_actor(actor: str) -> str:
    """The actor of a history entry as a shopper sees it: staff key names become ``"store"``."""
    return STORE_ACTOR if actor.startswith(STAFF_ACTOR_PREFIX) else actor


#: The longest order id or number looked up (ids are 30 characters, numbers at most 20).
MAX_ORDER_KEY = 40


def find_order(session: Session, key: str) -> Order | None:
    """The order whose id (``ord_...``) or number (``"1001"``, ``"#1001"``) is ``key``."""
    key = key.strip()
    if not key or len(key) > MAX_ORDER_KEY:
        return None
    if key.startswith("ord_"):
        return session.get(Order, key)
    return session.scalar(select(Order).where(Order.number == key.lstrip("#")))


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
        "address": public_address(order.address),
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
        "history": [{"at": _iso(h.at), "kind": h.kind, "message": h.message,
                     "actor": h.actor if admin else shopper_actor(h.actor)}
                    for h in order.history],
    }
    if payment is not None:
        data["payment"] = {"id": payment.id, "provider_id": payment.provider_id, "status": payment.status,
                           "amount": payment.amount, "action": payment.action}
    if admin:
        data["customer_id"] = order.customer_id
        data["cart_id"] = order.cart_id
    return data


def search_orders(q: str) -> Any:
    """The admin search ``q``: an order's number (``1001``, ``#1001``), its id, part of its phone,
    or a phone written any way a person writes one (``90 123 45 67``, ``+998 (90) 123-45-67``,
    ``8 90 1234567``), matched as the ``+998XXXXXXXXX`` orders store."""
    term = q.strip()
    matches = [Order.number == term.lstrip("#"), Order.id == term,
               Order.phone.contains(term, autoescape=True)]
    with suppress(InvalidPhone):  # not a phone: number, id and part of a phone still match
        matches.append(Order.phone == normalize_phone(term))
    return or_(*matches)


class OrderService:
    """Reading and changing orders (admin and store API)."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    def get(self, key: str, *, admin: bool = False) -> dict[str, Any]:
        """The order whose id or number (``"1001"``, ``"#1001"``) is ``key``; 404 otherwise."""
        with self.toolbox.db.session() as session:
            order = find_order(session, key)
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            return serialize_order(order, payment_of(session, order.id), admin=admin)

    def get_for_shopper(self, key: str, customer_id: str | None, phone: str | None, *,
                        client_ip: str | None = None) -> dict[str, Any]:
        """A customer's own order, or a guest's order plus the phone it was placed with.

        ``key`` is the order's id or its number. Guest lookups (with ``phone``) are limited
        per order and per client address (``auth.order_lookup_max_per_hour``,
        ``auth.order_lookup_max_per_ip_per_hour``; counted in the key store): 429 beyond.
        """
        with self.toolbox.db.session() as session:
            order = find_order(session, key)
            if order is not None and customer_id is not None and order.customer_id == customer_id:
                return serialize_order(order, payment_of(session, order.id))
            order_id, order_phone = (order.id, order.phone) if order is not None else (None, None)
        if phone is None:
            raise NotFound("no such order", code="order_not_found")
        self._limit_guest_lookup(order_id or key.strip().lstrip("#"), client_ip)
        if order_id is None or order_phone != phone:
            raise NotFound("no such order", code="order_not_found")
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            return serialize_order(order, payment_of(session, order_id))  # type: ignore[arg-type]

    def _limit_guest_lookup(self, order_key: str, client_ip: str | None) -> None:
        """Count a guest lookup against the order and the client address; 429 over a limit."""
        auth = self.toolbox.settings.auth
        store = self.toolbox.keystore
        checks = [(f"orders:lookup:ip:{address_bucket(client_ip)}", auth.order_lookup_max_per_ip_per_hour,
                   "too many order lookups from this address; try later")] if client_ip else []
        checks.append((f"orders:lookup:order:{order_key}", auth.order_lookup_max_per_hour,
                       "too many lookups of this order; try later"))
        for key, limit, message in checks:
            hit = store.hit(key, LOOKUP_WINDOW_SECONDS)
            if hit.count > limit:
                raise RateLimited(message, retry_after=hit.reset_in)

    def list(self, *, customer_id: str | None = None, status: str | None = None,
             payment_status: str | None = None, fulfillment_status: str | None = None,
             q: str | None = None, created: CreatedRange | None = None, limit: int = 50,
             offset: int = 0) -> dict[str, Any]:
        """Orders newest first, filtered (``created``: a range of ``created_at``, :mod:`toolbox_core.params`)."""
        stmt = select(Order) if created is None else created.apply(select(Order), Order.created_at)
        if customer_id is not None:
            stmt = stmt.where(Order.customer_id == customer_id)
        if status:
            stmt = stmt.where(Order.status == status)
        if payment_status:
            stmt = stmt.where(Order.payment_status == payment_status)
        if fulfillment_status:
            stmt = stmt.where(Order.fulfillment_status == fulfillment_status)
        if q and q.strip():
            stmt = stmt.where(search_orders(q))
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
