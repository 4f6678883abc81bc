"""Completing a cart: one workflow with explicit steps and compensation.

Steps (the writes of 2–5 atomic together — one transaction, on PostgreSQL one statement — so a
crash anywhere in them leaves no half order and no leaked reservation):

1. ``validate``  — the cart is open, ours, has items, phone, shipping and a payment session;
2. ``reserve``   — atomic conditional holds on stock (409 ``out_of_stock``);
3. ``create``    — the order, with a sequential number and the prices of this moment;
4. ``attach``    — the cart's payment session becomes the order's payment;
5. ``emit``      — ``order.placed`` in the same transaction (outbox).

On PostgreSQL a storefront's ``complete`` is TWO statements and no transaction: the cart is
read with its lines, its payment session and its lines' catalog snapshots in one statement
(:func:`toolbox_core.cart.service.load_cart`, unlocked), then everything is ONE autocommit
statement (:func:`_complete_statement`, data-modifying CTEs), atomic on its own: it locks the cart (only
if it is still the version read and open) with its payment session (only if still pending),
holds the stock (:func:`~toolbox_core.inventory.service.holding_ctes`: all of it or none), and
only then writes the order with its number drawn from the sequence, its items, its history entry,
its reservations, the completed cart, the attached payment and the ``order.placed`` outbox row.
The stock rows every checkout competes for are locked only while that statement runs (no round
trip, no client in between), and an order number is drawn only for an order that is placed. A
cart changed in between is read again (:data:`~toolbox_core.cart.service.ATTEMPTS` times, as a
cart edit is). Inside a caller's transaction (a gateway completing the cart,
:meth:`CheckoutService.complete_in_session`) the cart is read under its lock and the same
statement runs. ``tests/checkout/test_checkout_sql_budget.py`` keeps the budget. SQLite reads
the snapshots on their own and writes the rows one statement each (order and items first, the
number last) inside one ``BEGIN IMMEDIATE`` transaction.

Then, after commit and outside any transaction, ``initiate`` asks the payment provider for the
client's next step. If that fails, the compensation cancels the order (releasing the stock)
and reopens the cart, so the shopper can pick another payment method.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from toolbox_core.asyncutil import resolve
from toolbox_core.cart import rows as cart_rows
from toolbox_core.cart.models import Cart
from toolbox_core.cart.rows import CartRow, PaymentRef
from toolbox_core.cart.service import (
    ATTEMPTS,
    CartCompleted,
    adopt,
    check_usable,
    customer_phone,
    line_view,
    load_cart,
)
from toolbox_core.catalog.snapshots import VariantSnapshot
from toolbox_core.db import fast
from toolbox_core.db.base import utcnow
from toolbox_core.db.sql import insert_select
from toolbox_core.errors import Conflict, InvalidInput, NotFound, ToolboxError
from toolbox_core.events import EMITTED_KEY, emit
from toolbox_core.events.models import OutboxEvent
from toolbox_core.i18n import cart_locale
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.combined import history_values, outbox_values
from toolbox_core.orders.models import Order, OrderHistory, OrderItem
from toolbox_core.orders.service import (
    ORDER_NUMBER_SEQUENCE,
    cancel_in_session,
    lock_order,
    number_order,
)
from toolbox_core.payments.models import Payment
from toolbox_core.providers import LineView, PaymentAction, PaymentRequest, is_local

# Built once: constructing a statement per call costs more CPU than running it.
_INSERT_ORDER = insert(Order.__table__)
_INSERT_ITEMS = insert(OrderItem.__table__)
_ATTACH_PAYMENT = (update(Payment.__table__)
                   .where(Payment.id == bindparam("b_id"), Payment.order_id.is_(None), Payment.status == "pending")
                   .values(order_id=bindparam("b_order"), amount=bindparam("b_amount")))
_SET_ACTION = update(Payment.__table__).where(Payment.id == bindparam("b_id"))
_ORDER_COLUMNS = ("id", "cart_id", "customer_id", "status", "payment_status", "fulfillment_status", "locale", "phone",
                  "email", "address", "shipping", "currency", "subtotal", "shipping_total", "discount_total", "total",
                  "payment_provider_id", "payment_expires_at", "created_at", "updated_at")
_ITEM_COLUMNS = ("id", "position", "variant_id", "product_id", "sku", "title", "quantity", "unit_price", "total",
                 "weight_grams", "mxik_code", "package_code", "vat_percent")
#: PostgreSQL: the statements that complete a cart, by (number of items, cart columns changed
#: by the checkout itself: an adoption, a phone) (:func:`_complete_statement`).
_COMPLETE_PG: dict[tuple[int, tuple[str, ...]], Any] = {}


def _bind(name: str, column: Any) -> Any:
    """A parameter typed as the column it is written to."""
    return bindparam(name, type_=column.type)


def _complete_statement(items: int, cart_columns: tuple[str, ...] = ()) -> Any:
    """The one statement that completes a cart into an order of ``items`` items (see the module
    doc), built once per shape from the table objects. It returns ``number`` (``NULL`` when
    nothing was written), ``gate`` (0: the cart is not the version read, or not open, or its
    payment session is no longer pending) and ``chosen`` (fewer than the SKUs: out of stock).

    ``g`` locks the cart and its payment session; ``k``/``ch``/``hd`` hold the stock
    (:func:`~toolbox_core.inventory.service.holding_ctes`); ``n`` draws the number only when every
    SKU was held, and every write after it happens only with a number: the order, its items, its
    history entry (as :func:`~toolbox_core.orders.service.note` writes it), the reservations, the
    completed cart (with ``cart_columns``), the attached payment and the ``order.placed`` outbox
    row (as :func:`~toolbox_core.events.emit` writes it, the number added to its payload)."""
    key = (items, cart_columns)
    stmt = _COMPLETE_PG.get(key)
    if stmt is None:
        orders, items_table, carts = Order.__table__, OrderItem.__table__, Cart.__table__
        history, outbox, payments = OrderHistory.__table__, OutboxEvent.__table__, Payment.__table__
        gate = (select(carts.c.id).join_from(carts, payments, payments.c.cart_id == carts.c.id)
                .where(carts.c.id == bindparam("o_cart_id"), carts.c.updated_at == _bind("b_seen", carts.c.updated_at),
                       carts.c.status == "open", payments.c.id == bindparam("b_id"), payments.c.order_id.is_(None),
                       payments.c.status == "pending")
                .with_for_update().cte("g"))
        chosen, held = inventory.holding_ctes(gate)
        every_sku = select(func.count()).select_from(held).scalar_subquery() == bindparam("w_count")
        number = select(cast(func.nextval(ORDER_NUMBER_SEQUENCE), Text).label("number")).where(every_sku).cte("n")
        placed = select(number.c.number).exists()
        order = insert_select(orders, [{"number": number.c.number,
                                        **{c: _bind(f"o_{c}", orders.c[c]) for c in _ORDER_COLUMNS}}], number)
        order_items = insert_select(items_table, [
            {"order_id": _bind("o_id", items_table.c.order_id), **{c: _bind(f"i{n}_{c}", items_table.c[c])
                                                                  for c in _ITEM_COLUMNS}}
            for n in range(items)], number)
        note = insert_select(history, [history_values(
            _bind("o_id", history.c.order_id), literal("placed"),
            func.replace(_bind("message", history.c.message), "{number}", number.c.number),
            _bind("actor", history.c.actor), _bind("at", history.c.at))], number)
        reserved = inventory.reservations_insert(chosen, _bind("o_id", orders.c.id), placed)
        completed = update(carts).where(carts.c.id == bindparam("o_cart_id"), placed).values(
            status="completed", order_id=bindparam("o_id"), completed_at=_bind("at", carts.c.completed_at),
            updated_at=_bind("at", carts.c.updated_at), **{c: _bind(f"c_{c}", carts.c[c]) for c in cart_columns})
        attached = update(payments).where(payments.c.id == bindparam("b_id"), placed).values(
            order_id=bindparam("b_order"), amount=bindparam("b_amount"), updated_at=_bind("at", payments.c.updated_at))
        payload = bindparam("e_payload", type_=JSONB()).op("||", return_type=JSONB())(
            func.jsonb_build_object("number", number.c.number))
        event = outbox_values(_bind("e_id", outbox.c.id), literal("order.placed"), payload,
                              _bind("at", outbox.c.occurred_at), literal(1))
        emitted = insert_select(outbox, [event], number)
        parts = [order.cte("o"), order_items.cte("i"), note.cte("h"), reserved.cte("r"), completed.cte("c"),
                 attached.cte("p"), emitted.cte("e")]
        stmt = select(select(number.c.number).scalar_subquery().label("number"),
                      select(func.count()).select_from(gate).scalar_subquery().label("gate"),
                      select(func.count()).select_from(chosen).scalar_subquery().label("chosen")).add_cte(*parts)
        _COMPLETE_PG[key] = stmt
    return stmt


class CheckoutIncomplete(InvalidInput):
    code = "checkout_incomplete"


@dataclass
class CheckoutResult:
    order_id: str
    number: str
    status: str
    payment_id: str
    provider_id: str
    total: int
    action: dict[str, Any] = field(default_factory=dict)


class CheckoutService:
    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    def complete(self, cart_id: str, customer_id: str | None, *, actor: str = "storefront",
                 initiate: bool = True, check_owner: bool = True, return_url: str | None = None) -> CheckoutResult:
        """Turn the cart into an order (see the module doc for the steps): :meth:`place`, then
        (with ``initiate``) :meth:`initiate` its payment."""
        result, request = self.place(cart_id, customer_id, actor=actor, check_owner=check_owner,
                                     return_url=return_url)
        if initiate:
            result.action = self.initiate(request, result)
        return result

    def place(self, cart_id: str, customer_id: str | None, *, actor: str = "storefront", check_owner: bool = True,
              return_url: str | None = None) -> tuple[CheckoutResult, PaymentRequest]:
        """Steps 1–5: the order placed, its payment not started yet (the request :meth:`initiate`
        takes). Database work only: no provider is asked."""
        if self.toolbox.db.is_sqlite:
            with self.toolbox.db.transaction() as session:
                return self.complete_in_session(session, cart_id, customer_id, actor=actor,
                                                check_owner=check_owner, return_url=return_url)
        return self._complete_autocommit(cart_id, customer_id, actor, check_owner, return_url)

    def initiates_locally(self, result: CheckoutResult) -> bool:
        """Whether the order's payment provider starts a payment without waiting on anything outside
        the process (:func:`~toolbox_core.providers.is_local`), so :meth:`initiate` may run on the loop."""
        return is_local(self.toolbox.payment_providers.get(result.provider_id), "initiate")

    def _complete_autocommit(self, cart_id: str, customer_id: str | None, actor: str, check_owner: bool,
                             return_url: str | None) -> tuple[CheckoutResult, PaymentRequest]:
        """PostgreSQL, no transaction: read the cart, then one statement that places the order only
        if the cart is still the version read; else read it again (:data:`ATTEMPTS` in all)."""
        placed = None
        with self.toolbox.db.statements(write=True) as conn:
            for _ in range(ATTEMPTS):
                placed = self._complete_pg(conn, cart_id, customer_id, actor, check_owner, return_url, lock=False)
                if placed is not None:
                    break
        if placed is None:
            raise Conflict("the cart is being changed elsewhere; try again", code="cart_changed")
        self.toolbox.events.wake_relay()  # no session commit to do it: the order.placed row is in
        return placed

    def complete_in_session(self, session: Session, cart_id: str, customer_id: str | None, *,
                            actor: str = "storefront", check_owner: bool = True,
                            return_url: str | None = None) -> tuple[CheckoutResult, PaymentRequest]:
        """Steps 1–5 inside the caller's transaction; the provider is not asked (that is after commit)."""
        session.flush()  # a gateway workflow's pending ORM changes go before the core statements
        if session.get_bind().dialect.name == "postgresql":
            placed = self._complete_pg(session.connection(), cart_id, customer_id, actor, check_owner, return_url,
                                       lock=True)
            if placed is None:  # the cart is locked: its payment session changed (a gateway report)
                raise CheckoutIncomplete("choose a payment method first", details={"missing": ["payment"]})
            session.info[EMITTED_KEY] = True
        else:
            placed = self._complete_sqlite(session, cart_id, customer_id, actor, check_owner, return_url)
        self._sync_payment(session, placed[0])
        return placed

    def _prepare(self, db: Session | Connection, cart_id: str, customer_id: str | None, check_owner: bool,
                 lock: bool) -> tuple[CartRow, list[tuple[LineView, str]], PaymentRef, dict[str, Any], dict[str, Any]]:
        """Steps 1 and 3 in memory: the cart validated, its lines priced, its payment session, the
        order's column values and the ``order.placed`` payload (without the number)."""
        cart, snaps = self._validate(db, cart_id, customer_id, check_owner, lock)
        lines = self._priced_lines(cart, snaps)
        payment = self._payment_session(cart)
        order = self._order(cart, lines, payment, self._provider(payment.provider_id))
        shipping = order["shipping"]
        event = {
            "order_id": order["id"], "customer_id": order["customer_id"],
            "phone": order["phone"], "total": order["total"], "currency": order["currency"],
            "status": order["status"], "payment_provider_id": payment.provider_id, "locale": order["locale"],
            "shipping": {"provider_id": shipping.get("provider_id"), "option_id": shipping.get("option_id"),
                         "name": shipping.get("name"), "amount": order["shipping_total"]},
        }
        return cart, lines, payment, order, event

    def _complete_pg(self, conn: Connection, cart_id: str, customer_id: str | None, actor: str, check_owner: bool,
                     return_url: str | None, *, lock: bool) -> tuple[CheckoutResult, PaymentRequest] | None:
        """PostgreSQL: the cart read (under its lock with ``lock``), then :func:`_complete_statement`'s
        statement. ``None``: the cart or its payment session changed since it was read (nothing
        written); :class:`~toolbox_core.inventory.service.OutOfStock` when the stock is short."""
        cart, lines, payment, order, event = self._prepare(conn, cart_id, customer_id, check_owner, lock)
        wanted = self._wanted(lines)
        skus = sorted(wanted)
        changes = {c: v for c, v in cart.changes.items() if c in cart_rows.WRITABLE}  # an adoption, a phone
        at = order["updated_at"]
        params: dict[str, Any] = {f"o_{c}": order[c] for c in _ORDER_COLUMNS}
        for n, item in enumerate(self._items(order, lines)):
            params.update({f"i{n}_{c}": item[c] for c in _ITEM_COLUMNS})
        params.update({f"c_{c}": v for c, v in changes.items()})
        params.update(at=at, actor=actor, message="order {number} placed", b_id=payment.id, b_order=order["id"],
                      b_amount=order["total"], b_seen=cart.updated_at, e_id=new_id("evt"), e_payload=event,
                      w_skus=skus, w_quantities=[wanted[sku] for sku in skus],
                      w_ids=[new_id("resv") for _ in skus], w_count=len(skus))
        row = fast.execute(conn, _complete_statement(len(lines), tuple(sorted(changes))), params).one()
        if row.number is None:
            if row.gate == 0:
                return None
            short = inventory.shortage(conn, wanted)
            if not short:  # stock came back meanwhile: try again
                return None
            raise inventory.OutOfStock("not enough stock for some items", details={"items": short})
        order["number"] = str(row.number)
        cart.set(status="completed", order_id=order["id"], completed_at=at)
        cart.changes = {}
        return self._placed(order, payment, lines, return_url)

    def _complete_sqlite(self, session: Session, cart_id: str, customer_id: str | None, actor: str,
                         check_owner: bool, return_url: str | None) -> tuple[CheckoutResult, PaymentRequest]:
        """SQLite (the writer lock serializes transactions): one statement per step."""
        cart, lines, payment, order, event = self._prepare(session, cart_id, customer_id, check_owner, True)
        cart_rows.save(session, cart)  # an adoption or phone taken under the lock (rare: usually nothing)
        self._create_order(session, order, lines)
        self._attach_payment(session, cart, order, payment)
        inventory.reserve(session, order["id"], self._wanted(lines))
        order["number"] = number_order(session, order["id"], kind="placed", message="order {number} placed",
                                       actor=actor)
        emit(session, "order.placed", {**event, "number": order["number"]})
        return self._placed(order, payment, lines, return_url)

    # -------------------------------------------------------------- steps
    def _validate(self, db: Session | Connection, cart_id: str, customer_id: str | None, check_owner: bool,
                  lock: bool) -> tuple[CartRow, dict[str, VariantSnapshot]]:
        """The cart (locked with ``lock``) with its lines' snapshots (one statement on PostgreSQL), if complete."""
        cart, catalog = load_cart(self.toolbox, db, cart_id, customer_id, lock=lock, any_owner=not check_owner)
        if check_owner and customer_id and cart.customer_id is None:
            adopt(db, cart, customer_id)
        if not cart.phone and cart.customer_id:  # a cart linked before it took the customer's phone
            cart.set(phone=customer_phone(db, cart.customer_id))
        missing = []
        if not cart.lines:
            missing.append("lines")
        if not cart.phone:
            missing.append("phone")
        if not cart.shipping:
            missing.append("shipping")
        elif cart.shipping.get("requires_address", True) and not cart.address:
            missing.append("address")
        if not cart.payment_provider_id:
            missing.append("payment")
        if missing:
            raise CheckoutIncomplete(f"the cart is missing: {', '.join(missing)}", details={"missing": missing})
        return cart, catalog.snapshots(cart_locale(cart.locale))

    @staticmethod
    def _priced_lines(cart: CartRow, snaps: dict[str, VariantSnapshot]) -> list[tuple[LineView, str]]:
        gone = [ln.variant_id for ln in cart.lines if ln.variant_id not in snaps or not snaps[ln.variant_id].published]
        if gone:
            raise Conflict("some items are no longer sold; remove them", code="item_unavailable",
                           details={"variant_ids": gone})
        return [(line_view(ln, snaps[ln.variant_id]), snaps[ln.variant_id].product_id) for ln in cart.lines]

    @staticmethod
    def _wanted(lines: list[tuple[LineView, str]]) -> dict[str, int]:
        wanted: dict[str, int] = {}
        for line, _ in lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        return wanted

    @staticmethod
    def _payment_session(cart: CartRow) -> PaymentRef:
        """The cart's pending payment session, read with the locked cart (attaching it re-checks
        that it is still pending)."""
        payment = cart.payment
        if payment is None or payment.status != "pending":
            raise CheckoutIncomplete("choose a payment method first", details={"missing": ["payment"]})
        return payment

    def _provider(self, provider_id: str) -> Any:
        provider = self.toolbox.payment_providers.get(provider_id)
        if provider is None:
            raise CheckoutIncomplete(f"payment provider {provider_id!r} is not available; choose another",
                                     details={"missing": ["payment"]})
        return provider

    def _order(self, cart: CartRow, lines: list[tuple[LineView, str]], payment: PaymentRef,
               provider: Any) -> dict[str, Any]:
        """The order's column values with the prices of this moment (its number is drawn once
        stock is held).

        An online order waits ``provider.payment_timeout_seconds`` (when the provider sets it)
        or the ``checkout.payment_timeout_seconds`` setting for its payment.
        """
        online = bool(provider.online)
        timeout = getattr(provider, "payment_timeout_seconds", None) \
            or self.toolbox.settings.checkout.payment_timeout_seconds
        subtotal = sum(line.total for line, _ in lines)
        shipping_total = int(cart.shipping["amount"])
        now = utcnow()
        return {
            "id": new_id("ord"), "number": None, "cart_id": cart.id, "customer_id": cart.customer_id,
            "status": "pending_payment" if online else "placed", "payment_status": "awaiting",
            "fulfillment_status": "unfulfilled", "locale": cart.locale, "phone": cart.phone, "email": cart.email,
            "address": cart.address, "shipping": self._shipping_at_purchase(cart), "currency": payment.currency,
            "subtotal": subtotal, "shipping_total": shipping_total, "discount_total": 0,
            "total": subtotal + shipping_total, "payment_provider_id": payment.provider_id,
            "payment_expires_at": now + timedelta(seconds=int(timeout)) if online else None,
            "created_at": now, "updated_at": now,
        }

    @staticmethod
    def _items(order: dict[str, Any], lines: list[tuple[LineView, str]]) -> list[dict[str, Any]]:
        return [
            {"id": new_id("oitem"), "order_id": order["id"], "position": position, "variant_id": line.variant_id,
             "product_id": product_id, "sku": line.sku, "title": line.title, "quantity": line.quantity,
             "unit_price": line.unit_price, "total": line.total, "weight_grams": line.weight_grams or 0,
             "mxik_code": line.mxik_code, "package_code": line.package_code, "vat_percent": line.vat_percent}
            for position, (line, product_id) in enumerate(lines)
        ]

    def _create_order(self, session: Session, order: dict[str, Any], lines: list[tuple[LineView, str]]) -> None:
        """Insert the order and its items (two statements; SQLite)."""
        session.execute(_INSERT_ORDER, order)
        session.execute(_INSERT_ITEMS, self._items(order, lines))

    def _shipping_at_purchase(self, cart: CartRow) -> dict[str, Any]:
        """The chosen option, plus the delivery service's fiscal codes of this moment (for receipts)."""
        checkout = self.toolbox.settings.checkout
        return {**cart.shipping, "fiscal": {"mxik_code": checkout.shipping_mxik_code,
                                            "package_code": checkout.shipping_package_code,
                                            "vat_percent": checkout.shipping_vat_percent}}

    @staticmethod
    def _attach_payment(session: Session, cart: CartRow, order: dict[str, Any], payment: PaymentRef) -> None:
        """The payment session becomes the order's (only if still pending) and the cart is
        completed (one core ``UPDATE`` each; SQLite)."""
        if session.connection().execute(_ATTACH_PAYMENT, {"b_id": payment.id, "b_order": order["id"],
                                                          "b_amount": order["total"]}).rowcount != 1:
            raise CheckoutIncomplete("choose a payment method first", details={"missing": ["payment"]})
        cart.set(status="completed", order_id=order["id"], completed_at=utcnow())
        cart_rows.save(session, cart)

    @staticmethod
    def _sync_payment(session: Session, result: CheckoutResult) -> None:
        """A gateway workflow may hold the payment session's object in this session: it now
        belongs to the order (as committed; nothing left for the unit of work)."""
        held = session.identity_map.get(identity_key(Payment, result.payment_id))
        if held is not None:
            set_committed_value(held, "order_id", result.order_id)
            set_committed_value(held, "amount", result.total)

    def _placed(self, order: dict[str, Any], payment: PaymentRef, lines: list[tuple[LineView, str]],
                return_url: str | None) -> tuple[CheckoutResult, PaymentRequest]:
        """What a placed order answers, and what its payment provider will be asked."""
        result = CheckoutResult(order["id"], order["number"], order["status"], payment.id, payment.provider_id,
                                order["total"])
        return result, self._payment_request(order, payment, lines, return_url)

    def _payment_request(self, order: dict[str, Any], payment: PaymentRef, lines: list[tuple[LineView, str]],
                         return_url: str | None) -> PaymentRequest:
        return PaymentRequest(payment_id=payment.id, order_id=order["id"], order_number=order["number"],
                              amount=order["total"], currency=order["currency"], locale=order["locale"],
                              lines=tuple(line for line, _ in lines), shipping_amount=order["shipping_total"],
                              phone=order["phone"], return_url=return_url)

    # -------------------------------------------------------------- after commit
    def initiate(self, request: PaymentRequest, result: CheckoutResult) -> dict[str, Any]:
        """Step 6: ask the provider for the client's next step (the action, also kept on the
        payment); on failure, undo the order (502 ``payment_provider_error``)."""
        provider = self._provider(result.provider_id)
        try:
            action = asdict(resolve(provider.initiate(request)))
        except Exception as exc:
            self._compensate(result.order_id, reason=f"payment initiation failed: {type(exc).__name__}")
            raise ToolboxError("the payment provider is unavailable; choose another payment method",
                               code="payment_provider_error", status=502,
                               details={"provider_id": result.provider_id}) from exc
        if action["kind"] != "none":  # nothing to remember for pay-on-delivery
            params = {"b_id": request.payment_id, "action": action}
            with self.toolbox.db.statements(write=True) as conn:  # one UPDATE, atomic on its own
                conn.execute(_SET_ACTION, params)
        return action

    def _compensate(self, order_id: str, *, reason: str) -> None:
        """Undo a placed order whose payment could not start: cancel it, release stock, reopen the cart."""
        with self.toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            if order.status not in ("pending_payment", "placed") or order.payment_status != "awaiting":
                return
            cancel_in_session(session, order, payment, reason=reason, actor="system")
            cart = session.scalar(select(Cart).where(Cart.id == order.cart_id).with_for_update())
            if cart is not None:
                cart.status = "open"
                cart.order_id = None
                cart.completed_at = None

    # -------------------------------------------------------------- retried complete
    def completed(self, cart_id: str, customer_id: str | None) -> CheckoutResult:
        """The order a completed cart became, as :meth:`complete` answered it (for a retried complete).

        Ownership is checked as for an open cart; a cart that is not completed raises its usual
        error (``cart_not_completed`` when it is open). While the first request is still asking
        the gateway for its next step, 409 ``checkout_in_progress`` (retry in a moment).
        """
        with self.toolbox.db.session() as session:
            order, payment = _completed_order(session, cart_id, customer_id)
            return completed_result(order, payment, self._online(payment.provider_id))

    def completed_order(self, cart_id: str, customer_id: str | None) -> dict[str, Any]:
        """``{id, number, status}`` of the order a completed cart became (same checks as :meth:`completed`)."""
        with self.toolbox.db.session() as session:
            order, _ = _completed_order(session, cart_id, customer_id)
            return {"id": order.id, "number": order.number, "status": order.status}

    def _online(self, provider_id: str) -> bool:
        provider = self.toolbox.payment_providers.get(provider_id)
        return bool(provider is not None and provider.online)


def _completed_order(session: Session, cart_id: str, customer_id: str | None) -> tuple[Order, Payment]:
    cart = session.get(Cart, cart_id)
    if cart is None:
        raise NotFound("no such cart", code="cart_not_found", details={"cart_id": cart_id})
    try:
        check_usable(cart, customer_id)  # another customer's cart, an expired one: its error
    except CartCompleted:
        pass
    else:
        raise Conflict("this cart has not been completed", code="cart_not_completed", details={"cart_id": cart_id})
    order = session.get(Order, cart.order_id) if cart.order_id else None
    payment = session.scalar(select(Payment).where(Payment.order_id == order.id)) if order else None
    if order is None or payment is None:
        raise NotFound("the cart's order is gone", code="order_not_found", details={"cart_id": cart_id})
    return order, payment


def completed_result(order: Order, payment: Payment, online: bool) -> CheckoutResult:
    """The :class:`CheckoutResult` of an order already placed (its current status, the stored action)."""
    action = payment.action
    if action is None:
        if online:  # the first request has not stored the gateway's next step yet
            raise Conflict("the order is being placed; retry in a moment", code="checkout_in_progress",
                           details={"order_id": order.id})
        action = asdict(PaymentAction(kind="none"))
    return CheckoutResult(order.id, order.number or "", order.status, payment.id, payment.provider_id, order.total,
                          action=dict(action))
