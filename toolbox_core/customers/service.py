"""Customers: find-or-create by phone, sessions (sign-in, refresh, sign-out), profile, addresses.

Services own their transactions. Nothing here calls the outside world.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from toolbox_core.customers import otp
from toolbox_core.customers.models import Customer, CustomerAddress, CustomerSession
from toolbox_core.customers.phone import InvalidPhone, normalize_phone
from toolbox_core.db.base import utcnow
from toolbox_core.db.upsert import upsert
from toolbox_core.errors import Conflict, NotFound, Unauthorized
from toolbox_core.events import emit
from toolbox_core.i18n import parse_locale
from toolbox_core.ids import new_id
from toolbox_core.security import new_token, token_hash

log = logging.getLogger("toolbox.customers")

SESSION_PREFIX = "tbx_sess"


@dataclass(frozen=True)
class SignedIn:
    """A new session: the plain token (shown once), its expiry and the customer."""

    token: str
    expires_at: datetime
    customer: Customer
    created: bool = False
    cart_linked: bool | None = None


# ---------------------------------------------------------------------------- customers
def find_or_create_customer(
    session: Session, phone: str, *, name: str | None = None, locale: str | None = None
) -> tuple[Customer, bool]:
    """The customer with ``phone``, created (and ``customer.created`` emitted) if there is none.

    ONE statement, ``INSERT ... ON CONFLICT (phone) DO UPDATE ... RETURNING``: the phone's unique
    constraint makes two concurrent sign-ups for one phone end with one row (the second waits for
    the first and returns its row), and only the one whose new id came back emits the event. A
    ``name`` fills an existing customer's empty one; nothing else of theirs changes.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id("cus"), "phone": phone, "name": name, "locale": locale or "ru",
        "created_at": now, "updated_at": now,
    }
    table = Customer.__table__
    stmt = upsert(session.get_bind().dialect, Customer, values, conflict=["phone"], update=_fill_name(table))
    customer = session.scalars(stmt.returning(Customer), execution_options={"populate_existing": True}).one()
    inserted = customer.id == values["id"]
    if inserted:
        emit(session, "customer.created", {"customer_id": customer.id, "phone": phone, "locale": customer.locale})
    return customer, inserted


def _fill_name(table: Any) -> dict[str, Any]:
    """The ``DO UPDATE`` of a sign-up for a known phone: the offered name only where the stored
    one is empty (and then ``updated_at``); otherwise every value stays as it is."""
    stored, offered = func.nullif(table.c.name, ""), literal_column("excluded.name")
    fills = stored.is_(None) & offered.is_not(None)
    return {"name": func.coalesce(stored, offered, table.c.name),
            "updated_at": case((fills, literal_column("excluded.updated_at")), else_=table.c.updated_at)}


def get_customer(toolbox: Any, customer_id: str) -> Customer:
    with toolbox.db.session() as session:
        customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer not found")
    return customer


def update_profile(toolbox: Any, customer_id: str, changes: dict[str, Any]) -> Customer:
    """Apply validated profile ``changes`` (name, locale, email)."""
    if "locale" in changes:
        changes = {**changes, "locale": parse_locale(changes["locale"], toolbox.settings.locales)}
    with toolbox.db.transaction() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer not found")
        for field, value in changes.items():
            setattr(customer, field, value)
    return customer


def search_customers(toolbox: Any, query: str, limit: int, offset: int) -> list[Customer]:
    """Customers whose phone matches ``query`` (any format) or whose name contains it."""
    stmt = select(Customer).order_by(Customer.created_at.desc(), Customer.id).limit(limit).offset(offset)
    query = query.strip()
    if query:
        try:
            stmt = stmt.where(Customer.phone == normalize_phone(query))
        except InvalidPhone:
            digits = "".join(ch for ch in query if ch.isdigit())
            pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions = [func.lower(Customer.name).like(pattern, escape="\\")]
            if len(digits) >= 4 and len(digits) * 2 >= len(query.replace(" ", "")):
                conditions.append(Customer.phone.contains(digits))
            stmt = stmt.where(or_(*conditions))
    with toolbox.db.session() as session:
        return list(session.scalars(stmt))


# ---------------------------------------------------------------------------- sessions
def _new_session(session: Session, toolbox: Any, customer_id: str) -> tuple[str, datetime]:
    token = new_token(SESSION_PREFIX)
    expires_at = utcnow() + timedelta(seconds=toolbox.settings.auth.session_ttl_seconds)
    session.add(CustomerSession(id=new_id("csess"), token_hash=token_hash(token), customer_id=customer_id, expires_at=expires_at))
    return token, expires_at


def sign_in(
    toolbox: Any,
    verification_token: str,
    *,
    name: str | None = None,
    locale: str | None = None,
    cart_id: str | None = None,
    sign_out_others: bool = False,
) -> SignedIn:
    """The one sign-in flow: consume the verification, find or create the customer, open a session.

    In the same transaction the customer's guest orders (same phone, no customer yet) become
    theirs, ``cart_id`` (a cart the caller proved it holds) is linked, and with
    ``sign_out_others`` every other live session of the customer is revoked.
    """
    if locale is not None:
        locale = parse_locale(locale, toolbox.settings.locales)
    phone = otp.consume_verification(toolbox, verification_token)
    with toolbox.db.transaction() as session:
        customer, created = find_or_create_customer(
            session, phone, name=name, locale=locale or toolbox.settings.default_locale
        )
        claim_guest_orders(session, customer.id, phone)
        linked = link_cart(session, cart_id, customer) if cart_id else None
        if sign_out_others:
            revoke_sessions(session, customer.id)
        token, expires_at = _new_session(session, toolbox, customer.id)
    return SignedIn(token, expires_at, customer, created, linked)


def _domain_model(module: str, name: str) -> Any:
    """A model of another domain, or ``None`` when that domain is not installed."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def claim_guest_orders(session: Session, customer_id: str, phone: str) -> int:
    """Give the guest orders placed with the verified ``phone`` to ``customer_id``; how many.

    One conditional ``UPDATE ... WHERE customer_id IS NULL AND phone = :phone``: idempotent, and
    two processes signing the same phone in at once cannot give an order to two customers (the
    phone is unique, and the row lock of the update serializes them).
    """
    order_model = _domain_model("toolbox_core.orders.models", "Order")
    if order_model is None:
        return 0
    result = session.execute(
        update(order_model)
        .where(order_model.customer_id.is_(None), order_model.phone == phone)
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def link_cart(session: Session, cart_id: str, customer: Customer) -> bool:
    """Give an open guest cart (or one already the customer's) to ``customer``.

    The cart takes the customer's verified phone when it has none, so checkout does not ask
    for it again. The caller must have checked that the shopper holds the cart (its cookie or
    cart token). The cart model belongs to the cart domain; without it nothing is linked.
    """
    cart_model = _domain_model("toolbox_core.cart.models", "Cart")
    if cart_model is None:
        return False
    result = session.execute(
        update(cart_model)
        .where(
            cart_model.id == cart_id,
            cart_model.completed_at.is_(None),
            or_(cart_model.customer_id.is_(None), cart_model.customer_id == customer.id),
        )
        .values(customer_id=customer.id, phone=func.coalesce(cart_model.phone, customer.phone))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def revoke_sessions(session: Session, customer_id: str, *, keep_token: str | None = None) -> int:
    """Revoke every live session of ``customer_id`` (but the one of ``keep_token``); how many."""
    stmt = update(CustomerSession).where(CustomerSession.customer_id == customer_id,
                                         CustomerSession.revoked_at.is_(None))
    if keep_token:
        stmt = stmt.where(CustomerSession.token_hash != token_hash(keep_token))
    return int(session.execute(stmt.values(revoked_at=utcnow())).rowcount or 0)


def refresh_session(toolbox: Any, token: str | None) -> SignedIn:
    """Rotate a live session: the old token is revoked, a new one with a fresh expiry returned."""
    if not token:
        raise Unauthorized("sign in with a phone number first", code="not_signed_in")
    with toolbox.db.transaction() as session:
        customer_id = session.execute(
            update(CustomerSession)
            .where(
                CustomerSession.token_hash == token_hash(token),
                CustomerSession.revoked_at.is_(None),
                CustomerSession.expires_at > utcnow(),
            )
            .values(revoked_at=utcnow())
            .returning(CustomerSession.customer_id)
        ).scalar()
        if customer_id is None:
            raise Unauthorized("the session is expired or revoked; sign in again", code="not_signed_in")
        new, expires_at = _new_session(session, toolbox, customer_id)
        customer = session.get(Customer, customer_id)
    return SignedIn(new, expires_at, customer)  # type: ignore[arg-type]


def sign_out(toolbox: Any, token: str | None, *, everywhere: bool = False) -> bool:
    """Revoke the session of ``token`` (with ``everywhere``, every session of its customer).

    ``True`` if a live session was revoked.
    """
    if not token:
        return False
    with toolbox.db.transaction() as session:
        customer_id = session.execute(
            update(CustomerSession)
            .where(CustomerSession.token_hash == token_hash(token), CustomerSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(CustomerSession.customer_id)
        ).scalar()
        if customer_id is not None and everywhere:
            revoke_sessions(session, customer_id)
    return customer_id is not None


# ---------------------------------------------------------------------------- clean-up
#: Rows deleted per statement by :func:`cleanup_expired`, and statements per run.
CLEANUP_BATCH = 500
CLEANUP_MAX_BATCHES = 20
#: Open carts are deleted this long after they expired (completed carts are kept with their order).
CART_RETENTION = timedelta(days=30)


def _delete_in_batches(toolbox: Any, model: Any, *conditions: Any) -> int:
    """Delete rows of ``model`` matching ``conditions``, a bounded batch per transaction."""
    deleted = 0
    for _ in range(CLEANUP_MAX_BATCHES):
        with toolbox.db.transaction() as session:
            ids = list(session.scalars(select(model.id).where(*conditions).limit(CLEANUP_BATCH)))
            if ids:
                session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
        deleted += len(ids)
        if len(ids) < CLEANUP_BATCH:
            break
    return deleted


def cleanup_expired(toolbox: Any, now: datetime | None = None) -> tuple[int, int]:
    """Delete expired or revoked sessions and open carts expired over 30 days ago (no payment).

    Bounded: at most ``CLEANUP_BATCH * CLEANUP_MAX_BATCHES`` rows of each per run; the next
    run goes on. Returns ``(sessions, carts)`` deleted.
    """
    now = now or utcnow()
    sessions = _delete_in_batches(toolbox, CustomerSession,
                                  or_(CustomerSession.expires_at <= now, CustomerSession.revoked_at.is_not(None)))
    cart_model = _domain_model("toolbox_core.cart.models", "Cart")
    payment_model = _domain_model("toolbox_core.payments.models", "Payment")
    carts = 0
    if cart_model is not None:
        conditions = [cart_model.completed_at.is_(None), cart_model.expires_at <= now - CART_RETENTION]
        if payment_model is not None:
            conditions.append(~exists().where(payment_model.cart_id == cart_model.id))
        carts = _delete_in_batches(toolbox, cart_model, *conditions)
    return sessions, carts


# ---------------------------------------------------------------------------- addresses
def list_addresses(toolbox: Any, customer_id: str) -> list[CustomerAddress]:
    with toolbox.db.session() as session:
        return list(
            session.scalars(
                select(CustomerAddress)
                .where(CustomerAddress.customer_id == customer_id)
                .order_by(CustomerAddress.created_at, CustomerAddress.id)
            )
        )


def add_address(toolbox: Any, customer_id: str, fields: dict[str, Any]) -> CustomerAddress:
    limit = toolbox.settings.auth.max_addresses
    with toolbox.db.transaction() as session:
        count = session.scalar(select(func.count()).where(CustomerAddress.customer_id == customer_id)) or 0
        if count >= limit:
            raise Conflict(f"at most {limit} addresses per customer", code="too_many_addresses")
        address = CustomerAddress(id=new_id("addr"), customer_id=customer_id, **fields)
        session.add(address)
    return address


def _owned_address(session: Session, customer_id: str, address_id: str) -> CustomerAddress:
    address = session.get(CustomerAddress, address_id)
    if address is None or address.customer_id != customer_id:
        raise NotFound("address not found")
    return address


def update_address(toolbox: Any, customer_id: str, address_id: str, changes: dict[str, Any]) -> CustomerAddress:
    with toolbox.db.transaction() as session:
        address = _owned_address(session, customer_id, address_id)
        for field, value in changes.items():
            setattr(address, field, value)
    return address


def delete_address(toolbox: Any, customer_id: str, address_id: str) -> None:
    with toolbox.db.transaction() as session:
        session.delete(_owned_address(session, customer_id, address_id))

