"""Customers: find-or-create by phone, sessions (sign-in, refresh, sign-out), profile, addresses.

Services own their transactions. Nothing here calls the outside world.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from toolbox_core.customers import otp
from toolbox_core.customers.models import Customer, CustomerAddress, CustomerSession
from toolbox_core.customers.phone import InvalidPhone, normalize_phone
from toolbox_core.db.base import utcnow
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

    ``INSERT ... ON CONFLICT (phone) DO NOTHING`` then a read: two concurrent sign-ups for one
    phone end with one row, and only the one that inserted emits the event.
    """
    insert = sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id("cus"), "phone": phone, "name": name, "locale": locale or "ru",
        "created_at": now, "updated_at": now,
    }
    inserted = session.execute(
        insert(Customer).values(**values).on_conflict_do_nothing(index_elements=["phone"]).returning(Customer.id)
    ).scalar()
    customer = session.scalars(select(Customer).where(Customer.phone == phone)).one()
    if inserted:
        emit(session, "customer.created", {"customer_id": customer.id, "phone": phone, "locale": customer.locale})
    elif name and not customer.name:
        customer.name = name
    return customer, bool(inserted)


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
) -> SignedIn:
    """Consume the one-use verification flag, find or create the customer, open a session.

    With ``cart_id`` the guest cart is linked to the customer (when the cart domain exists).
    """
    if locale is not None:
        locale = parse_locale(locale, toolbox.settings.locales)
    phone = otp.consume_verification(toolbox, verification_token)
    with toolbox.db.transaction() as session:
        customer, created = find_or_create_customer(
            session, phone, name=name, locale=locale or toolbox.settings.default_locale
        )
        linked = link_cart(session, cart_id, customer.id) if cart_id else None
        token, expires_at = _new_session(session, toolbox, customer.id)
    return SignedIn(token, expires_at, customer, created, linked)


def link_cart(session: Session, cart_id: str, customer_id: str) -> bool:
    """Give an open guest cart (or one already the customer's) to ``customer_id``.

    The cart model belongs to the cart domain (``toolbox_core.cart.models.Cart``); without it
    nothing is linked.
    """
    try:
        cart_model = importlib.import_module("toolbox_core.cart.models").Cart
    except (ImportError, AttributeError):
        return False
    result = session.execute(
        update(cart_model)
        .where(
            cart_model.id == cart_id,
            cart_model.completed_at.is_(None),
            or_(cart_model.customer_id.is_(None), cart_model.customer_id == customer_id),
        )
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


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


def sign_out(toolbox: Any, token: str | None) -> bool:
    """Revoke the session of ``token``; ``True`` if a live session was revoked."""
    if not token:
        return False
    with toolbox.db.transaction() as session:
        result = session.execute(
            update(CustomerSession)
            .where(CustomerSession.token_hash == token_hash(token), CustomerSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return result.rowcount == 1


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

