"""The kernel payment service: the one way gateways report what happened to a payment.

Gateway plugins (Payme, Click, ...) call :class:`PaymentService` from their callback routes::

    result = PaymentService(toolbox).capture("payme", payment_id, gateway_transaction_id=tx,
                                              amount=amount)

or, when the plugin already holds a transaction with its own rows locked, the ``*_in_session``
variants, so the plugin's row and the kernel's payment change commit (or roll back) together::

    with toolbox.db.transaction() as session:
        ...lock and update the plugin's own transaction row...
        PaymentService(toolbox).capture_in_session(session, "payme", payment_id, ...)

Guarantees:

* **Idempotent** on ``(provider, gateway transaction id, kind)``: a repeated report returns the
  stored result (``replayed=True``) and changes nothing.
* **Checked**: amount and currency must equal the order's; a state that does not allow the
  operation is a 409 with a clear code (``payment_canceled``, ``payment_already_captured``...).
* **Never loses money**: a capture reported after the order was canceled (stock released) is
  recorded, with the payment ``refund_required`` and ``payment.refund_required`` emitted.
* **Recorded**: every accepted operation is a :class:`PaymentTransaction` row.
* **Few round trips** (a gateway callback's short path): :meth:`PaymentService.read_for_report`
  reads the order, its payment, the gateway's own row and values and the idempotency row in ONE
  statement (locking them), and ``authorize_in_session`` / ``capture_in_session`` with
  ``state=`` and ``also=`` write the report, the gateway's own rows, history, outbox event and
  stock conversion in ONE statement on PostgreSQL (:class:`~toolbox_core.orders.combined.CombinedWrite`).
* **Race-free**: the payment row, then the order row, is locked for the whole change. A capture
  reported for a cart that the storefront has not completed yet completes it first, so a
  callback racing the storefront's own ``complete`` still yields one order, one capture, one
  ``payment.captured``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, and_, bindparam, insert, literal_column, select, true, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement

from toolbox_core.asyncutil import resolve
from toolbox_core.checkout.service import CheckoutService
from toolbox_core.db.base import utcnow
from toolbox_core.errors import Conflict, InvalidInput, NotFound, ToolboxError
from toolbox_core.events import emit
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.combined import CombinedWrite
from toolbox_core.orders.models import Order, OrderItem
from toolbox_core.orders.service import cancel_in_session, held_locks, note, note_row, payment_event
from toolbox_core.orders.views import NAMED_ORDER, order_view_of
from toolbox_core.payments.models import Payment, PaymentTransaction
from toolbox_core.payments.views import (
    PaymentInfo,
    TransactionResult,
    payment_info,
    transaction_result,
)
from toolbox_core.schemas import iso_utc

__all__ = ["AmountMismatch", "CurrencyMismatch", "GatewayQuery", "GatewayState", "PaymentInfo", "PaymentService",
           "PaymentStateConflict", "TransactionResult", "refund_capability"]

#: Statuses from which money can still be returned.
REFUNDABLE = ("captured", "refunding", "refund_pending", "refund_required")


class AmountMismatch(InvalidInput):
    code = "amount_mismatch"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"


class PaymentStateConflict(Conflict):
    code = "invalid_payment_state"


def refund_capability(provider: Any) -> str:
    """``"api"`` (the kernel asks the provider), ``"gateway_initiated"`` or ``"manual"``."""
    capability = getattr(provider, "refund_capability", None) or "api"
    return capability if capability in ("api", "gateway_initiated", "manual") else "api"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# The hot path of a gateway callback in core statements, built once (their compiled forms are
# cached): the idempotency read, the transaction row, and the changes of the locked rows.
_TX = PaymentTransaction.__table__
_SEEN = select(_TX.c.id, _TX.c.payment_id, _TX.c.kind, _TX.c.amount, _TX.c.created_at, _TX.c.data).where(
    _TX.c.provider_id == bindparam("b_provider"), _TX.c.gateway_transaction_id == bindparam("b_gateway"),
    _TX.c.kind == bindparam("b_kind"))
_INSERT_TX = insert(_TX)
_UPDATE_ROW = {table.name: update(table).where(table.c.id == bindparam("b_id"))
               for table in (Payment.__table__, Order.__table__)}
#: Extra DML a gateway runs with its report: ``(statement, params)`` (a Core statement built
#: once) or ``(statement, params, rows)``: a list that receives the statement's ``RETURNING``
#: rows (at most one such statement per report).
Also = Sequence[tuple[UpdateBase, Mapping[str, Any]] | tuple[UpdateBase, Mapping[str, Any], list[Any]]]


def _set(row: Any, values: Mapping[str, Any]) -> None:
    """Show written ``values`` on ``row``: an ORM object's committed state (nothing left for the
    unit of work to flush) or a plain row namespace's attributes."""
    for key, value in values.items():
        if isinstance(row, SimpleNamespace):
            setattr(row, key, value)
        else:
            set_committed_value(row, key, value)


def _write(session: Session, table: Table, row: Any, **values: Any) -> None:
    """Store ``values`` on the locked ``row`` (ORM object or namespace) with one core UPDATE."""
    values["updated_at"] = utcnow()
    session.connection().execute(_UPDATE_ROW[table.name], {"b_id": row.id, **values})
    _set(row, values)


@dataclass
class _Writes:
    """What an authorize or capture changes, written with its transaction row (and the gateway's
    own DML) by :meth:`write`: one statement on PostgreSQL (:class:`CombinedWrite`), one per row
    elsewhere (or when the order's history is loaded, so the entry joins the loaded list)."""

    payment: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] = field(default_factory=dict)
    #: (kind, message, actor) of the order history entry.
    note: tuple[str, str, str] | None = None
    #: (name, payload) of the event.
    event: tuple[str, dict[str, Any]] | None = None
    #: The order's held stock is sold (:func:`~toolbox_core.inventory.service.convert`).
    sell: bool = False

    def emit(self, session: Session, name: str, payload: dict[str, Any]) -> None:
        """Like :func:`~toolbox_core.events.emit` (same call shape, so the registry test checks the
        name), written by :meth:`write`."""
        self.event = (name, payload)

    def write(self, session: Session, payment: Any, order: Any, tx: dict[str, Any], also: Also = ()) -> None:
        orm = sa_inspect(order) if isinstance(order, Order) else None
        if session.get_bind().dialect.name != "postgresql" or (
                orm is not None and (not orm.persistent or "history" not in orm.unloaded)):
            self._one_by_one(session, payment, order, tx, also)
            return
        at = tx["created_at"]
        combined = CombinedWrite(at)
        if self.payment:
            combined.update(Payment.__table__, payment.id, self.payment)
        if self.order:
            combined.update(Order.__table__, order.id, self.order)
        if self.note is not None:
            combined.note(order.id, *self.note)
        if self.sell:
            combined.settle(order.id, "sell")
        if self.event is not None:
            combined.emit(*self.event)
        combined.insert(_TX, tx)
        sink = None
        for statement, params, *rows in also:
            combined.dml(statement, params, returning=bool(rows))
            sink = rows[0] if rows else sink
        returned = combined.execute(session)
        if sink is not None:
            sink.extend(returned)
        for row, values in ((payment, self.payment), (order, self.order)):
            if values:
                _set(row, {**values, "updated_at": at})

    def _one_by_one(self, session: Session, payment: Any, order: Any, tx: dict[str, Any], also: Also) -> None:
        if self.payment:
            _write(session, Payment.__table__, payment, **self.payment)
        if self.order:
            _write(session, Order.__table__, order, **self.order)
        if self.sell:
            inventory.convert(session, order.id)
        if self.note is not None:
            if isinstance(order, Order):
                note(order, *self.note)
            else:
                note_row(session, order.id, *self.note)
        if self.event is not None:  # its name was checked where writes.emit() was called
            emit(session, name=self.event[0], payload=self.event[1])
        session.flush()  # a note appended to a loaded history
        session.connection().execute(_INSERT_TX, tx)
        for statement, params, *rows in also:
            result = session.connection().execute(statement, dict(params))
            if rows:
                rows[0].extend(result.all())


# ------------------------------------------------------------------ a gateway's one-statement read
_ORDERS, _PAYMENTS, _ITEMS = Order.__table__, Payment.__table__, OrderItem.__table__


@dataclass(frozen=True, eq=False)
class GatewayQuery:
    """What a gateway reads together with the order and payment in :meth:`PaymentService.read_for_report`.

    Built once (at import: statements are cached by the query's identity), with named
    ``bindparam`` s whose values the call passes in ``params`` (``b_key`` and names starting
    with ``k_`` are the kernel's), so the statement is built and compiled once:

    * ``own`` / ``own_where``: the gateway's own table and the condition naming its row (at most
      one, e.g. ``table.c.payme_id == bindparam("b_id")``). Left-joined (``None`` when absent),
      or, with ``lock_own=True``, inner-joined and locked first (before payment and order);
      ``own_columns``: only these of its columns (each read column costs, on every call);
    * ``order_from_own``: the own column holding the order id (the order is then the one of
      the own row, and ``own`` must be found); otherwise the call names the order by ``key``;
    * ``values``: ``{name: scalar SQL expression}`` read in the same statement (e.g. a stored key:
      ``select(t.c.value).where(...).scalar_subquery()``);
    * ``report``: the kind (``authorize``, ``capture``...) whose earlier report of the call's
      ``gateway_transaction_id`` is read too, so the report's idempotency check costs nothing.
    """

    own: Table | None = None
    own_where: ColumnElement[bool] | None = None
    #: The own columns to read (all when ``None``; the first must be NOT NULL, e.g. the key).
    own_columns: tuple[str, ...] | None = None
    lock_own: bool = False
    order_from_own: str | None = None
    values: Mapping[str, ColumnElement[Any]] = field(default_factory=dict)
    report: str | None = None


@dataclass
class GatewayState:
    """What :meth:`PaymentService.read_for_report` read: pass it to ``authorize_in_session`` /
    ``capture_in_session`` (``state=``) so the report neither locks nor reads again."""

    #: The order (lines only if asked for) with its payment.
    view: Any
    #: The gateway's own row (``GatewayQuery.own``) as a namespace of its columns, or ``None``.
    own: SimpleNamespace | None
    #: The ``GatewayQuery.values``, by name.
    values: dict[str, Any]
    #: The earlier report of ``GatewayQuery.report`` for the gateway transaction id, or ``None``.
    seen: SimpleNamespace | None
    locked: bool
    provider_id: str
    gateway_transaction_id: str | None
    report: str | None
    payment: SimpleNamespace = field(repr=False)
    order: SimpleNamespace = field(repr=False)


_GATEWAY_READS: dict[tuple[Any, ...], tuple[Any, dict[str, tuple[int, tuple[str, ...]]]]] = {}
_P2 = _PAYMENTS.alias("payments_snapshot")
#: The columns a report and an ``OrderView`` use (not the address, e-mail, payment action...:
#: every column read costs its share of the row description and decoding, on every callback).
_READ_COLUMNS = {
    "o_": (_ORDERS, ("id", "number", "status", "payment_status", "fulfillment_status", "locale", "phone",
                     "currency", "subtotal", "shipping_total", "discount_total", "total", "created_at", "shipping",
                     "payment_expires_at")),
    "p_": (_PAYMENTS, ("id", "cart_id", "order_id", "provider_id", "status", "amount", "currency",
                       "captured_amount", "refunded_amount", "created_at")),
    "t_": (_TX, ("id", "payment_id", "kind", "amount", "created_at", "data")),
    "i_": (_ITEMS, ("id", "variant_id", "sku", "title", "quantity", "unit_price", "weight_grams", "mxik_code",
                    "package_code", "vat_percent")),
}


def _gateway_statement(query: GatewayQuery, *, lock: bool, lines: bool,
                       postgres: bool) -> tuple[Any, dict[str, tuple[int, tuple[str, ...]]]]:
    """The one SELECT of :meth:`PaymentService.read_for_report` and where each part's columns
    are in its rows (cached per query and mode)."""
    cache_key = (query, lock, lines, postgres)
    cached = _GATEWAY_READS.get(cache_key)
    if cached is not None:
        return cached
    columns: list[Any] = []
    layout: dict[str, tuple[int, tuple[str, ...]]] = {}

    def part(prefix: str, table: Any, keys: tuple[str, ...]) -> None:
        layout[prefix] = (len(columns), keys)
        columns.extend(table.c[k].label(f"{prefix}{k}") for k in keys)

    part("o_", *_READ_COLUMNS["o_"])
    part("p_", *_READ_COLUMNS["p_"])
    source = _ORDERS.join(_PAYMENTS, _PAYMENTS.c.order_id == _ORDERS.c.id)
    where: Any = NAMED_ORDER
    if query.own is not None:
        part("g_", query.own, tuple(query.own_columns or (c.key for c in query.own.c)))
        if query.order_from_own is not None:
            source = query.own.join(source, _ORDERS.c.id == query.own.c[query.order_from_own])
            where = query.own_where
        elif query.lock_own:
            source = source.join(query.own, query.own_where)
        else:
            source = source.outerjoin(query.own, query.own_where)
    if query.report is not None:
        part("t_", *_READ_COLUMNS["t_"])
        source = source.outerjoin(_TX, and_(_TX.c.provider_id == bindparam("k_provider"),
                                            _TX.c.gateway_transaction_id == bindparam("k_gateway"),
                                            _TX.c.kind == query.report))
    if lines:
        table, keys = _READ_COLUMNS["i_"]
        if postgres:
            # LATERAL (OFFSET 0 keeps it from being flattened into a plain join): the order's lines
            # by their index, whatever the planner's statistics say (a join may hash the whole table).
            items: Any = (select(*(table.c[k] for k in (*keys, "position"))).where(table.c.order_id == _ORDERS.c.id)
                          .offset(0).lateral("order_lines"))
            source = source.outerjoin(items, true())
        else:
            items = table
            source = source.outerjoin(items, items.c.order_id == _ORDERS.c.id)
        part("i_", items, keys)
    layout["v_"] = (len(columns), tuple(query.values))
    columns += [expr.label(f"v_{name}") for name, expr in query.values.items()]
    if lock and postgres:
        # Waiting for the payment lock, the rows that are not locked stay as the statement's
        # snapshot saw them: the payment's version then and now tells a stale read apart.
        layout["k_"] = (len(columns), ("now", "then"))
        columns += [literal_column("payments.xmin::text").label("k_now"),
                    select(literal_column("payments_snapshot.xmin::text")).where(_P2.c.id == _PAYMENTS.c.id)
                    .scalar_subquery().label("k_then")]
    stmt = select(*columns).select_from(source).where(where)
    if lines:
        stmt = stmt.order_by(items.c.position)
    if lock:
        locked = [query.own] if query.own is not None and (query.lock_own or query.order_from_own) else []
        stmt = stmt.with_for_update(of=[*locked, _PAYMENTS, _ORDERS])
    if len(_GATEWAY_READS) >= 256:  # queries are built once at import; this only bounds a misuse
        _GATEWAY_READS.clear()
    _GATEWAY_READS[cache_key] = (stmt, layout)
    return stmt, layout


def _split(row: Any, layout: dict[str, tuple[int, tuple[str, ...]]], prefix: str) -> SimpleNamespace | None:
    """The part ``prefix`` of ``row`` as a namespace; ``None`` when it is all NULL (no row joined)."""
    start, keys = layout[prefix]
    values = row[start:start + len(keys)]
    if values[0] is None and not any(values):
        return None
    return SimpleNamespace(**dict(zip(keys, values, strict=True)))


def _info(session: Session, payment: Payment) -> PaymentInfo:
    order = session.get(Order, payment.order_id) if payment.order_id else None
    return payment_info(payment, order.number if order else None, order.status if order else None)


def _state_rows(state: GatewayState, payment_id: str) -> dict[tuple[str, str], Any]:
    """The payment and order rows ``state`` read and locked, keyed as :func:`held_locks` keys them."""
    if not state.locked or state.payment.id != payment_id:
        raise ValueError("the state was not read (locked) for this payment")
    return {("payments", state.payment.id): state.payment, ("orders", state.order.id): state.order}


def _locked(session: Session, held: dict[tuple[str, str], Any], model: type[Payment] | type[Order],
            row_id: str) -> Any:
    """The row ``row_id`` of ``model`` locked in this transaction: the one ``held`` already (read
    with the caller's locks), or now locked ``FOR UPDATE``, reloaded and held; ``None`` if absent."""
    key = (model.__tablename__, row_id)
    row = held.get(key)
    if row is None:
        row = session.scalar(select(model).where(model.id == row_id).with_for_update()
                             .execution_options(populate_existing=True))
        if row is not None:
            held[key] = row
    return row


class PaymentService:
    """Authorize / capture / cancel / refund reports from gateways, checked and idempotent."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    # -------------------------------------------------------------- reads
    def get(self, payment_id: str) -> PaymentInfo:
        with self.toolbox.db.session() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise NotFound("no such payment", code="payment_not_found")
            return _info(session, payment)

    def for_order(self, order_id: str) -> PaymentInfo:
        with self.toolbox.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
            if payment is None:
                raise NotFound("no payment for this order", code="payment_not_found")
            return _info(session, payment)

    def for_order_number(self, number: str) -> PaymentInfo:
        """The payment of the order the customer knows as ``number`` (``"1001"``).

        404 ``order_not_found`` when there is no such order, ``payment_not_found`` when it has
        no payment.
        """
        if not isinstance(number, str) or not number or len(number) > 20:
            raise NotFound("no such order", code="order_not_found")
        with self.toolbox.db.session() as session:
            order = session.scalar(select(Order).where(Order.number == number))
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
            if payment is None:
                raise NotFound("no payment for this order", code="payment_not_found")
            return payment_info(payment, order.number, order.status)

    # -------------------------------------------------------------- a gateway's one-statement read
    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A connection for a read-only callback (Payme's CheckPerformTransaction): on PostgreSQL
        in autocommit, so its one statement is its one round trip (no BEGIN / COMMIT)."""
        with self.toolbox.db.statements() as connection:
            yield connection

    def read_for_report(self, session: Session | Connection, query: GatewayQuery, *, provider_id: str,
                        key: str | None = None, gateway_transaction_id: str | None = None,
                        params: Mapping[str, Any] | None = None, lock: bool = True,
                        lines: bool = False) -> GatewayState | None:
        """The order, its payment and the gateway's own rows and values (``query``), in ONE statement.

        ``key`` names the order (its number or id) unless ``query.order_from_own`` takes it from the
        gateway's own row; ``params`` are the values of ``query``'s bind parameters;
        ``gateway_transaction_id`` is the id whose earlier ``query.report`` is read. ``None`` when
        nothing matches (no such order, an order without a payment, or a required own row missing):
        the caller tells those apart on its slow path.

        ``lock=True`` (inside the caller's transaction): the own row (``lock_own`` /
        ``order_from_own``), the payment and the order are locked ``FOR UPDATE`` by this
        statement, in the kernel's lock order, and every value returned is as of after the
        locks were taken (a read that waited for a concurrent change of the payment is read
        again, now without waiting). Pass the state to :meth:`authorize_in_session` /
        :meth:`capture_in_session`. ``lock=False`` with ``lines=True`` on :meth:`reader`: a
        pre-check's whole read (order, payment, lines, own values) in one round trip.
        """
        if key is not None and (not isinstance(key, str) or not key or len(key) > 40):
            return None
        connection = session.connection() if isinstance(session, Session) else session
        postgres = connection.dialect.name == "postgresql"
        stmt, layout = _gateway_statement(query, lock=lock, lines=lines, postgres=postgres)
        bound = {**(params or {}), "b_key": key, "k_provider": provider_id, "k_gateway": gateway_transaction_id}
        for _ in range(3):
            rows = connection.execute(stmt, bound).all()
            if not rows or not lock or not postgres or rows[0].k_now == rows[0].k_then:
                break
        if not rows:
            return None
        first = rows[0]
        order, payment = _split(first, layout, "o_"), _split(first, layout, "p_")
        if order is None or payment is None or payment.provider_id != provider_id:
            return None
        own = _split(first, layout, "g_") if query.own is not None else None
        seen = _split(first, layout, "t_") if query.report is not None else None
        items = [item for row in rows if (item := _split(row, layout, "i_")) is not None] if lines else ()
        start, names = layout["v_"]
        values = dict(zip(names, first[start:start + len(names)], strict=True))
        return GatewayState(order_view_of(order, payment, items), own, values, seen, lock, provider_id,
                            gateway_transaction_id, query.report, payment, order)

    # -------------------------------------------------------------- reports (own transaction)
    def authorize(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                  currency: str = "UZS", hold_until: datetime | None = None,
                  data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is held at the gateway (not yet taken); see :meth:`authorize_in_session`."""
        self._ensure_order(payment_id)
        with self.toolbox.db.transaction() as session:
            return self.authorize_in_session(session, provider_id, payment_id,
                                             gateway_transaction_id=gateway_transaction_id, amount=amount,
                                             currency=currency, hold_until=hold_until, data=data)

    def capture(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
                currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money is taken; see :meth:`capture_in_session`."""
        self._ensure_order(payment_id)
        with self.toolbox.db.transaction() as session:
            return self.capture_in_session(session, provider_id, payment_id,
                                           gateway_transaction_id=gateway_transaction_id, amount=amount,
                                           currency=currency, data=data)

    def cancel(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str,
               reason: str = "canceled at gateway", data: dict[str, Any] | None = None) -> TransactionResult:
        """The payment will not happen; see :meth:`cancel_in_session`."""
        with self.toolbox.db.transaction() as session:
            return self.cancel_in_session(session, provider_id, payment_id,
                                          gateway_transaction_id=gateway_transaction_id, reason=reason, data=data)

    def refund(self, provider_id: str, payment_id: str, *, gateway_transaction_id: str, amount: int,
               currency: str = "UZS", data: dict[str, Any] | None = None) -> TransactionResult:
        """Money was returned at the gateway; see :meth:`refund_in_session`."""
        with self.toolbox.db.transaction() as session:
            return self.refund_in_session(session, provider_id, payment_id,
                                          gateway_transaction_id=gateway_transaction_id, amount=amount,
                                          currency=currency, data=data)

    # -------------------------------------------------------------- reports (caller's transaction)
    def authorize_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                             gateway_transaction_id: str, amount: int, currency: str = "UZS",
                             hold_until: datetime | None = None,
                             data: dict[str, Any] | None = None, state: GatewayState | None = None,
                             also: Also = ()) -> TransactionResult:
        """Money is held at the gateway, inside the caller's transaction.

        ``hold_until``: the gateway may still take the money until then (Payme: its ``time`` +
        12 h), so the payment-timeout job leaves the order alone until that moment.

        ``state``: what :meth:`read_for_report` read and locked in this transaction (nothing is
        locked or read again). ``also``: the gateway's own writes, ``[(statement, params)]``
        (Core ``INSERT`` / ``UPDATE`` built once, bind parameters not starting with ``cw``),
        run with the report's — on PostgreSQL in the same single statement, which is then the
        report's only round trip. They run only if the report is accepted (not on a replay).
        ``(statement, params, rows)``: ``rows`` (a list) receives that statement's ``RETURNING``
        rows (e.g. a generated id; one such statement per report).
        """
        if state is None:
            self._ensure_order_in_session(session, payment_id)
        extra = {"hold_until": iso_utc(hold_until)} if hold_until else {}
        return self._report(session, "authorize", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, {**(data or {}), **extra}, hold_until=hold_until, state=state, also=also)

    def capture_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                           gateway_transaction_id: str, amount: int, currency: str = "UZS",
                           data: dict[str, Any] | None = None, state: GatewayState | None = None,
                           also: Also = ()) -> TransactionResult:
        """Money is taken: the order becomes paid, held stock is sold, ``payment.captured`` is emitted.

        After the order was canceled it is a late capture: recorded, ``refund_required``.
        ``state`` and ``also`` as for :meth:`authorize_in_session` (on PostgreSQL the stock
        conversion is part of the one statement too).
        """
        if state is None:
            self._ensure_order_in_session(session, payment_id)
        return self._report(session, "capture", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, data, state=state, also=also)

    def cancel_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                          gateway_transaction_id: str, reason: str = "canceled at gateway",
                          data: dict[str, Any] | None = None) -> TransactionResult:
        """The payment will not happen: the order is canceled and its stock released."""
        payload = {"reason": str(reason)[:500], **(data or {})}
        return self._report(session, "cancel", provider_id, payment_id, gateway_transaction_id, None, None,
                            payload)

    def refund_in_session(self, session: Session, provider_id: str, payment_id: str, *,
                          gateway_transaction_id: str, amount: int, currency: str = "UZS",
                          data: dict[str, Any] | None = None) -> TransactionResult:
        """A captured payment was returned at the gateway (Payme's CancelTransaction of a performed one).

        A full refund cancels the order (restocking it) unless it is already canceled or completed.
        """
        return self._report(session, "refund", provider_id, payment_id, gateway_transaction_id, amount,
                            currency, data)

    # -------------------------------------------------------------- kernel-initiated refunds
    def refund_through_provider(self, payment_id: str, *, actor: str, amount: int | None = None,
                                reason: str = "refund", request_key: str | None = None) -> TransactionResult:
        """Ask the provider to refund (outside any transaction), then record it.

        ``amount`` defaults to everything still refundable. The refund is claimed first
        (``captured`` → ``refunding`` by a conditional update), so two concurrent callers (two
        admins canceling the same paid order) never both ask the provider.
        """
        # Keyed by our own request (a provider may reuse its id across partial refunds). Built
        # first: a key too long to record must be refused before the provider returns money.
        own_id = f"refund:{payment_id}:{request_key or new_id('rfd')}"
        if len(own_id) > 128:
            raise InvalidInput("the idempotency key is too long", code="invalid_idempotency_key")
        info = self.get(payment_id)
        provider = self.toolbox.payment_providers.get(info.provider_id)
        if provider is None:
            raise ToolboxError(f"payment provider {info.provider_id!r} is not enabled", code="provider_unavailable",
                               status=502)
        refundable, previous = self._claim_refund(payment_id, amount)
        amount = refundable if amount is None else amount
        try:
            try:
                outcome = resolve(provider.refund(payment_id, amount))
            except Exception as exc:
                raise ToolboxError("the payment provider failed to refund", code="refund_failed",
                                   status=502) from exc
            if not outcome.succeeded:
                raise ToolboxError(outcome.message or "the payment provider refused the refund",
                                   code="refund_failed", status=502)
        except ToolboxError:
            self._set_status(payment_id, "refunding", previous)
            raise
        with self.toolbox.db.transaction() as session:
            return self._report(session, "refund", info.provider_id, payment_id, own_id, amount, info.currency,
                                {"actor": actor, "reason": reason[:500],
                                 "gateway_transaction_id": outcome.gateway_transaction_id}, cancel_order=False)

    def request_refund_in_session(self, session: Session, payment: Payment, order: Order, *, amount: int,
                                  reason: str, actor: str, request_key: str | None = None) -> TransactionResult:
        """Record a refund request for a provider that cannot refund through its API.

        The payment becomes ``refund_pending``, the order history says who asked for how much,
        and ``payment.refund_requested`` tells staff (and the gateway plugin) to return it there.
        The caller holds the payment and order rows locked.
        """
        if payment.status not in ("captured", "refund_required"):
            raise self._state_error(payment)
        refundable = payment.captured_amount - payment.refunded_amount
        if amount <= 0 or amount > refundable:
            raise AmountMismatch(f"at most {refundable} tiyin can be refunded", details={"refundable": refundable})
        tx = PaymentTransaction(id=new_id("ptx"), payment_id=payment.id, provider_id=payment.provider_id,
                                gateway_transaction_id=f"request:{payment.id}:{request_key or new_id('rfq')}",
                                kind="refund_request", amount=amount, currency=payment.currency,
                                data={"actor": actor, "reason": reason[:500]})
        session.add(tx)
        payment.status = "refund_pending"
        order.payment_status = "refund_pending"
        note(order, "refund_requested", f"{amount} tiyin: {reason}"[:500], actor)
        emit(session, "payment.refund_requested", payment_event(order, payment, amount=amount, reason=reason[:500]))
        session.flush()
        return transaction_result(tx, payment, replayed=False)

    def _claim_refund(self, payment_id: str, amount: int | None) -> tuple[int, str]:
        """Move a captured (or late-captured) payment to ``refunding``.

        Returns the refundable amount and the status to go back to if the provider fails;
        409/422 when a refund is not allowed.
        """
        with self.toolbox.db.transaction() as session:
            payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
            if payment is None:
                raise NotFound("no such payment", code="payment_not_found")
            if payment.status not in ("captured", "refund_required"):
                raise PaymentStateConflict(f"a {payment.status} payment cannot be refunded",
                                           code="refund_in_progress" if payment.status in
                                           ("refunding", "refund_pending") else None,
                                           details={"status": payment.status})
            refundable = payment.captured_amount - payment.refunded_amount
            if amount is not None and amount > refundable:
                raise AmountMismatch(f"at most {refundable} tiyin can be refunded",
                                     details={"refundable": refundable})
            previous, payment.status = payment.status, "refunding"
            return refundable, previous

    def _set_status(self, payment_id: str, expected: str, new: str) -> bool:
        """Conditional status change in its own short transaction; True when this caller made it."""
        with self.toolbox.db.transaction() as session:
            changed = session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == expected)
                                      .values(status=new))
            return changed.rowcount == 1

    # -------------------------------------------------------------- internals
    def _ensure_order(self, payment_id: str) -> None:
        """A gateway reported before the storefront completed the cart: complete it now."""
        with self.toolbox.db.session() as session:
            payment = session.get(Payment, payment_id)
            if payment is None or payment.order_id is not None:
                return
        with self.toolbox.db.transaction() as session:
            self._ensure_order_in_session(session, payment_id)

    def _ensure_order_in_session(self, session: Session, payment_id: str) -> None:
        """Complete the payment's cart inside ``session`` when it has no order yet (cart, then payment locks)."""
        payment = held_locks(session).get(("payments", payment_id)) or session.get(Payment, payment_id)
        if payment is None or payment.order_id is not None:
            return
        try:
            CheckoutService(self.toolbox).complete_in_session(session, payment.cart_id, None, actor="gateway",
                                                              check_owner=False)
        except Conflict as exc:
            if exc.code != "cart_completed":
                raise

    def _report(self, session: Session, kind: str, provider_id: str, payment_id: str, gateway_transaction_id: str,
                amount: int | None, currency: str | None, data: dict[str, Any] | None,
                *, cancel_order: bool = True, hold_until: datetime | None = None,
                state: GatewayState | None = None, also: Also = ()) -> TransactionResult:
        if not isinstance(gateway_transaction_id, str) or not gateway_transaction_id \
                or len(gateway_transaction_id) > 128:
            raise InvalidInput("gateway_transaction_id is required (at most 128 characters)",
                               code="invalid_gateway_transaction_id")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
            raise InvalidInput("amount must be a positive integer number of tiyin", code="invalid_amount")
        held = _state_rows(state, payment_id) if state is not None else held_locks(session)
        payment = _locked(session, held, Payment, payment_id)
        if payment is None:
            raise NotFound("no such payment", code="payment_not_found")
        if payment.provider_id != provider_id:
            raise Conflict("this payment belongs to another provider", code="provider_mismatch")
        if state is not None and state.report == kind and state.gateway_transaction_id == gateway_transaction_id \
                and state.provider_id == provider_id:
            seen = state.seen
        else:
            seen = session.connection().execute(_SEEN, {"b_provider": provider_id,
                                                        "b_gateway": gateway_transaction_id, "b_kind": kind}).first()
        if seen is not None:
            if seen.payment_id != payment.id:
                raise Conflict("this gateway transaction belongs to another payment",
                               code="gateway_transaction_conflict")
            return transaction_result(seen, payment, replayed=True)
        if currency is not None and currency != payment.currency:
            raise CurrencyMismatch(f"currency must be {payment.currency}",
                                   details={"expected": payment.currency, "got": currency})
        order = _locked(session, held, Order, payment.order_id) if payment.order_id else None
        writes = _Writes()
        flags = getattr(self, f"_apply_{kind}")(session, payment, order, amount, cancel_order=cancel_order,
                                                hold_until=hold_until, writes=writes) or {}
        tx = {"id": new_id("ptx"), "payment_id": payment.id, "provider_id": provider_id,
              "gateway_transaction_id": gateway_transaction_id, "kind": kind,
              "amount": amount if amount is not None else payment.amount, "currency": payment.currency,
              "data": {**(data or {}), **flags}, "created_at": utcnow()}
        if kind in ("authorize", "capture"):
            writes.write(session, payment, self._require_order(order), tx, also)
        else:
            session.flush()  # what cancel / refund changed through the ORM
            session.connection().execute(_INSERT_TX, tx)
        return TransactionResult(tx["id"], payment.id, payment.order_id, kind, payment.status, tx["amount"],
                                 tx["created_at"], False, bool(tx["data"].get("refund_required")))

    @staticmethod
    def _check_amount(payment: Payment, amount: int | None) -> None:
        if amount != payment.amount:
            raise AmountMismatch(f"amount must be {payment.amount} tiyin",
                                 details={"expected": payment.amount, "got": amount})

    @staticmethod
    def _require_order(order: Order | None) -> Order:
        if order is None:
            raise Conflict("the payment has no order yet", code="payment_without_order")
        return order

    def _apply_authorize(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                         *, writes: _Writes, hold_until: datetime | None = None, **_: Any) -> None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        if payment.status != "pending" or order.status == "canceled":
            raise self._state_error(payment)
        writes.payment["status"] = "authorized"
        writes.order["payment_status"] = "authorized"
        if hold_until is not None and order.status == "pending_payment":
            hold = _aware(hold_until)
            if order.payment_expires_at is None or _aware(order.payment_expires_at) < hold:
                writes.order["payment_expires_at"] = hold
        writes.note = ("payment_authorized", f"{payment.provider_id}", "system")
        writes.emit(session, "payment.authorized", payment_event(order, payment, amount=payment.amount))

    def _apply_capture(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                       *, writes: _Writes, **_: Any) -> dict[str, Any] | None:
        order = self._require_order(order)
        self._check_amount(payment, amount)
        late = payment.status == "canceled" or order.status == "canceled"
        if payment.status not in ("pending", "authorized") and not (late and payment.status == "canceled"):
            raise self._state_error(payment)
        if late:
            # The money is taken but the order is gone (expired or canceled, stock released):
            # record it and make somebody return it, never drop it.
            writes.payment.update(status="refund_required", captured_amount=payment.amount)
            writes.order["payment_status"] = "refund_required"
            writes.note = ("payment_captured_late", f"{payment.provider_id}: captured after the order was canceled; "
                                                    "refund required", "system")
            writes.emit(session, "payment.refund_required", payment_event(order, payment, amount=payment.amount))
            return {"refund_required": True}
        writes.payment.update(status="captured", captured_amount=payment.amount)
        writes.order["payment_status"] = "paid"
        if order.status == "pending_payment":
            writes.order.update(status="placed", payment_expires_at=None)
        writes.sell = True
        writes.note = ("payment_captured", f"{payment.provider_id}", "system")
        writes.emit(session, "payment.captured", payment_event(order, payment, amount=payment.amount))
        return None

    def _apply_cancel(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      **_: Any) -> None:
        if payment.status not in ("pending", "authorized"):
            raise self._state_error(payment)
        if order is not None:
            cancel_in_session(session, order, payment, reason="payment canceled at gateway", actor=payment.provider_id)
            order.payment_status = "canceled"
        payment.status = "canceled"
        emit(session, "payment.canceled", payment_event(order, payment))

    def _apply_refund(self, session: Session, payment: Payment, order: Order | None, amount: int | None,
                      *, cancel_order: bool = True, **_: Any) -> None:
        if payment.status not in REFUNDABLE:
            raise self._state_error(payment)
        if amount is None or amount > payment.captured_amount - payment.refunded_amount:
            raise AmountMismatch("refund exceeds the captured amount",
                                 details={"refundable": payment.captured_amount - payment.refunded_amount})
        payment.refunded_amount += amount
        full = payment.refunded_amount == payment.captured_amount
        if full:
            payment.status = "refunded"
        elif payment.status in ("refunding", "refund_pending"):
            payment.status = "captured"
        if order is not None:
            if full:
                order.payment_status = "refunded"
            elif payment.status == "captured":
                order.payment_status = "partially_refunded"
            note(order, "payment_refunded", f"{amount} tiyin")
            if cancel_order and full and order.status not in ("canceled", "completed"):
                cancel_in_session(session, order, payment, reason="payment refunded", actor=payment.provider_id,
                                  refunded=True)
        emit(session, "payment.refunded", payment_event(order, payment, amount=amount))

    @staticmethod
    def _state_error(payment: Payment) -> Conflict:
        codes = {"captured": "payment_already_captured", "canceled": "payment_canceled",
                 "refunded": "payment_refunded", "refunding": "refund_in_progress",
                 "refund_pending": "refund_in_progress", "refund_required": "payment_refund_required"}
        return Conflict(f"the payment is {payment.status}", code=codes.get(payment.status, "invalid_payment_state"),
                        details={"status": payment.status})
