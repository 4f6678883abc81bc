"""A cart and its lines read and written with core statements: no ORM unit of work per request.

Every store call on a cart reads it once (:func:`load`): the cart row, its lines and its
pending payment session in one statement, on PostgreSQL with its lines' catalog snapshots
(locked for checkout). It changes the plain :class:`CartRow` (:meth:`CartRow.set`,
:func:`add_line`, :func:`set_quantity`, :func:`remove_line`, :func:`add_payment`,
:func:`switch_payment` only record the change) and writes everything with :func:`write`.

:func:`write` is optimistic: it applies the changes only if the cart row is still the version
that was read (its ``updated_at``, which every write of the row moves) and still ``open``, and
moves the version. A writer that loses the race (or a cart completed meanwhile: completing
writes the row under its lock) writes nothing and learns it from the result, so the caller
reads again. On PostgreSQL the whole write is ONE statement (data-modifying CTEs hanging off
the version-checked ``UPDATE carts``), run on an autocommit connection: no ``BEGIN``/``COMMIT``
round trips, and the cart row is locked only for that statement. On SQLite the same steps run
one statement each inside the caller's (``BEGIN IMMEDIATE``) transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from toolbox_core.cart.models import Cart, CartLine
from toolbox_core.catalog.snapshots import VariantSnapshot, snapshot_branches, snapshots_from_rows
from toolbox_core.db import fast
from toolbox_core.db.sql import insert_select, without_wal_flush
from toolbox_core.payments.models import Payment

_CARTS = Cart.__table__
_LINES = CartLine.__table__
_PAYMENTS = Payment.__table__
#: The cart columns a :class:`CartRow` carries, in its field order.
COLUMNS = ("id", "status", "locale", "customer_id", "phone", "email", "address", "shipping", "payment_provider_id",
           "order_id", "expires_at", "completed_at", "updated_at")
#: Cart columns a :func:`write` may change (``updated_at`` is the version it moves itself).
WRITABLE = tuple(name for name in COLUMNS if name not in ("id", "updated_at"))

#: The cart's payment session not yet attached to an order (there is at most one), joined in.
_PENDING = _PAYMENTS.alias("pending")
#: The version this statement's snapshot sees. When ``FOR UPDATE`` waited for a writer, the locked
#: cart row is its newest version but the joined lines are still the snapshot's: the two differ.
_SEEN = _CARTS.alias("seen")
_SEEN_VERSION = select(_SEEN.c.updated_at).where(_SEEN.c.id == _CARTS.c.id).correlate(_CARTS).scalar_subquery()
#: The columns of the snapshot rows (:func:`~toolbox_core.catalog.snapshots.snapshot_branches`).
_SNAPSHOT_NAMES = ("owner", "locale", "title", "product_id", "sku", "price", "weight_grams", "mxik_code",
                   "package_code", "vat_percent", "status", "handle")
_NULL = literal_column("NULL")


def _read_statement(catalog: bool, extra: bool, lock: bool) -> Any:
    """The cart's rows (kind ``'c'``: its columns as ``cart_<name>``, one row per line, its pending
    payment session); with ``catalog``, then the catalog snapshot rows of its lines (and of
    ``extra``, a variant being added, with its stock), the two padded to the same columns.

    ``lock``: the cart row is locked by a CTE (a UNION cannot be ``FOR UPDATE``) and its rows
    carry the version the statement's snapshot saw (``snapshot_version``)."""
    cart: Any = _CARTS
    if lock:
        cart = (select(*(_CARTS.c[name] for name in COLUMNS), _SEEN_VERSION.label("snapshot_version"))
                .where(_CARTS.c.id == bindparam("cart_id")).with_for_update().cte("locked"))
    part = (*(cart.c[name].label(f"cart_{name}") for name in COLUMNS), _LINES.c.id.label("line_id"),
            _LINES.c.variant_id.label("line_variant"), _LINES.c.quantity, _LINES.c.position,
            _PENDING.c.id.label("pending_id"), _PENDING.c.provider_id.label("pending_provider"),
            _PENDING.c.status.label("pending_status"), _PENDING.c.currency.label("pending_currency"),
            *([cart.c.snapshot_version] if lock else []))
    head = [literal_column("'c'").label("kind"), *(_NULL.label(n) for n in _SNAPSHOT_NAMES if catalog)]
    rows = select(*head, *part).select_from(
        cart.outerjoin(_LINES, _LINES.c.cart_id == cart.c.id)
        .outerjoin(_PENDING, (_PENDING.c.cart_id == cart.c.id) & _PENDING.c.order_id.is_(None)
                   & (_PENDING.c.status == "pending")))
    if not lock:
        rows = rows.where(_CARTS.c.id == bindparam("cart_id"))
    if not catalog:
        return rows
    ids: Any = select(_LINES.c.variant_id).where(_LINES.c.cart_id == bindparam("cart_id"))
    if extra:
        ids = union_all(ids, select(cast(bindparam("extra"), String)))
    branches = snapshot_branches(ids, bindparam("locales", type_=ARRAY(String)),  # PostgreSQL: an array
                                 select(cast(bindparam("extra"), String)) if extra else None)
    padding = [_NULL] * len(part)
    return union_all(rows, *(branch.add_columns(*padding) for branch in branches))


@dataclass
class Catalog:
    """The snapshot rows read with a cart, named in any locale they were read in."""

    rows: list[Any]
    default_locale: str
    stock_ids: tuple[str, ...] = ()

    def snapshots(self, locale: str) -> dict[str, VariantSnapshot]:
        return snapshots_from_rows(self.rows, locale, self.default_locale, self.stock_ids)


#: :func:`load`'s statements by (with the catalog, with an extra variant, locked).
_READ = {(catalog, extra, lock): _read_statement(catalog, extra, lock)
         for catalog in (False, True) for extra in (False, catalog) for lock in (False, True)}
_INSERT_CART = insert(_CARTS)
_INSERT_CART_NO_FLUSH = insert(_CARTS).returning(without_wal_flush())
_INSERT_LINE = insert(_LINES)
_SET_QUANTITY = update(_LINES).where(_LINES.c.id == bindparam("b_id")).values(quantity=bindparam("b_quantity"))
_DELETE_LINE = delete(_LINES).where(_LINES.c.id == bindparam("b_id"))
_INSERT_PAYMENT = insert(_PAYMENTS)
_SWITCH_PAYMENT = update(_PAYMENTS).where(_PAYMENTS.c.id == bindparam("b_id"))
#: SQLite: the version-checked update of the cart row (its changed columns added per call).
_BUMP = update(_CARTS).where(_CARTS.c.id == bindparam("b_id"), _CARTS.c.updated_at == bindparam("b_seen"),
                             _CARTS.c.status == "open")
#: The unconditional update of a cart row read under its lock (checkout).
_UPDATE_CART = update(_CARTS).where(_CARTS.c.id == bindparam("b_id"))


@dataclass(eq=False)
class LineRow:
    """One line of a :class:`CartRow`."""

    id: str
    variant_id: str
    quantity: int
    position: int


@dataclass(frozen=True)
class PaymentRef:
    """A cart's payment session as its JSON shows it."""

    id: str
    provider_id: str
    status: str = "pending"
    currency: str = "UZS"


@dataclass(eq=False)
class CartRow:
    """A cart as read by :func:`load`: the columns of :class:`~toolbox_core.cart.models.Cart`, its
    lines and its pending payment session."""

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
    #: The version read (``None``: a cart not stored yet).
    updated_at: datetime | None = None
    lines: list[LineRow] = field(default_factory=list)
    #: The payment session not yet attached to an order (``None``: none chosen yet).
    payment: PaymentRef | None = None
    #: Columns changed since it was read, written by :func:`write`.
    changes: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Line and payment-session changes since it was read: ``(kind, params)``, written by :func:`write`.
    ops: list[tuple[str, dict[str, Any]]] = field(default_factory=list, repr=False)

    def set(self, **values: Any) -> None:
        """Change columns (written by :func:`write`)."""
        for name, value in values.items():
            setattr(self, name, value)
        self.changes.update(values)


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def load(db: Session | Connection, cart_id: str, *, lock: bool = False, locales: list[str] | None = None,
         default_locale: str = "", extra: str | None = None) -> tuple[CartRow | None, Catalog | None]:
    """The cart ``cart_id`` with its lines (by position) and pending payment session, row-locked
    when ``lock`` (``None`` if absent), in one statement (two when the lock waited for a writer).

    With ``locales`` (PostgreSQL), the same statement also reads the catalog snapshot rows of its
    lines and of ``extra`` (a variant being added, with its stock), titles in ``locales``
    (``default_locale`` when one is missing): the :class:`Catalog`, else ``None``."""
    conn = _conn(db)
    params: dict[str, Any] = {"cart_id": cart_id}
    if locales is None:
        extra = None  # its snapshot is read with the catalog only
    else:
        params["locales"] = locales
    if extra is not None:
        params["extra"] = extra
    statement = _READ[(locales is not None, extra is not None, lock)]
    found = fast.execute(conn, statement, params).all()
    mine = [r for r in found if r.kind == "c"]
    if lock and mine and mine[0].snapshot_version != mine[0].cart_updated_at:
        found = fast.execute(conn, statement, params).all()  # changed while we waited; the lock is ours now
        mine = [r for r in found if r.kind == "c"]
    catalog = None
    if locales is not None:
        catalog = Catalog([r for r in found if r.kind != "c"], default_locale, (extra,) if extra is not None else ())
    if not mine:
        return None, catalog
    first = mine[0]
    cart = CartRow(*(getattr(first, f"cart_{name}") for name in COLUMNS))
    # One row per line: the join adds at most one payment row (uq_payments_pending_cart).
    lines = sorted((r for r in mine if r.line_id is not None), key=lambda r: (r.position, r.line_id))
    cart.lines = [LineRow(r.line_id, r.line_variant, r.quantity, r.position) for r in lines]
    if first.pending_id is not None:
        cart.payment = PaymentRef(first.pending_id, first.pending_provider, first.pending_status,
                                  first.pending_currency)
    return cart, catalog


def save(db: Session | Connection, cart: CartRow) -> None:
    """Write the changed columns of a cart read under its lock (one ``UPDATE``; nothing when none changed)."""
    if cart.changes:
        _conn(db).execute(_UPDATE_CART, {"b_id": cart.id, **cart.changes})
        cart.changes = {}


def insert_cart(db: Session | Connection, cart: CartRow, at: datetime, *, durable: bool = True) -> None:
    """Insert a new cart (without lines) with version ``at``; with ``durable=False`` (PostgreSQL,
    on its own), without waiting for the WAL flush."""
    values = {name: getattr(cart, name) for name in COLUMNS}
    values.update(updated_at=at, created_at=at)
    conn = _conn(db)
    no_flush = not durable and conn.dialect.name == "postgresql"  # SQLite has no set_config
    fast.execute(conn, _INSERT_CART_NO_FLUSH if no_flush else _INSERT_CART, values)
    cart.updated_at = at


# -------------------------------------------------------------- recorded changes
def add_line(cart: CartRow, line: LineRow) -> None:
    cart.ops.append(("insert_line", {"id": line.id, "variant_id": line.variant_id, "quantity": line.quantity,
                                     "position": line.position}))
    cart.lines.append(line)


def set_quantity(cart: CartRow, line: LineRow, quantity: int) -> None:
    cart.ops.append(("set_quantity", {"id": line.id, "quantity": quantity}))
    line.quantity = quantity


def remove_line(cart: CartRow, line: LineRow) -> None:
    cart.ops.append(("delete_line", {"id": line.id}))
    cart.lines.remove(line)


def add_payment(cart: CartRow, payment_id: str, provider_id: str, amount: int, currency: str) -> None:
    """Open the cart's payment session (``pending``, ``amount`` to pay)."""
    cart.ops.append(("insert_payment", {"id": payment_id, "provider_id": provider_id, "amount": amount,
                                        "currency": currency}))
    cart.payment = PaymentRef(payment_id, provider_id, "pending", currency)


def switch_payment(cart: CartRow, provider_id: str, amount: int) -> None:
    """Move the cart's payment session to ``provider_id`` and ``amount``."""
    assert cart.payment is not None
    cart.ops.append(("switch_payment", {"id": cart.payment.id, "provider_id": provider_id, "amount": amount}))
    cart.payment = PaymentRef(cart.payment.id, provider_id, cart.payment.status, cart.payment.currency)


# -------------------------------------------------------------- the optimistic write
def write(db: Session | Connection, cart: CartRow, at: datetime, *, durable: bool = True) -> bool:
    """Apply the cart's recorded changes if it is still the version read and open; moves its
    version to ``at``. ``False``: nothing was written (the cart changed meanwhile: read it again).

    PostgreSQL: one statement (atomic on its own, so an autocommit connection needs no
    transaction); with ``durable=False`` its commit skips the WAL flush. SQLite: the
    version-checked ``UPDATE`` first (a failed check writes nothing),
    then one statement per change, in the caller's transaction.
    """
    conn = _conn(db)
    changes = {name: value for name, value in cart.changes.items() if name in WRITABLE}
    if conn.dialect.name == "postgresql":
        written = _write_pg(conn, cart, changes, at, durable)
    else:
        written = _write_each(conn, cart, changes, at)
    if written:
        cart.updated_at = at
        cart.changes, cart.ops = {}, []
    return written


def _write_each(conn: Connection, cart: CartRow, changes: dict[str, Any], at: datetime) -> bool:
    if conn.execute(_BUMP.values(**changes, updated_at=at), {"b_id": cart.id, "b_seen": cart.updated_at}).rowcount != 1:
        return False
    for kind, params in cart.ops:
        if kind == "insert_line":
            conn.execute(_INSERT_LINE, {**params, "cart_id": cart.id})
        elif kind == "set_quantity":
            conn.execute(_SET_QUANTITY, {"b_id": params["id"], "b_quantity": params["quantity"]})
        elif kind == "delete_line":
            conn.execute(_DELETE_LINE, {"b_id": params["id"]})
        elif kind == "insert_payment":
            conn.execute(_INSERT_PAYMENT, {**params, "cart_id": cart.id, "status": "pending",
                                           "created_at": at, "updated_at": at})
        else:
            conn.execute(_SWITCH_PAYMENT, {"b_id": params["id"], "provider_id": params["provider_id"],
                                           "amount": params["amount"], "updated_at": at})
    return True


#: One PostgreSQL statement per shape of a write (changed columns, kinds of changes), built once.
_PG_WRITES: dict[tuple[tuple[str, ...], tuple[str, ...], bool], Any] = {}


def _p(name: str, column: Any) -> Any:
    """A parameter typed as the column it is written to."""
    return bindparam(name, type_=column.type)


def _pg_part(kind: str, p: str, v: Any) -> Any:
    """A recorded change (parameters named ``{p}...``) that runs only when the version check
    ``v`` (the ``UPDATE carts ... RETURNING id``) passed."""
    lines, payments, at = _LINES.c, _PAYMENTS.c, _p("b_at", _PAYMENTS.c.updated_at)
    if kind == "insert_line":
        row = {"id": _p(f"{p}id", lines.id), "cart_id": v.c.id, "variant_id": _p(f"{p}variant_id", lines.variant_id),
               "quantity": _p(f"{p}quantity", lines.quantity), "position": _p(f"{p}position", lines.position)}
        return insert_select(_LINES, [row], v)
    if kind == "set_quantity":
        return (update(_LINES).where(lines.id == _p(f"{p}id", lines.id), lines.cart_id == v.c.id)
                .values(quantity=_p(f"{p}quantity", lines.quantity)))
    if kind == "delete_line":
        return delete(_LINES).where(lines.id == _p(f"{p}id", lines.id), lines.cart_id == v.c.id)
    if kind == "insert_payment":
        row = {"id": _p(f"{p}id", payments.id), "cart_id": v.c.id,
               "provider_id": _p(f"{p}provider_id", payments.provider_id), "status": literal("pending"),
               "amount": _p(f"{p}amount", payments.amount), "currency": _p(f"{p}currency", payments.currency),
               "captured_amount": literal(0), "refunded_amount": literal(0), "created_at": at, "updated_at": at}
        return insert_select(_PAYMENTS, [row], v)
    return (update(_PAYMENTS).where(payments.id == _p(f"{p}id", payments.id), payments.cart_id == v.c.id)
            .values(provider_id=_p(f"{p}provider_id", payments.provider_id), amount=_p(f"{p}amount", payments.amount),
                    updated_at=at))


def _pg_statement(columns: tuple[str, ...], kinds: tuple[str, ...], durable: bool = True) -> Any:
    """``v``: the version-checked ``UPDATE carts`` (its changed columns ``c_...``), then each
    change ``o<n>`` as a CTE hanging off it; the statement returns how many carts ``v`` wrote
    (and, not ``durable``, :func:`without_wal_flush` once for the cart row written)."""
    key = (columns, kinds, durable)
    stmt = _PG_WRITES.get(key)
    if stmt is None:
        carts = _CARTS.c
        v = (update(_CARTS)
             .where(carts.id == _p("b_id", carts.id), carts.updated_at == _p("b_seen", carts.updated_at),
                    carts.status == "open")
             .values({**{name: _p(f"c_{name}", carts[name]) for name in columns},
                      "updated_at": _p("b_at", carts.updated_at)})
             .returning(carts.id).cte("v"))
        parts = [_pg_part(kind, f"o{n}_", v).cte(f"o{n}") for n, kind in enumerate(kinds)]
        counted = [func.count()] if durable else [func.count(), func.max(without_wal_flush())]
        stmt = select(*counted).select_from(v).add_cte(*parts)
        _PG_WRITES[key] = stmt
    return stmt


def _write_pg(conn: Connection, cart: CartRow, changes: dict[str, Any], at: datetime, durable: bool) -> bool:
    columns = tuple(sorted(changes))
    kinds = tuple(kind for kind, _ in cart.ops)
    params: dict[str, Any] = {"b_id": cart.id, "b_seen": cart.updated_at, "b_at": at}
    params.update({f"c_{name}": changes[name] for name in columns})
    for n, (_, values) in enumerate(cart.ops):
        params.update({f"o{n}_{name}": value for name, value in values.items()})
    return fast.execute(conn, _pg_statement(columns, kinds, durable), params).one()[0] == 1

