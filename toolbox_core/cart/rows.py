"""A cart and its lines read and written with core statements: no ORM unit of work per request.

Every store call on a cart reads it once (:func:`load`: the cart row and its lines in one
statement, ``FOR UPDATE OF carts`` when it changes the cart), changes the plain
:class:`CartRow` (:meth:`CartRow.set`) and writes the changed columns in one ``UPDATE``
(:func:`save`; ``updated_at`` moves with it). Lines are inserted, updated and deleted one
statement each. The statements are built once, at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from toolbox_core.cart.models import Cart, CartLine

_CARTS = Cart.__table__
_LINES = CartLine.__table__
#: The cart columns a :class:`CartRow` carries, in its field order.
COLUMNS = ("id", "status", "locale", "customer_id", "phone", "email", "address", "shipping", "payment_provider_id",
           "order_id", "expires_at", "completed_at")

_SELECT = (
    select(*(_CARTS.c[name] for name in COLUMNS), _LINES.c.id.label("line_id"), _LINES.c.variant_id,
           _LINES.c.quantity, _LINES.c.position)
    .select_from(_CARTS.outerjoin(_LINES, _LINES.c.cart_id == _CARTS.c.id))
    .where(_CARTS.c.id == bindparam("cart_id"))
    .order_by(_LINES.c.position, _LINES.c.id)
)
_LOCK = _SELECT.with_for_update(of=_CARTS)
_UPDATE_CART = update(_CARTS).where(_CARTS.c.id == bindparam("b_id"))
_INSERT_CART = insert(_CARTS)
_INSERT_LINE = insert(_LINES)
_SET_QUANTITY = update(_LINES).where(_LINES.c.id == bindparam("b_id")).values(quantity=bindparam("b_quantity"))
_DELETE_LINE = delete(_LINES).where(_LINES.c.id == bindparam("b_id"))


@dataclass(eq=False)
class LineRow:
    """One line of a :class:`CartRow`."""

    id: str
    variant_id: str
    quantity: int
    position: int


@dataclass(eq=False)
class CartRow:
    """A cart as read by :func:`load`: the columns of :class:`~toolbox_core.cart.models.Cart` and its lines."""

    id: str
    status: str
    locale: str
    customer_id: str | None
    phone: str | None
    email: str | None
    address: dict[str, Any] | None
    shipping: dict[str, Any] | None
    payment_provider_id: str | None
    order_id: str | None
    expires_at: datetime
    completed_at: datetime | None = None
    lines: list[LineRow] = field(default_factory=list)
    #: Columns changed since it was read, written by :func:`save`.
    changes: dict[str, Any] = field(default_factory=dict, repr=False)

    def set(self, **values: Any) -> None:
        """Change columns (written by :func:`save`)."""
        for name, value in values.items():
            setattr(self, name, value)
        self.changes.update(values)


def load(session: Session, cart_id: str, *, lock: bool) -> CartRow | None:
    """The cart ``cart_id`` with its lines (by position), row-locked when ``lock``; ``None`` if absent."""
    rows = session.connection().execute(_LOCK if lock else _SELECT, {"cart_id": cart_id}).all()
    if not rows:
        return None
    cart = CartRow(*rows[0][:len(COLUMNS)])
    cart.lines = [LineRow(r.line_id, r.variant_id, r.quantity, r.position) for r in rows if r.line_id is not None]
    return cart


def save(session: Session, cart: CartRow) -> None:
    """Write the cart's changed columns (one ``UPDATE``; nothing when none changed)."""
    if cart.changes:
        session.connection().execute(_UPDATE_CART, {"b_id": cart.id, **cart.changes})
        cart.changes = {}


def insert_cart(session: Session, cart: CartRow) -> None:
    """Insert a new cart (without lines)."""
    session.connection().execute(_INSERT_CART, {name: getattr(cart, name) for name in COLUMNS})


def add_line(session: Session, cart: CartRow, line: LineRow) -> None:
    session.connection().execute(_INSERT_LINE, {"id": line.id, "cart_id": cart.id, "variant_id": line.variant_id,
                                                "quantity": line.quantity, "position": line.position})
    cart.lines.append(line)


def set_quantity(session: Session, line: LineRow, quantity: int) -> None:
    session.connection().execute(_SET_QUANTITY, {"b_id": line.id, "b_quantity": quantity})
    line.quantity = quantity


def remove_line(session: Session, cart: CartRow, line: LineRow) -> None:
    session.connection().execute(_DELETE_LINE, {"b_id": line.id})
    cart.lines.remove(line)
